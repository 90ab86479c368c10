# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What the registry itself must be for ACR Transfer: Premium, and, for export, with its export policy enabled.

The service's documented rules for the export policy: it can be disabled only while public network access is
disabled, and not while any export pipeline exists; a registry with it disabled refuses export pipelines. The
extension says so before `export-pipeline create` sends anything, and names the same fix when the service refuses
first (its 400 names the export policy).
"""

from dataclasses import dataclass
from typing import Optional

from ._check_result import failed, passed

NAME_REGISTRY = 'Registry'
NAME_EXPORT_POLICY = 'ExportPolicy'
PREMIUM = 'Premium'

# Messages and fix commands, formatted where a rule reports them.
NOT_PREMIUM = "Registry '{}' is {}: ACR Transfer needs the Premium SKU."
PREMIUM_REGISTRY = "Registry '{}' is Premium."
EXPORTS_DISABLED = ("Registry '{}' has its export policy disabled (policies.exportPolicy.status): it refuses export "
                    "pipelines and their runs.")
EXPORTS_ENABLED = "Registry '{}' allows exports (export policy enabled)."
EXPORT_POLICY_REFUSED = ("Registry '{registry}' has its export policy disabled, so it refuses export pipelines. "
                         "Enable exports first: {fix}")
PREMIUM_COMMAND = 'az acr update --resource-group {group} --name {registry} --sku Premium'
ALLOW_EXPORTS_COMMAND = 'az acr update --resource-group {group} --name {registry} --allow-exports true'
# How the service words its refusal (matched case-insensitively): the 400 of an export pipeline PUT.
SERVICE_REFUSAL_WORDS = 'export policy'


@dataclass(frozen=True)
class RegistryFacts:
    name: str
    resource_group: str
    sku: Optional[str] = None
    export_policy: Optional[str] = None


def registry_facts(document, resource_group):
    """RegistryFacts from the registry's ARM JSON. A registry that never set the policy has none: enabled."""
    properties = (document or {}).get('properties') or {}
    policy = (properties.get('policies') or {}).get('exportPolicy') or {}
    return RegistryFacts((document or {}).get('name'), resource_group, ((document or {}).get('sku') or {}).get('name'),
                         policy.get('status'))


def sku_rule(facts):
    if (facts.sku or '').lower() == PREMIUM.lower():
        return passed(NAME_REGISTRY, PREMIUM_REGISTRY.format(facts.name))
    return failed(NAME_REGISTRY, NOT_PREMIUM.format(facts.name, facts.sku or 'of an unknown SKU'),
                  PREMIUM_COMMAND.format(group=facts.resource_group, registry=facts.name))


def exports_disabled(facts):
    return (facts.export_policy or '').lower() == 'disabled'


def allow_exports_command(resource_group, registry):
    return ALLOW_EXPORTS_COMMAND.format(group=resource_group, registry=registry)


def export_policy_rule(facts):
    if exports_disabled(facts):
        return failed(NAME_EXPORT_POLICY, EXPORTS_DISABLED.format(facts.name),
                      allow_exports_command(facts.resource_group, facts.name))
    return passed(NAME_EXPORT_POLICY, EXPORTS_ENABLED.format(facts.name))


def export_policy_refusal(resource_group, registry):
    """The message of `export-pipeline create` on such a registry, whoever notices first."""
    return EXPORT_POLICY_REFUSED.format(registry=registry, fix=allow_exports_command(resource_group, registry))


def is_export_policy_refusal(status_code, message):
    return status_code == 400 and SERVICE_REFUSAL_WORDS in (message or '').lower()
