# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What a new pipeline's identity must be granted before its runs can work, written once for both kinds."""

from urllib.parse import urlsplit

from ._wire import MANAGED_IDENTITY

KEY_VAULT_ROLE = 'Key Vault Secrets User'
STORAGE_WRITER_ROLE = 'Storage Blob Data Contributor'
STORAGE_READER_ROLE = 'Storage Blob Data Reader'
UNKNOWN_PRINCIPAL = '<principal id of the pipeline identity>'

# The commands that grant what a pipeline identity needs, for one who may (check's fixes, grant's refusals).
ROLE_ASSIGNMENT_COMMAND = ('az role assignment create --assignee-object-id {principal} --assignee-principal-type '
                           'ServicePrincipal --role "{role}" --scope {scope}')
SET_POLICY_COMMAND = 'az keyvault set-policy --name {vault} --secret-permissions get --object-id {principal}'

SAS_TOKEN_GUIDANCE = """\
Pipeline '{name}' reads its SAS token from Key Vault: its identity (principal id {principal}) needs permission to get \
the secret.
  Key Vault with Azure RBAC:
    {assign_role}
  Key Vault with access policies:
    {set_policy}"""

MANAGED_IDENTITY_GUIDANCE = """\
Pipeline '{name}' reaches storage with its managed identity (principal id {principal}): it needs the role \
'{role}' on storage account '{account}'{why}.
    {assign_role}"""

# The resource id of a vault or a storage account, as the shell looks it up when the guidance's command runs.
VAULT_ID_LOOKUP = '$(az keyvault show --name {} --query id --output tsv)'
ACCOUNT_ID_LOOKUP = '$(az storage account show --name {} --query id --output tsv)'


def principal_id(pipeline):
    """The principal to grant: the system identity's, or that of the (single) user-assigned identity."""
    identity = pipeline.get('identity') or {}
    if identity.get('principalId'):
        return identity['principalId']
    for details in (identity.get('userAssignedIdentities') or {}).values():
        if (details or {}).get('principalId'):
            return details['principalId']
    return UNKNOWN_PRINCIPAL


def storage_role(kind, options):
    """Export writes blobs; import only reads them, unless it must delete the source blob afterwards."""
    if kind == 'export' or 'DeleteSourceBlobOnSuccess' in (options or []):
        return STORAGE_WRITER_ROLE
    return STORAGE_READER_ROLE


def vault_name(secret_uri):
    host = urlsplit(secret_uri or '').hostname or ''
    return host.split('.')[0] if '.' in host and not host.replace('.', '').isdigit() else '<vault name>'


def storage_account_name(container_uri):
    parts = urlsplit(container_uri or '')
    segments = [s for s in parts.path.split('/') if s]
    host = parts.hostname or ''
    if '.blob.' in host:
        return host.split('.')[0]
    return segments[0] if len(segments) == 2 else '<storage account name>'


GRANT_GUIDANCE = """
  Or let az grant exactly this (idempotent): az acr {kind}-pipeline grant --resource-group {group} --registry \
{registry} --name {name}   (--grant-access on create does it in the same step)"""


def _grant_hint(pipeline, kind):
    parts = (pipeline.get('id') or '').split('/')
    lowered = [p.lower() for p in parts]

    def after(segment, default):
        return parts[lowered.index(segment) + 1] if segment in lowered[:-1] else default
    return GRANT_GUIDANCE.format(kind=kind, group=after('resourcegroups', '<resource group>'),
                                 registry=after('registries', '<registry>'), name=pipeline.get('name'))


def permission_guidance(pipeline, kind):
    """The message for a pipeline resource as the service returned it; kind is 'export' or 'import'."""
    return _access_guidance(pipeline, kind) + _grant_hint(pipeline, kind)


def _access_guidance(pipeline, kind):
    properties = pipeline.get('properties') or {}
    storage = properties.get('target' if kind == 'export' else 'source') or {}
    options = properties.get('options') or []
    principal = principal_id(pipeline)
    if storage.get('storageAccessMode') == MANAGED_IDENTITY:
        role = storage_role(kind, options)
        why = ' (DeleteSourceBlobOnSuccess deletes the blob)' if role == STORAGE_WRITER_ROLE and kind == 'import' \
            else ''
        account = storage_account_name(storage.get('uri'))
        assign_role = ROLE_ASSIGNMENT_COMMAND.format(principal=principal, role=role,
                                                     scope=ACCOUNT_ID_LOOKUP.format(account))
        return MANAGED_IDENTITY_GUIDANCE.format(name=pipeline.get('name'), principal=principal, role=role,
                                                account=account, why=why, assign_role=assign_role)
    vault = vault_name(storage.get('keyVaultUri'))
    assign_role = ROLE_ASSIGNMENT_COMMAND.format(principal=principal, role=KEY_VAULT_ROLE,
                                                 scope=VAULT_ID_LOOKUP.format(vault))
    return SAS_TOKEN_GUIDANCE.format(name=pipeline.get('name'), principal=principal, assign_role=assign_role,
                                     set_policy=SET_POLICY_COMMAND.format(vault=vault, principal=principal))
