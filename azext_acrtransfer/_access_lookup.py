# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Who may do what, asked of ARM: the vault behind a secret URI, its access policies, the storage account behind a
container URI, and the roles a principal holds on a resource. Shared by `check` (which asks) and `grant` (which
asks, then adds what is missing)."""

import fnmatch
import re
from urllib.parse import urlsplit

from ._sdk import authorization_client, field

# The vaults and storage accounts of the subscription are listed with plain ARM GETs through the extension's own
# client (as `show` reads a pipeline): importing azure-mgmt-keyvault and azure-mgmt-storage for one list each cost
# `check` more time than all its requests. These api-versions have every field read here and serve in every
# cloud az 2.44 and newer address.
VAULTS_LIST = '/subscriptions/{}/providers/Microsoft.KeyVault/vaults?api-version=2022-07-01'
ACCOUNTS_LIST = '/subscriptions/{}/providers/Microsoft.Storage/storageAccounts?api-version=2022-09-01'
MAX_LIST_PAGES = 100
# SDK attribute names whose ARM field is not their camelCase form.
ARM_ALIASES = {'network_rule_set': 'networkAcls'}

SECRET_GET_ACTION = 'Microsoft.KeyVault/vaults/secrets/getSecret/action'
BLOB_ACTION = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{}'


def origin(uri):
    """scheme://host[:port], lower-cased, with the default https port dropped: how a secret URI names its vault."""
    parts = urlsplit(uri or '')
    host = (parts.hostname or '').lower()
    port = parts.port
    return '{}://{}{}'.format(parts.scheme.lower(), host, '' if port in (None, 443) else ':{}'.format(port))


class ArmObject:  # pylint: disable=too-few-public-methods
    """An ARM JSON object read the way the management SDKs' models are: snake_case attributes, None when absent;
    with `flattened`, the fields of `properties` read as the object's own (as the storage account model does)."""

    def __init__(self, data, flattened=False):
        self._data = data if isinstance(data, dict) else {}
        self._flattened = flattened

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        key = ARM_ALIASES.get(name) or re.sub(r'_([a-z])', lambda m: m.group(1).upper(), name)
        value = self._data.get(key)
        if value is None and self._flattened:
            value = (self._data.get('properties') or {}).get(key)
        return _wrapped(value)


def _wrapped(value):
    if isinstance(value, dict):
        return ArmObject(value)
    if isinstance(value, list):
        return [_wrapped(item) for item in value]
    return value


def _arm_list(cli_ctx, path):
    """Every resource of an ARM list, page by page."""
    from ._client_factory import cf_acrtransfer
    client = cf_acrtransfer(cli_ctx)
    url = cli_ctx.cloud.endpoints.resource_manager.rstrip('/') + path.format(client.subscription_id)
    for _page in range(MAX_LIST_PAGES):
        body = client.send('GET', url, next_link=True).http_response.json() or {}
        yield from body.get('value') or []
        url = body.get('nextLink')
        if not url:
            break


def list_vaults(cli_ctx):
    return [ArmObject(document) for document in _arm_list(cli_ctx, VAULTS_LIST)]


def vault_serving(vaults, secret_uri):
    """The vault whose vaultUri serves the secret (works in every cloud, and for vault hosts that are IP
    addresses); None when none does."""
    wanted = origin(secret_uri)
    for vault in vaults:
        if origin(vault.properties.vault_uri if vault.properties else None) == wanted:
            return vault
    return None


def find_vault(cli_ctx, secret_uri):
    """The vault of the subscription that serves the secret, or None."""
    return vault_serving(list_vaults(cli_ctx), secret_uri)


def resource_group_of(resource_id):
    parts = resource_id.split('/')
    return parts[[p.lower() for p in parts].index('resourcegroups') + 1]


def policy_secret_permissions(vault, principal_id):
    """The secret permissions the vault's access policies give the principal, lower-cased."""
    granted = set()
    for policy in vault.properties.access_policies or []:
        if (policy.object_id or '').lower() == principal_id.lower():
            granted.update(p.lower() for p in (policy.permissions.secrets or []))
    return granted


def can_get_secrets(permissions):
    return 'get' in permissions or 'all' in permissions


def list_storage_accounts(cli_ctx):
    return [ArmObject(document, flattened=True) for document in _arm_list(cli_ctx, ACCOUNTS_LIST)]


def account_serving(accounts, container_uri):
    """The storage account whose primary blob endpoint the container URI starts with, or None."""
    uri = container_uri.lower().rstrip('/') + '/'
    for account in accounts:
        endpoints = account.primary_endpoints
        blob = ((endpoints.blob if endpoints else None) or '').lower()
        if blob and uri.startswith(blob if blob.endswith('/') else blob + '/'):
            return account
    return None


def find_storage_account(cli_ctx, container_uri):
    """The storage account of the subscription that serves the container, or None."""
    return account_serving(list_storage_accounts(cli_ctx), container_uri)


def _covers(scope, resource_id):
    scope, resource_id = scope.rstrip('/').lower(), resource_id.rstrip('/').lower()
    return scope in ('', '/') or resource_id == scope or resource_id.startswith(scope + '/')


def _action_allowed(action, permission):
    def matches(patterns):
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns or [])
    return matches(field(permission, 'data_actions')) and not matches(field(permission, 'not_data_actions'))


class RoleHolding:
    """The roles a principal holds on a resource (at it or above), with their data actions."""

    def __init__(self, cli_ctx, principal_id, resource_id):
        client = authorization_client(cli_ctx)
        self.roles = {}
        assignments = client.role_assignments.list_for_scope(
            resource_id, filter="principalId eq '{}'".format(principal_id))
        for assignment in assignments:
            scope = field(assignment, 'scope') or ''
            if (field(assignment, 'principal_id') or '').lower() != principal_id.lower() or \
                    not _covers(scope, resource_id):
                continue
            definition_id = field(assignment, 'role_definition_id')
            if definition_id not in self.roles:
                self.roles[definition_id] = client.role_definitions.get_by_id(definition_id)

    def names(self):
        return sorted(field(d, 'role_name') or d.name for d in self.roles.values())

    def allows(self, *actions):
        """Whether one role allows every action (data actions, wildcards as Azure writes them)."""
        for definition in self.roles.values():
            permissions = field(definition, 'permissions') or []
            if all(any(_action_allowed(action, p) for p in permissions) for action in actions):
                return True
        return False


def storage_actions(kind, options):
    """The blob data actions a pipeline's runs perform (the roles of the guidance hold exactly these)."""
    actions = [BLOB_ACTION.format('read')]
    if kind == 'export':
        actions.append(BLOB_ACTION.format('write'))
    if kind == 'import' and 'DeleteSourceBlobOnSuccess' in (options or []):
        actions.append(BLOB_ACTION.format('delete'))
    return actions
