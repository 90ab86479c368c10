"""Microsoft.ContainerRegistry/registries/{name} for one cloud: GET and the PATCH `az acr update` sends (`--sku`,
`--public-network-enabled`, `--allow-exports`), held to the service's export-policy rules (rules/network.py):
the policy can be disabled only with public network access disabled and no export pipeline on the registry.
"""
from aiohttp import web

from . import bodies
from ..plumbing.config import CloudConfig
from ..plumbing.store import ResourceStore
from ..rules.network import apply_registry_update, registry_update_error
from ..rules.pipelines import EXPORT
from ..rules.resources import REGISTRY_TYPE
from .http_common import arm_error, ci_path, json_response, stored_or_404

REGISTRY_PATH = ("/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/"
                 "registries/{name}")


def build_registry_resource_routes(cloud: CloudConfig, store: ResourceStore) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def registry_or_404(request):
        return stored_or_404(store, request, REGISTRY_TYPE, only_id=cloud.registry_id)

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
        updated = apply_registry_update(doc, body)
        export_pipelines = [p["name"] for p in store.children(doc["id"], EXPORT.collection)]
        refusal = registry_update_error(doc, updated, export_pipelines)
        if refusal:
            return arm_error(400, *refusal)
        store.put(updated["id"], updated)
        return json_response(updated)

    return routes
