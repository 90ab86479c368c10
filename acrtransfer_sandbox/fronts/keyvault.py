"""Key Vault for one cloud: Microsoft.KeyVault/vaults (GET, PUT, PATCH and the accessPolicies update that
`az keyvault set-policy` sends) and the secrets data plane on the vault's own HTTPS port.

Authorization follows the vault's model, as Key Vault does: with access policies (enableRbacAuthorization false,
the seeded default) a principal may read a secret only if a policy grants it secret `get`; with Azure RBAC
(`az keyvault update --enable-rbac-authorization true`) only if it holds a secrets-reading role on the vault
(e.g. Key Vault Secrets User). The run executor asks `secret_for_principal`.
"""
import time
import uuid
from typing import Optional
from urllib.parse import urlparse

from aiohttp import web

from . import bodies
from .authorization import assigned_role_names
from ..plumbing.config import LOCATION, SECRET_NAME, VAULT_AUDIENCE, CloudConfig
from .http_common import (CALLER_CLAIMS_KEY, PATH_NOT_NORMALISED, arm_error, bearer_auth_middleware, ci_path,
                          json_response, normalised_paths_middleware, resource_not_found, utc_now,
                          access_log_middleware)
from ..plumbing.store import ResourceStore
from ..plumbing.tokens import TokenIssuer

VAULT_TYPE = "Microsoft.KeyVault/vaults"
ALL_SECRET_PERMISSIONS = ["get", "list", "set", "delete", "backup", "restore", "recover", "purge"]
SECRET_READER_ROLES = {"Key Vault Secrets User", "Key Vault Secrets Officer", "Key Vault Administrator"}
SECRET_WRITER_ROLES = {"Key Vault Secrets Officer", "Key Vault Administrator"}


class KeyVaultAccessDenied(Exception):
    """The principal has no secret `get` on the vault: the run fails with this message (no secret in it)."""


class KeyVaultSecretMissing(Exception):
    pass


def vault_document(cloud: CloudConfig) -> dict:
    """The seeded vault: access policies grant the operator (the service principal az logs in as) full secret
    rights, as the vault's creator would have; pipeline identities get nothing until set-policy."""
    return {"id": cloud.vault_id, "name": cloud.vault_name, "type": VAULT_TYPE, "location": LOCATION, "tags": {},
            "systemData": {"createdBy": cloud.client_id, "createdByType": "Application", "createdAt": utc_now()},
            "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": cloud.tenant_id,
                           "accessPolicies": [{"tenantId": cloud.tenant_id, "objectId": cloud.operator_object_id,
                                               "permissions": {"keys": [], "secrets": ALL_SECRET_PERMISSIONS,
                                                               "certificates": [], "storage": []}}],
                           "enabledForDeployment": False, "enabledForDiskEncryption": False,
                           "enabledForTemplateDeployment": False, "enableSoftDelete": True,
                           "softDeleteRetentionInDays": 90, "enableRbacAuthorization": False,
                           "vaultUri": cloud.vault_url, "provisioningState": "Succeeded",
                           "publicNetworkAccess": "Enabled"}}


def seed_vault(store: ResourceStore, cloud: CloudConfig, sas_token: str) -> None:
    """Create the vault once (its access policies then persist) and store the SAS as its secret when absent.
    The vault URI follows the configured port, so a sandbox restarted on other ports still serves its vault."""
    vault = store.get(cloud.vault_id)
    if vault is None:
        store.put(cloud.vault_id, vault_document(cloud))
    elif vault["properties"]["vaultUri"] != cloud.vault_url:
        vault["properties"]["vaultUri"] = cloud.vault_url
        store.put(cloud.vault_id, vault)
    if not store.secret_versions(cloud.vault_id, SECRET_NAME):
        store.add_secret_version(cloud.vault_id, SECRET_NAME, _new_version(sas_token, {}, "SAS token for ACR Transfer"))


def _new_version(value: str, tags: dict, content_type: Optional[str]) -> dict:
    now = int(time.time())
    return {"version": uuid.uuid4().hex, "value": value, "tags": tags or {}, "contentType": content_type,
            "created": now, "updated": now}


def _has_secret_permission(vault: dict, object_id: str, permission: str) -> bool:
    return any(policy.get("objectId", "").lower() == object_id.lower()
               and permission in [p.lower() for p in (policy.get("permissions") or {}).get("secrets") or []]
               for policy in vault["properties"].get("accessPolicies") or [])


def find_vault_by_uri(store: ResourceStore, secret_uri: str) -> Optional[dict]:
    netloc = urlparse(secret_uri).netloc.lower()
    for doc in store.all_resources():
        if doc["type"] == VAULT_TYPE and urlparse(doc["properties"]["vaultUri"]).netloc.lower() == netloc:
            return doc
    return None


def parse_secret_uri(secret_uri: str) -> tuple:
    """(name, version or None) from https://<vault>/secrets/<name>[/<version>]."""
    parts = [p for p in urlparse(secret_uri).path.split("/") if p]
    if len(parts) not in (2, 3) or parts[0].lower() != "secrets":
        raise KeyVaultSecretMissing(f"'{secret_uri}' is not a Key Vault secret URI (https://<vault>/secrets/<name>).")
    return parts[1], (parts[2] if len(parts) == 3 else None)


def secret_for_principal(store: ResourceStore, secret_uri: str, principal_id: str) -> str:
    """The secret's value when `principal_id` may get it; raises with the service's wording otherwise."""
    vault = find_vault_by_uri(store, secret_uri)
    if vault is None:
        raise KeyVaultSecretMissing(f"Key Vault request failed: (VaultNotFound) No vault serves '{secret_uri}' in "
                                    "this cloud. Status: 404 (Not Found)")
    if vault["properties"].get("enableRbacAuthorization"):
        if not assigned_role_names(store, principal_id, vault["id"]) & SECRET_READER_ROLES:
            raise KeyVaultAccessDenied(
                f"Key Vault request failed: (Forbidden) Caller is not authorized to perform action on resource. "
                f"If role assignments, deny assignments or role definitions were changed recently, please observe "
                f"propagation time. Caller: oid={principal_id}; Action: "
                f"'Microsoft.KeyVault/vaults/secrets/getSecret/action'; Resource: '{vault['id'].lower()}/secrets/"
                f"{parse_secret_uri(secret_uri)[0]}'. Status: 403 (Forbidden). Code: Forbidden. "
                "Inner error: ForbiddenByRbac")
    elif not _has_secret_permission(vault, principal_id, "get"):
        raise KeyVaultAccessDenied(
            f"Key Vault request failed: (Forbidden) The user, group or application 'oid={principal_id}' does not "
            f"have secrets get permission on key vault '{vault['name']};location={vault['location']}'. For help "
            "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287 "
            "Status: 403 (Forbidden). Code: Forbidden. Inner error: AccessDenied")
    name, version = parse_secret_uri(secret_uri)
    chosen = _pick_version(store.secret_versions(vault["id"], name), version)
    if chosen is None:
        raise KeyVaultSecretMissing(f"Key Vault request failed: (SecretNotFound) A secret with (name/id) "
                                    f"{name}{'/' + version if version else ''} was not found in this key vault. "
                                    "Status: 404 (Not Found)")
    return chosen["value"]


def _pick_version(versions: list, version: Optional[str]) -> Optional[dict]:
    if version is None:
        return versions[-1] if versions else None
    return next((v for v in versions if v["version"] == version.lower()), None)


def build_vault_management_routes(store: ResourceStore) -> web.RouteTableDef:
    routes = web.RouteTableDef()
    vault_path = ci_path("/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                         "Microsoft.KeyVault/vaults/{name}")

    def vault_or_404(request):
        doc = store.get(request.path)
        if doc is None:
            return None, resource_not_found(VAULT_TYPE, request.match_info["name"], request.match_info["group"])
        return doc, None

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
        doc["properties"] = ({**doc["properties"], **given, **kept} if request.method == "PATCH"
                             else {**doc["properties"], **given, **kept})
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
    vault_id = request.path.rsplit("/accessPolicies/", 1)[0]
    doc = store.get(vault_id)
    if doc is None:
        return None, resource_not_found(VAULT_TYPE, request.match_info["name"], request.match_info["group"])
    return doc, None


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
        if _has_secret_permission(vault(), oid, permission):
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
        chosen = _pick_version(store.secret_versions(cloud.vault_id, name), request.match_info.get("version") or None)
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
        version = _new_version(body["value"], body.get("tags") or {}, body.get("contentType"))
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
