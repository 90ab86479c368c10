"""Microsoft.Storage/storageAccounts/{name}/listKeys for one cloud: what az asks ARM for when a storage command
gets an account name and no credential (`az storage ... --account-name`), and what `check` falls back to in
ManagedIdentity mode. The key is the Azurite account's own, so what it signs, Azurite accepts."""
from aiohttp import web

from ..plumbing.config import CloudConfig
from ..rules.resources import STORAGE_TYPE
from .http_common import ci_path, json_response, resource_not_found


def build_storage_key_routes(cloud: CloudConfig, account_key: str) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post(ci_path("/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Storage/"
                         "storageAccounts/{name}/listKeys"))
    async def list_keys(request):
        account_id = request.path.rsplit("/", 1)[0]
        if account_id.lower() != cloud.storage_account_id.lower():
            return resource_not_found(STORAGE_TYPE, request.match_info["name"], request.match_info["group"])
        return json_response({"keys": [{"keyName": "key1", "value": account_key, "permissions": "FULL",
                                        "creationTime": "2026-01-01T00:00:00.0000000Z"}]})

    return routes
