"""ARM's core surface for one cloud: subscription, tenant, resource group, the listings of the seeded registry and
storage account (each resource's own routes are in registries.py and storage_accounts.py), and the subscription-wide
resource listings `az acr` and `az keyvault` use to find a resource's group by name.
"""
import re

from aiohttp import web

from ..plumbing.config import CloudConfig
from .http_common import arm_error, ci_path, json_response
from ..plumbing.store import ResourceStore
from ..rules.resources import (REGISTRY_TYPE, STORAGE_TYPE, VAULT_TYPE, resource_group_document, subscription_document,
                               tenant_document)


def _generic_resource(doc: dict) -> dict:
    return {key: doc[key] for key in ("id", "name", "type", "location", "tags", "sku", "kind") if key in doc}


RESOURCE_TYPE_FILTER = re.compile(r"resourceType\s+eq\s+'([^']*)'", re.IGNORECASE)


class FilterNotUnderstood(ValueError):
    pass


def _type_filter(filter_text: str):
    """The resource type in `resourceType eq 'X'` (the only filter az sends here), or None."""
    if "resourcetype" not in filter_text.lower():
        return None
    match = RESOURCE_TYPE_FILTER.search(filter_text)
    if not match:
        raise FilterNotUnderstood(filter_text)
    return match.group(1).lower()


def build_core_routes(cloud: CloudConfig, store: ResourceStore) -> web.RouteTableDef:
    routes = web.RouteTableDef()
    sub_path = "/subscriptions/{subscription}"

    def wrong_subscription(request):
        if request.match_info["subscription"].lower() != cloud.subscription_id:
            return arm_error(404, "SubscriptionNotFound",
                             f"The subscription '{request.match_info['subscription']}' could not be found.")
        return None

    def wrong_group(request):
        if request.match_info["group"].lower() != cloud.resource_group.lower():
            return arm_error(404, "ResourceGroupNotFound",
                             f"Resource group '{request.match_info['group']}' could not be found.")
        return wrong_subscription(request)

    @routes.get(ci_path("/subscriptions"))
    async def list_subscriptions(_request):
        return json_response({"value": [subscription_document(cloud)], "count": {"type": "Total", "value": 1}})

    @routes.get(ci_path(sub_path))
    async def get_subscription(request):
        return wrong_subscription(request) or json_response(subscription_document(cloud))

    @routes.get(ci_path("/tenants"))
    async def list_tenants(_request):
        return json_response({"value": [tenant_document(cloud)]})

    @routes.get(ci_path(sub_path + "/resourceGroups"))
    async def list_groups(request):
        return wrong_subscription(request) or json_response({"value": [resource_group_document(cloud)]})

    @routes.get(ci_path(sub_path + "/resourceGroups/{group}"))
    async def get_group(request):
        return wrong_group(request) or json_response(resource_group_document(cloud))

    @routes.get(ci_path(sub_path + "/resources"))
    async def list_resources(request):
        try:
            wanted = _type_filter(request.query.get("$filter", ""))
        except FilterNotUnderstood:
            # A guess at ARM's answer to a $filter it cannot parse.
            return arm_error(400, "InvalidFilterInQueryString", "The $filter '{}' is not supported here: use "
                                                                "resourceType eq '<type>'.".format(
                                                                    request.query["$filter"][:200]))
        in_subscription = f"/subscriptions/{cloud.subscription_id}"
        # Tracked top-level resources only, as ARM lists them (no child resources, no role assignments).
        docs = [d for d in store.all_resources() if d["id"].lower().startswith(in_subscription)
                and d["type"] in (REGISTRY_TYPE, VAULT_TYPE, STORAGE_TYPE)
                and (wanted is None or d["type"].lower() == wanted)]
        return wrong_subscription(request) or json_response({"value": [_generic_resource(d) for d in docs]})

    # The listings read the stored documents: what `az acr update` or `az storage account update` changed shows.
    @routes.get(ci_path(sub_path + "/providers/Microsoft.ContainerRegistry/registries"))
    async def list_registries(request):
        return wrong_subscription(request) or json_response({"value": [store.get(cloud.registry_id)]})

    @routes.get(ci_path(sub_path + "/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/registries"))
    async def list_group_registries(request):
        return wrong_group(request) or json_response({"value": [store.get(cloud.registry_id)]})

    @routes.get(ci_path(sub_path + "/providers/Microsoft.Storage/storageAccounts"))
    async def list_storage_accounts(request):
        return wrong_subscription(request) or json_response({"value": [store.get(cloud.storage_account_id)]})

    @routes.get(ci_path(sub_path + "/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts"))
    async def list_group_storage_accounts(request):
        return wrong_group(request) or json_response({"value": [store.get(cloud.storage_account_id)]})

    return routes
