"""Microsoft.ContainerRegistry/registries/{name} for one cloud: GET and the PATCH `az acr update` sends (`--sku`,
`--public-network-enabled`, `--allow-exports`), held to the service's export-policy rules (rules/network.py):
the policy can be disabled only with public network access disabled and no export pipeline on the registry.
"""
import copy

from aiohttp import web

from . import bodies
from ..plumbing.config import CloudConfig
from ..plumbing.store import ResourceStore
from ..rules.network import registry_update_error
from ..rules.pipelines import EXPORT
from ..rules.resources import REGISTRY_TYPE
from .http_common import arm_error, ci_path, json_response, resource_not_found

REGISTRY_PATH = ("/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/"
                 "registries/{name}")
SKU_TIERS = {"basic": "Basic", "standard": "Standard", "premium": "Premium"}
# What a PATCH may change here (RegistryPropertiesUpdateParameters, the part the sandbox models).
UPDATABLE = ("publicNetworkAccess", "networkRuleSet", "networkRuleBypassOptions", "adminUserEnabled",
             "anonymousPullEnabled", "dataEndpointEnabled")


def build_registry_resource_routes(cloud: CloudConfig, store: ResourceStore) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def registry_or_404(request):
        doc = store.get(request.path)
        if doc is None or doc["id"].lower() != cloud.registry_id.lower():
            return None, resource_not_found(REGISTRY_TYPE, request.match_info["name"], request.match_info["group"])
        return doc, None

    @routes.get(ci_path(REGISTRY_PATH))
    async def get_registry(request):
        doc, error = registry_or_404(request)
        return error or json_response(doc)

    @routes.patch(ci_path(REGISTRY_PATH))
    async def update_registry(request):
        doc, error = registry_or_404(request)
        if error:
            return error
        body = await bodies.read(request, bodies.REGISTRY_UPDATE)
        updated = _updated(doc, body)
        export_pipelines = [p["name"] for p in store.children(doc["id"], EXPORT.collection)]
        refusal = registry_update_error(doc, updated, export_pipelines)
        if refusal:
            return arm_error(400, *refusal)
        store.put(updated["id"], updated)
        return json_response(updated)

    return routes


def _updated(stored: dict, body: dict) -> dict:
    """A copy of `stored` with the PATCH applied (the rules compare the two)."""
    doc = copy.deepcopy(stored)
    given = body.get("properties") or {}
    props = doc["properties"]
    for key in UPDATABLE:
        if key in given:
            props[key] = given[key]
    export_policy = (given.get("policies") or {}).get("exportPolicy")
    if export_policy and "status" in export_policy:
        props.setdefault("policies", {})["exportPolicy"] = {"status": export_policy["status"].lower()}
    if "sku" in body:
        tier = SKU_TIERS[body["sku"]["name"].lower()]
        doc["sku"] = {"name": tier, "tier": tier}
    if "tags" in body:
        doc["tags"] = body["tags"]
    return doc
