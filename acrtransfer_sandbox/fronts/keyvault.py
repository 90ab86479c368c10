"""Key Vault for one cloud: Microsoft.KeyVault/vaults (GET, PUT, PATCH and the accessPolicies update that
`az keyvault set-policy` sends) and the secrets data plane on the vault's own HTTPS port.

Authorization follows the vault's model, as Key Vault does: with access policies (enableRbacAuthorization false,
the seeded default) a principal may read a secret only if a policy grants it secret `get`; with Azure RBAC
(`az keyvault update --enable-rbac-authorization true`) only if it holds a secrets-reading role on the vault
(e.g. Key Vault Secrets User). Those rules live in rules/vaults.py, where the run executor asks them too.
"""
from aiohttp import web

from . import bodies
from ..plumbing.config import LOCATION, VAULT_AUDIENCE, CloudConfig
from ..plumbing.store import ResourceStore
from ..plumbing.tokens import TokenIssuer
from ..rules.roles import assigned_role_names
from ..rules.resources import VAULT_TYPE
from ..rules.vaults import (SECRET_READER_ROLES, SECRET_WRITER_ROLES, has_secret_permission, new_secret_version,
                            pick_version)
from .http_common import (CALLER_CLAIMS_KEY, PATH_NOT_NORMALISED, arm_error, bearer_auth_middleware, ci_path,
                          json_response, normalised_paths_middleware, stored_or_404, access_log_middleware)


def build_vault_management_routes(store: ResourceStore) -> web.RouteTableDef:
    routes = web.RouteTableDef()
    vault_path = ci_path("/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                         "Microsoft.KeyVault/vaults/{name}")

    def vault_or_404(request):
        return stored_or_404(store, request, VAULT_TYPE)

    @routes.get(vault_path)
    async def get_vault(request):
        doc, error = vault_or_404(request)
        return error or json_response(doc)

    @routes.get(ci_path("/subscriptions/{subscription}/providers/Microsoft.KeyVault/vaults"))
    @routes.get(ci_path("/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults"))
    async def list_vaults(request):
        # Both clouds share the store: only the vaults under the listed subscription (or group).
        under = request.path.lower().split("/providers/", 1)[0] + "/"
        return json_response({"value": [d for d in store.all_resources()
                                        if d["type"] == VAULT_TYPE and d["id"].lower().startswith(under)]})

    @routes.put(vault_path)
    @routes.patch(vault_path)
    async def update_vault(request):
        # Only existing vaults: the sandbox's vaults come from its configuration.
        doc, error = vault_or_404(request)
        if error:
            return error
        body = await bodies.read(request, bodies.VAULT)
        given = body.get("properties") or {}
        kept = {"vaultUri": doc["properties"]["vaultUri"], "provisioningState": "Succeeded"}
        doc["properties"] = {**doc["properties"], **given, **kept}
        doc["tags"] = body.get("tags", doc.get("tags", {}))
        store.put(doc["id"], doc)
        return json_response(doc)

    @routes.put(vault_path[: -len("{name}")] + "{name}/accessPolicies/{operation}")
    async def update_access_policy(request):
        doc, error = vault_or_404_by_name(store, request)
        if error:
            return error
        if request.match_info["operation"].lower() not in ("add", "replace", "remove"):
            return arm_error(400, "BadRequest", f"The access policy operation '{request.match_info['operation']}' is "
                                                "not valid; use add, replace or remove.")
        given = (await bodies.read(request, bodies.ACCESS_POLICY_UPDATE))["properties"]["accessPolicies"]
        doc["properties"]["accessPolicies"] = _apply_policy_operation(
            doc["properties"].get("accessPolicies") or [], given, request.match_info["operation"].lower())
        store.put(doc["id"], doc)
        return json_response({"id": doc["id"] + "/accessPolicies", "type": VAULT_TYPE + "/accessPolicies",
                              "properties": {"accessPolicies": doc["properties"]["accessPolicies"]}})

    return routes


def vault_or_404_by_name(store: ResourceStore, request):
    return stored_or_404(store, request, VAULT_TYPE, request.path.rsplit("/accessPolicies/", 1)[0])


def _apply_policy_operation(current: list, given: list, operation: str) -> list:
    by_object = {p["objectId"].lower(): p for p in current}
    for policy in given:
        key = policy["objectId"].lower()
        if operation == "remove":
            by_object.pop(key, None)
        elif operation == "add" and key in by_object:
            merged = by_object[key].setdefault("permissions", {})
            for kind, perms in (policy.get("permissions") or {}).items():
                merged[kind] = sorted(set(merged.get(kind) or []) | set(perms or []))
        else:
            by_object[key] = policy
    return list(by_object.values())


def make_secrets_app(cloud: CloudConfig, store: ResourceStore, issuer: TokenIssuer) -> web.Application:
    """The vault's data plane: /secrets/{name}[/{version}] (GET), /secrets/{name} (PUT), /secrets (GET)."""
    challenge = f'Bearer authorization="{cloud.front_url}/{cloud.tenant_id}", resource="{VAULT_AUDIENCE}"'
    not_normalised = normalised_paths_middleware(lambda: arm_error(400, "BadParameter", PATH_NOT_NORMALISED))
    app = web.Application(middlewares=[access_log_middleware, not_normalised, bearer_auth_middleware(
        issuer, cloud.tenant_id, VAULT_AUDIENCE, lambda request: False, challenge)])
    routes = web.RouteTableDef()

    def vault():
        return store.get(cloud.vault_id)

    def denied(request, permission):
        oid = request[CALLER_CLAIMS_KEY].get("oid", "")
        if vault()["properties"].get("enableRbacAuthorization"):
            wanted = SECRET_READER_ROLES if permission in ("get", "list") else SECRET_WRITER_ROLES
            if assigned_role_names(store, oid, cloud.vault_id) & wanted:
                return None
            return arm_error(403, "Forbidden", f"Caller is not authorized to perform action on resource. Caller: "
                                               f"oid={oid}; Action: 'Microsoft.KeyVault/vaults/secrets/{permission}'; "
                                               f"Resource: '{cloud.vault_id.lower()}'. Inner error: ForbiddenByRbac")
        if has_secret_permission(vault(), oid, permission):
            return None
        app_id = request[CALLER_CLAIMS_KEY].get("appid")
        return arm_error(403, "Forbidden", f"The user, group or application 'appid={app_id};"
                                           f"oid={oid}' does not have secrets {permission} permission on key vault "
                                           f"'{cloud.vault_name};location={LOCATION}'.")

    def secret_bundle(name: str, version: dict) -> dict:
        return {"value": version["value"], "id": f"{cloud.vault_url}secrets/{name}/{version['version']}",
                "contentType": version.get("contentType"), "tags": version.get("tags") or {},
                "attributes": {"enabled": True, "created": version["created"], "updated": version["updated"],
                               "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}}

    @routes.get("/secrets/{name}")
    @routes.get("/secrets/{name}/")
    @routes.get("/secrets/{name}/{version}")
    async def get_secret(request):
        error = denied(request, "get")
        if error:
            return error
        name = request.match_info["name"]
        if bodies.check_secret_name(name):
            return arm_error(400, "BadParameter", bodies.check_secret_name(name))
        chosen = pick_version(store.secret_versions(cloud.vault_id, name), request.match_info.get("version") or None)
        if chosen is None:
            return arm_error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
        return json_response(secret_bundle(name, chosen))

    @routes.put("/secrets/{name}")
    async def set_secret(request):
        error = denied(request, "set")
        if error:
            return error
        if bodies.check_secret_name(request.match_info["name"]):
            return arm_error(400, "BadParameter", bodies.check_secret_name(request.match_info["name"]))
        body = await bodies.read(request, bodies.SECRET_SET, code="BadParameter")
        version = new_secret_version(body["value"], body.get("tags") or {}, body.get("contentType"))
        store.add_secret_version(cloud.vault_id, request.match_info["name"], version)
        return json_response(secret_bundle(request.match_info["name"], version))

    @routes.get("/secrets")
    async def list_secrets(request):
        error = denied(request, "list")
        if error:
            return error
        names = store.secret_names(cloud.vault_id)
        return json_response({"value": [{"id": f"{cloud.vault_url}secrets/{n}", "attributes": {"enabled": True}}
                                        for n in names], "nextLink": None})

    app.add_routes(routes)
    return app
