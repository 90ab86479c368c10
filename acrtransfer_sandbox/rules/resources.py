"""The resources each cloud is seeded with (subscription, tenant, resource group, registry, storage account) and the
resource types: one place for each, whatever front serves them."""
from ..plumbing.config import LOCATION, CloudConfig
from ..plumbing.store import ResourceStore

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
                           "policies": {}, "encryption": {"status": "disabled"}, "dataEndpointEnabled": False}}


def storage_account_document(cloud: CloudConfig) -> dict:
    return {"sku": {"name": "Standard_LRS", "tier": "Standard"}, "kind": "StorageV2", "id": cloud.storage_account_id,
            "name": cloud.storage_account, "type": STORAGE_TYPE, "location": LOCATION, "tags": {},
            "properties": {"provisioningState": "Succeeded", "supportsHttpsTrafficOnly": True,
                           "primaryEndpoints": {"blob": cloud.blob_endpoint + "/"},
                           "primaryLocation": LOCATION, "statusOfPrimary": "available"}}


def seed_core_resources(store: ResourceStore, cloud: CloudConfig) -> None:
    """The registry and storage account come from the configuration (rewritten on every start, so a port change
    is picked up); the vault is created once and then only changed by its API (its access policies persist)."""
    store.put(cloud.registry_id, registry_document(cloud))
    store.put(cloud.storage_account_id, storage_account_document(cloud))
