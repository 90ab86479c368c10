"""Key Vaults as the cloud keeps them: the seeded vault, its secrets and their versions, and who may read a secret
(access policies, or Azure RBAC roles when the vault has enableRbacAuthorization)."""
import time
import uuid
from typing import Optional
from urllib.parse import urlparse

from ..plumbing.clock import utc_now
from ..plumbing.config import LOCATION, SECRET_NAME, CloudConfig
from ..plumbing.store import ResourceStore
from .resources import VAULT_TYPE
from .roles import assigned_role_names

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
        store.add_secret_version(cloud.vault_id, SECRET_NAME,
                                 new_secret_version(sas_token, {}, "SAS token for ACR Transfer"))


def new_secret_version(value: str, tags: dict, content_type: Optional[str]) -> dict:
    now = int(time.time())
    return {"version": uuid.uuid4().hex, "value": value, "tags": tags or {}, "contentType": content_type,
            "created": now, "updated": now}


def has_secret_permission(vault: dict, object_id: str, permission: str) -> bool:
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
    elif not has_secret_permission(vault, principal_id, "get"):
        raise KeyVaultAccessDenied(
            f"Key Vault request failed: (Forbidden) The user, group or application 'oid={principal_id}' does not "
            f"have secrets get permission on key vault '{vault['name']};location={vault['location']}'. For help "
            "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287 "
            "Status: 403 (Forbidden). Code: Forbidden. Inner error: AccessDenied")
    name, version = parse_secret_uri(secret_uri)
    chosen = pick_version(store.secret_versions(vault["id"], name), version)
    if chosen is None:
        raise KeyVaultSecretMissing(f"Key Vault request failed: (SecretNotFound) A secret with (name/id) "
                                    f"{name}{'/' + version if version else ''} was not found in this key vault. "
                                    "Status: 404 (Not Found)")
    return chosen["value"]


def pick_version(versions: list, version: Optional[str]) -> Optional[dict]:
    if version is None:
        return versions[-1] if versions else None
    return next((v for v in versions if v["version"] == version.lower()), None)
