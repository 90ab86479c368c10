# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What a Key Vault's network settings do to a SasToken pipeline: ACR is a trusted service for Key Vault, so a
vault firewall lets its runs read the secret only with `bypass AzureServices`."""

from dataclasses import dataclass
from typing import Optional

from ._check_result import failed, passed

NAME_KEY_VAULT_NETWORK = 'KeyVaultNetwork'

# Messages and fix commands, formatted where a rule reports them.
PUBLIC_ACCESS_DISABLED = ("Key Vault '{}' has public network access Disabled: runs cannot read the SAS token. ACR is "
                          "a trusted service for Key Vault: with public access Enabled and bypass AzureServices its "
                          "firewall can still deny everyone else.")
FIREWALL_WITHOUT_BYPASS = ("Key Vault '{}' has a firewall (networkAcls.defaultAction Deny) without bypass "
                           "AzureServices (bypass {}): runs cannot read the SAS token. ACR is a trusted service for "
                           "Key Vault, so the bypass lets them in.")
FIREWALL_WITH_BYPASS = "Key Vault '{}' has a firewall that lets trusted services such as ACR in (bypass AzureServices)."
VAULT_OPEN = "Key Vault '{}' accepts requests from public networks."
BYPASS_COMMAND = 'az keyvault update --resource-group {group} --name {vault} --bypass AzureServices'
# Guess (documented for the firewall, not stated for a vault with public access Disabled): the trusted-services
# exception applies only while public network access is Enabled, so the fix turns it on and keeps the firewall.
ENABLE_WITH_BYPASS_COMMAND = ('az keyvault update --resource-group {group} --name {vault} --public-network-access '
                              'Enabled --bypass AzureServices')


@dataclass(frozen=True)
class VaultNetworkFacts:
    name: str
    resource_group: str
    public_network_access: Optional[str] = None
    default_action: Optional[str] = None
    bypass: Optional[str] = None


def _text(value):
    return getattr(value, 'value', value)


def vault_network_facts(vault, resource_group):
    """VaultNetworkFacts from the management SDK's Vault model (older api-versions have no publicNetworkAccess)."""
    properties = vault.properties
    acls = getattr(properties, 'network_acls', None)
    return VaultNetworkFacts(vault.name, resource_group,
                             _text(getattr(properties, 'public_network_access', None)),
                             _text(getattr(acls, 'default_action', None)), _text(getattr(acls, 'bypass', None)))


def vault_network_rule(facts):
    names = {'group': facts.resource_group, 'vault': facts.name}
    if (facts.public_network_access or '').lower() == 'disabled':
        return failed(NAME_KEY_VAULT_NETWORK, PUBLIC_ACCESS_DISABLED.format(facts.name),
                      ENABLE_WITH_BYPASS_COMMAND.format(**names))
    if (facts.default_action or '').lower() != 'deny':
        return passed(NAME_KEY_VAULT_NETWORK, VAULT_OPEN.format(facts.name))
    if 'azureservices' in (facts.bypass or '').lower().replace(' ', ''):
        return passed(NAME_KEY_VAULT_NETWORK, FIREWALL_WITH_BYPASS.format(facts.name))
    return failed(NAME_KEY_VAULT_NETWORK, FIREWALL_WITHOUT_BYPASS.format(facts.name, facts.bypass or 'None'),
                  BYPASS_COMMAND.format(**names))
