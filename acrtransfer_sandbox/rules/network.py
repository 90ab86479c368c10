"""The network and policy rules a pipeline run meets before it moves a byte, and the registry's export policy.

What the service does (ACR Transfer's troubleshooting guide and the docs on storage and Key Vault firewalls):
- ACR Transfer is not a trusted service for Storage: an account with publicNetworkAccess Disabled, or whose
  networkAcls.defaultAction is Deny, refuses the run whatever `bypass` says (AzureServices does not cover it).
- A SasToken pipeline on an account with allowSharedKeyAccess false: storage refuses every SAS signed with an
  account key (KeyBasedAuthenticationNotPermitted).
- ACR is a trusted service for Key Vault: a vault firewall (defaultAction Deny) lets the run through only with
  bypass AzureServices. A vault with publicNetworkAccess Disabled refuses it too (a guess: the docs say disabled
  public access leaves only private endpoints; whether the trusted-service bypass still applies is not stated).
- A registry's exportPolicy (api 2021-06-01-preview and later, Premium): it can be set to disabled only when the
  registry's publicNetworkAccess is Disabled (before or in the same request), and only when the registry has no
  export pipeline; while it is disabled, export pipelines are refused. Pipelines need the Premium tier.

The run's messages follow the service's wording where it is known (marked where it is a guess). No HTTP here:
the run executor and the fronts ask these functions about documents they hold.
"""
import copy
from typing import Optional

# The storage denial ACR Transfer reports for a firewalled account: the service's wording (issue reports since
# 2020); "ErrorCode: AuthorizationFailure" is storage's code for a network denial.
STORAGE_NETWORK_DENIED = ("Failed to access storage. Service request failed. Status: 403 (This request is not "
                          "authorized to perform this operation) ErrorCode: AuthorizationFailure. Storage account "
                          "'{account}' {why}; ACR Transfer is not a trusted Azure service for Storage, so a "
                          "'bypass AzureServices' rule does not let it in.")
STORAGE_PUBLIC_ACCESS_DISABLED = "has publicNetworkAccess Disabled"
STORAGE_DEFAULT_DENY = "denies public network access (networkAcls.defaultAction Deny)"
# Storage's own code and message for an account-key-signed SAS on an account without shared key access.
KEY_AUTH_NOT_PERMITTED = ("Failed to access storage. Service request failed. Status: 403 (Key based "
                          "authentication is not permitted on this storage account.) "
                          "ErrorCode: KeyBasedAuthenticationNotPermitted")
# Key Vault's firewall answer: "Client address is not authorized and caller is not a trusted service" with inner
# error ForbiddenByFirewall is Key Vault's wording; the rest follows the executor's other Key Vault failures.
VAULT_FIREWALL_DENIED = ("Key Vault request failed: (Forbidden) Client address is not authorized and caller is "
                         "not a trusted service. Caller: oid={principal}; Vault: {vault};location={location}. "
                         "Status: 403 (Forbidden). Code: Forbidden. Inner error: ForbiddenByFirewall")
# Guess: the wording Key Vault uses when public network access is disabled (ForbiddenByConnection).
VAULT_PUBLIC_ACCESS_DISABLED = ("Key Vault request failed: (Forbidden) Public network access is disabled and "
                                "request is not from a trusted service nor via an approved private link. Caller: "
                                "oid={principal}; Vault: {vault};location={location}. Status: 403 (Forbidden). "
                                "Code: Forbidden. Inner error: ForbiddenByConnection")

# Registry rules. Codes and messages are guesses built from the documentation's rules (no recording of them).
EXPORT_POLICY_NEEDS_PRIVATE = ("ExportPolicyRequiresPublicNetworkAccessDisabled",
                               "The export policy of registry '{registry}' can be disabled only when its public "
                               "network access is disabled (set publicNetworkAccess to Disabled first or in the "
                               "same request). See https://aka.ms/acr/export-policy.")
EXPORT_POLICY_PIPELINES_EXIST = ("ExportPolicyCannotBeDisabled",
                                 "The export policy of registry '{registry}' cannot be disabled while export "
                                 "pipelines exist ({pipelines}); delete them first. See "
                                 "https://aka.ms/acr/export-policy.")
EXPORT_POLICY_DISABLED = ("ExportPolicyDisabled",
                          "Export pipelines cannot be created on registry '{registry}': its export policy "
                          "(policies.exportPolicy.status) is disabled. Enable exports with "
                          "'az acr update --name {registry} --allow-exports true'. See "
                          "https://aka.ms/acr/export-policy.")
PIPELINES_NEED_PREMIUM = ("RegistrySkuNotSupported",
                          "Registry '{registry}' has the {sku} SKU: import and export pipelines are supported only "
                          "on the Premium SKU. Upgrade it with 'az acr update --name {registry} --sku Premium'.")
# A registry moved off Premium keeps its pipelines (a guess: nothing documents a refusal), but its runs fail.
PREMIUM = "premium"
SKU_TIERS = {"basic": "Basic", "standard": "Standard", "premium": "Premium"}
# What a registry PATCH may change here (RegistryPropertiesUpdateParameters, the part the sandbox models).
REGISTRY_UPDATABLE = ("publicNetworkAccess", "networkRuleSet", "networkRuleBypassOptions", "adminUserEnabled",
                      "anonymousPullEnabled", "dataEndpointEnabled")


def _props(doc: dict) -> dict:
    return doc.get("properties") or {}


def storage_unreachable(account: dict) -> Optional[str]:
    """The run's failure when the service cannot reach `account` over the network, else None."""
    props = _props(account)
    if str(props.get("publicNetworkAccess", "Enabled")).lower() == "disabled":
        why = STORAGE_PUBLIC_ACCESS_DISABLED
    elif str((props.get("networkAcls") or {}).get("defaultAction", "Allow")).lower() == "deny":
        why = STORAGE_DEFAULT_DENY
    else:
        return None
    return STORAGE_NETWORK_DENIED.format(account=account.get("name", ""), why=why)


def shared_key_refused(account: dict) -> Optional[str]:
    """The run's failure for a SAS signed with an account key on an account without shared key access."""
    return KEY_AUTH_NOT_PERMITTED if _props(account).get("allowSharedKeyAccess") is False else None


def vault_unreachable(vault: dict, principal_id: str) -> Optional[str]:
    """The run's failure when the vault's network rules keep ACR (a trusted service for Key Vault) out."""
    props = _props(vault)
    values = {"principal": principal_id, "vault": vault.get("name", ""), "location": vault.get("location", "")}
    if str(props.get("publicNetworkAccess", "Enabled")).lower() == "disabled":
        return VAULT_PUBLIC_ACCESS_DISABLED.format(**values)
    acls = props.get("networkAcls") or {}
    if str(acls.get("defaultAction", "Allow")).lower() == "deny" \
            and str(acls.get("bypass", "AzureServices")).lower() != "azureservices":
        return VAULT_FIREWALL_DENIED.format(**values)
    return None


def export_policy_status(registry: dict) -> str:
    """'enabled' or 'disabled'; a registry without the policy exports (the service's default)."""
    policy = (_props(registry).get("policies") or {}).get("exportPolicy") or {}
    return str(policy.get("status", "enabled")).lower()


def registry_update_error(registry: dict, updated: dict, export_pipelines: list) -> Optional[tuple]:
    """(code, message) when the service would refuse to turn `registry` into `updated`, else None."""
    name = registry.get("name", "")
    if export_policy_status(updated) == "disabled" and export_policy_status(registry) != "disabled":
        if str(_props(updated).get("publicNetworkAccess", "Enabled")).lower() != "disabled":
            code, message = EXPORT_POLICY_NEEDS_PRIVATE
            return code, message.format(registry=name)
        if export_pipelines:
            code, message = EXPORT_POLICY_PIPELINES_EXIST
            return code, message.format(registry=name, pipelines=", ".join(export_pipelines))
    return None


def sku_of(registry: dict) -> str:
    return (registry.get("sku") or {}).get("name", "Premium")


def pipeline_refused(registry: dict, is_export: bool) -> Optional[tuple]:
    """(code, message) when the registry does not take this pipeline PUT, else None."""
    name = registry.get("name", "")
    if sku_of(registry).lower() != PREMIUM:
        code, message = PIPELINES_NEED_PREMIUM
        return code, message.format(registry=name, sku=sku_of(registry))
    if is_export and export_policy_status(registry) == "disabled":
        code, message = EXPORT_POLICY_DISABLED
        return code, message.format(registry=name)
    return None


def apply_registry_update(stored: dict, body: dict) -> dict:
    """A copy of the registry `stored` with the PATCH of `az acr update` applied (registry_update_error compares
    the two)."""
    doc = copy.deepcopy(stored)
    given = body.get("properties") or {}
    props = doc["properties"]
    for key in REGISTRY_UPDATABLE:
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
