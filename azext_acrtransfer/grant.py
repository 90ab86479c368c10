# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr export-pipeline grant / import-pipeline grant, and --grant-access on create: give the pipeline identity
exactly what the permission guidance names, and nothing when it has it already.

- SasToken, vault with access policies: secret `get`, added with the accessPolicies 'add' operation, which
  merges into the principal's policy and leaves every other policy as it is;
- SasToken, vault with Azure RBAC: 'Key Vault Secrets User' on the vault;
- ManagedIdentity: the storage role of the guidance on the storage account.
"""

import uuid

from azure.cli.core.azclierror import ResourceNotFoundError, UnauthorizedError, ValidationError
from knack.log import get_logger

from . import _sdk
from ._access_guidance import (KEY_VAULT_ROLE, ROLE_ASSIGNMENT_COMMAND, SET_POLICY_COMMAND, UNKNOWN_PRINCIPAL,
                               principal_id, storage_role)
from ._access_lookup import (RoleHolding, can_get_secrets, find_storage_account, find_vault, origin,
                             policy_secret_permissions, resource_group_of, storage_actions, SECRET_GET_ACTION)
from ._existing import get_existing
from ._wire import MANAGED_IDENTITY

logger = get_logger(__name__)

CANNOT_GRANT = "You cannot grant this ({reason}). Someone allowed to{what} can run:\n    {command}"
NO_PRINCIPAL = "Pipeline '{}' has no identity with a principal id yet: nothing can be granted to it."
NO_VAULT_SERVES = ("No Key Vault of the current subscription serves {}: select the vault's subscription (az account "
                   "set) and try again.")
NO_ACCOUNT_SERVES = ('No storage account of the current subscription has the blob endpoint of {}: select its '
                     'subscription (az account set) and try again.')
ROLE_NOT_DEFINED = "The role '{}' is not defined at {}."
POLICY_GIVES_GET = "Nothing to do: an access policy of Key Vault '{vault}' already gives {principal} secret get."
POLICY_ADDED = "Added secret get for {principal} to the access policies of Key Vault '{vault}'."
ROLE_HELD = 'Nothing to do: {principal} already holds {roles} on {what}.'
ROLE_ASSIGNED = "Assigned '{role}' to {principal} on {what}."
RBAC_VAULT = "Key Vault '{}' (Azure RBAC)"
STORAGE_ACCOUNT = "storage account '{}'"
WHO_MAY_CHANGE_POLICIES = ' change the access policies of the vault'
WHO_MAY_ASSIGN_ROLES = ' assign roles on it (Owner, User Access Administrator)'


def grant_export_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name):
    return grant_pipeline_access(cmd, get_existing(client, resource_group_name, registry_name, pipeline_name),
                                 'export')


def grant_import_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name):
    return grant_pipeline_access(cmd, get_existing(client, resource_group_name, registry_name, pipeline_name),
                                 'import')


def grant_pipeline_access(cmd, pipeline, kind):
    """Grant what is missing; returns {principalId, scope, granted, action}, where action says what was done."""
    properties = pipeline.get('properties') or {}
    storage = properties.get('target' if kind == 'export' else 'source') or {}
    principal = principal_id(pipeline)
    if principal == UNKNOWN_PRINCIPAL:
        raise ValidationError(NO_PRINCIPAL.format(pipeline.get('name')))
    if storage.get('storageAccessMode') == MANAGED_IDENTITY:
        outcome = _grant_storage_role(cmd, principal, storage.get('uri'), kind, properties.get('options') or [])
    else:
        outcome = _grant_secret_access(cmd, principal, storage.get('keyVaultUri'))
    logger.warning(outcome['action'])
    return outcome


def _outcome(principal, scope, granted, action):
    return {'principalId': principal, 'scope': scope, 'granted': granted, 'action': action}


def _grant_secret_access(cmd, principal, secret_uri):
    vault = find_vault(cmd.cli_ctx, secret_uri)
    if vault is None:
        raise ResourceNotFoundError(NO_VAULT_SERVES.format(origin(secret_uri)))
    if vault.properties.enable_rbac_authorization:
        return _assign_role(cmd, principal, vault.id, KEY_VAULT_ROLE, [SECRET_GET_ACTION],
                            RBAC_VAULT.format(vault.name))
    if can_get_secrets(policy_secret_permissions(vault, principal)):
        return _outcome(principal, vault.id, [], POLICY_GIVES_GET.format(vault=vault.name, principal=principal))
    command = SET_POLICY_COMMAND.format(vault=vault.name, principal=principal)
    parameters = _sdk.access_policy_parameters(cmd, vault.properties.tenant_id, principal, ['get'])
    with _refused_as_unauthorized(command, WHO_MAY_CHANGE_POLICIES):
        _sdk.keyvault_client(cmd.cli_ctx).vaults.update_access_policy(
            resource_group_of(vault.id), vault.name, 'add', parameters)
    return _outcome(principal, vault.id, ['secrets: get'], POLICY_ADDED.format(principal=principal, vault=vault.name))


def _grant_storage_role(cmd, principal, container_uri, kind, options):  # pylint: disable=too-many-arguments
    account = find_storage_account(cmd.cli_ctx, container_uri)
    if account is None:
        raise ResourceNotFoundError(NO_ACCOUNT_SERVES.format(container_uri))
    return _assign_role(cmd, principal, account.id, storage_role(kind, options), storage_actions(kind, options),
                        STORAGE_ACCOUNT.format(account.name))


def _assign_role(cmd, principal, scope, role, actions, what):  # pylint: disable=too-many-arguments
    holding = RoleHolding(cmd.cli_ctx, principal, scope)
    if holding.allows(*actions):
        return _outcome(principal, scope, [], ROLE_HELD.format(principal=principal, roles=', '.join(holding.names()),
                                                               what=what))
    command = ROLE_ASSIGNMENT_COMMAND.format(principal=principal, role=role, scope=scope)
    client = _sdk.authorization_client(cmd.cli_ctx)
    definition_id = _role_definition_id(client, scope, role)
    with _refused_as_unauthorized(command, WHO_MAY_ASSIGN_ROLES):
        client.role_assignments.create(scope, str(uuid.uuid4()),
                                       _sdk.role_assignment_parameters(cmd, definition_id, principal))
    return _outcome(principal, scope, [role], ROLE_ASSIGNED.format(role=role, principal=principal, what=what))


def _role_definition_id(client, scope, role):
    for definition in client.role_definitions.list(scope, filter="roleName eq '{}'".format(role)):
        return definition.id
    raise ResourceNotFoundError(ROLE_NOT_DEFINED.format(role, scope))


class _refused_as_unauthorized:  # pylint: disable=invalid-name,too-few-public-methods
    """A 403 from ARM becomes an error that names the command an owner can run instead."""

    def __init__(self, command, what):
        self.command = command
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, _type, error, _traceback):
        from azure.core.exceptions import HttpResponseError
        if isinstance(error, HttpResponseError) and error.status_code == 403:
            code = getattr(getattr(error, 'error', None), 'code', None) or 'AuthorizationFailed'
            raise UnauthorizedError(CANNOT_GRANT.format(reason=code, what=self.what, command=self.command)) \
                from None
        return False
