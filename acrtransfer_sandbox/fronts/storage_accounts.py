"""Microsoft.Storage/storageAccounts for one cloud: GET, the PATCH/PUT `az storage account update` sends (network
access, firewall, shared key access), listKeys (what az asks for when a storage command gets only
`--account-name`, and `check` in ManagedIdentity mode) and regenerateKey (`az storage account keys renew`).

The keys are the Azurite account's own. A renewed key replaces the old one in the sandbox's credentials; then
`on_key_renewed` saves them and restarts Azurite with the new key (Azurite reads its keys only at start; see
runtime/storage_service.py): from then on storage itself refuses a SAS signed with the old key,
403 AuthenticationFailed, as Azure does. The rules are in rules/storage_accounts.py.
"""
import asyncio
from typing import Callable, Optional

from aiohttp import web

from . import bodies
from ..plumbing.config import CloudConfig
from ..plumbing.credentials import SandboxCredentials
from ..plumbing.store import ResourceStore
from ..rules.resources import STORAGE_TYPE
from ..rules.storage_accounts import apply_update, key_name_of, keys_answer, new_key, renewed
from .http_common import arm_error, ci_path, json_response, stored_or_404

ACCOUNT_PATH = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}"


def build_storage_account_routes(cloud: CloudConfig, store: ResourceStore, credentials: SandboxCredentials,
                                 on_key_renewed: Optional[Callable[[CloudConfig], None]] = None) -> web.RouteTableDef:
    """`on_key_renewed(cloud)` makes a key replaced in `credentials` take effect (saves it, restarts storage)."""
    routes = web.RouteTableDef()

    def account_or_404(request, suffix: str = ""):
        account_id = request.path[: len(request.path) - len(suffix)] if suffix else request.path
        return stored_or_404(store, request, STORAGE_TYPE, account_id, only_id=cloud.storage_account_id)

    @routes.get(ci_path(ACCOUNT_PATH))
    async def get_account(request):
        doc, error = account_or_404(request)
        return error or json_response(doc)

    @routes.patch(ci_path(ACCOUNT_PATH))
    @routes.put(ci_path(ACCOUNT_PATH))
    async def update_account(request):
        # Only the existing account: the sandbox's accounts come from its configuration.
        doc, error = account_or_404(request)
        if error:
            return error
        body = await bodies.read(request, bodies.STORAGE_ACCOUNT_UPDATE)
        doc = apply_update(doc, body.get("properties") or {})
        if "tags" in body:
            doc["tags"] = body["tags"]
        store.put(doc["id"], doc)
        return json_response(doc)

    @routes.post(ci_path(ACCOUNT_PATH + "/listKeys"))
    async def list_keys(request):
        doc, error = account_or_404(request, "/listKeys")
        return error or json_response(keys_answer(doc, credentials.account_keys(cloud.name)))

    @routes.post(ci_path(ACCOUNT_PATH + "/regenerateKey"))
    async def regenerate_key(request):
        doc, error = account_or_404(request, "/regenerateKey")
        if error:
            return error
        body = await bodies.read(request, bodies.REGENERATE_KEY)
        try:
            key_name = key_name_of(body["keyName"])
        except ValueError as exc:
            return arm_error(400, "InvalidValuesForRequestParameters", str(exc))
        credentials.replace_account_key(cloud.name, key_name, new_key())
        if on_key_renewed is not None:
            # Saving the key and restarting storage take a second or two: off the event loop.
            await asyncio.get_running_loop().run_in_executor(None, on_key_renewed, cloud)
        doc = renewed(doc, key_name)
        store.put(doc["id"], doc)
        return json_response(keys_answer(doc, credentials.account_keys(cloud.name)))

    return routes
