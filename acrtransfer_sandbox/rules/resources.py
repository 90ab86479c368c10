"""The resources each cloud is seeded with (subscription, tenant, resource group, registry, storage account, the
operator's Owner assignment on the subscription) and the resource types: one place for each, whatever front serves
them."""
import uuid

from ..plumbing.clock import utc_now
from ..plumbing.config import LOCATION, CloudConfig
from ..plumbing.store import ResourceStore
from .roles import owner_assignment
from .storage_accounts import default_settings, kept_settings

REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
VAULT_TYPE = "Microsoft.KeyVault/vaults"
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"


def subscription_document(cloud: CloudConfig) -> dict:
    return {"id": f"/subscriptions/{cloud.subscription_id}", "authorizationSource": "RoleBased",
            "managedByTenants": [], "subscriptionId": cloud.subscription_id, "tenantId": cloud.tenant_id,
            "displayName": f"ACR Transfer sandbox ({cloud.name})", "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Sandbox",
                                     "spendingLimit": "Off"}}


def tenant_document(cloud: CloudConfig) -> dict:
    return {"id": f"/tenants/{cloud.tenant_id}", "tenantId": cloud.tenant_id, "countryCode": "US",
            "displayName": f"ACR Transfer sandbox {cloud.name} tenant", "domains": [f"{cloud.name}.acrsandbox.local"],
            "tenantCategory": "Home", "defaultDomain": f"{cloud.name}.acrsandbox.local", "tenantType": "AAD"}


def resource_group_document(cloud: CloudConfig) -> dict:
    return {"id": cloud.group_id, "name": cloud.resource_group, "type": "Microsoft.Resources/resourceGroups",
            "location": LOCATION, "properties": {"provisioningState": "Succeeded"}}


def registry_document(cloud: CloudConfig) -> dict:
    return {"sku": {"name": "Premium", "tier": "Premium"}, "type": REGISTRY_TYPE, "id": cloud.registry_id,
            "name": cloud.registry_name, "location": LOCATION, "tags": {},
            "properties": {"loginServer": cloud.login_server, "creationDate": "2026-01-01T00:00:00.0000000Z",
                           "provisioningState": "Succeeded", "adminUserEnabled": False,
                           "publicNetworkAccess": "Enabled", "networkRuleBypassOptions": "AzureServices",
                           "zoneRedundancy": "Disabled", "anonymousPullEnabled": False,
                           "policies": {"exportPolicy": {"status": "enabled"}}, "encryption": {"status": "disabled"},
                           "dataEndpointEnabled": False}}


def storage_account_document(cloud: CloudConfig) -> dict:
    return {"sku": {"name": "Standard_LRS", "tier": "Standard"}, "kind": "StorageV2", "id": cloud.storage_account_id,
            "name": cloud.storage_account, "type": STORAGE_TYPE, "location": LOCATION, "tags": {},
            "properties": {"provisioningState": "Succeeded", "supportsHttpsTrafficOnly": True,
                           "primaryEndpoints": {"blob": cloud.blob_endpoint + "/"},
                           "primaryLocation": LOCATION, "statusOfPrimary": "available", **default_settings()}}


# What `az acr update` changes and a restart keeps.
REGISTRY_KEPT = ("publicNetworkAccess", "policies", "networkRuleSet", "networkRuleBypassOptions", "adminUserEnabled")


def seed_core_resources(store: ResourceStore, cloud: CloudConfig) -> None:
    """The registry and storage account come from the configuration (rewritten on every start, so a port change
    is picked up) with the settings their updates changed kept; the vault is created once and then only changed by
    its API (its access policies persist)."""
    registry = registry_document(cloud)
    stored = store.get(cloud.registry_id)
    if stored:
        registry["sku"] = stored.get("sku") or registry["sku"]
        registry["properties"].update({key: stored["properties"][key] for key in REGISTRY_KEPT
                                       if key in stored["properties"]})
    store.put(cloud.registry_id, registry)
    account = storage_account_document(cloud)
    account["properties"].update(kept_settings(store.get(cloud.storage_account_id)))
    store.put(cloud.storage_account_id, account)
    owner = owner_assignment(cloud.subscription_id, cloud.operator_object_id,
                             str(uuid.uuid5(uuid.NAMESPACE_URL, f"acrtransfer-sandbox/{cloud.name}/operator-owner")),
                             utc_now())
    if store.get(owner["id"]) is None:
        store.put(owner["id"], owner)
