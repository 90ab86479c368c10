# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr export-pipeline check / import-pipeline check: everything a run needs, checked before a run fails on it.

Every check that applies runs and is reported, in a fixed order; one that cannot run says why (Skipped). The SAS
token is read into a local variable, judged and handed to the storage SDK, and never returned or logged.
"""

from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from . import _sas
from ._access_guidance import (KEY_VAULT_ROLE, ROLE_ASSIGNMENT_COMMAND, SET_POLICY_COMMAND, UNKNOWN_PRINCIPAL,
                               principal_id, storage_account_name, storage_role)
from ._access_lookup import (RoleHolding, account_serving, can_get_secrets, list_storage_accounts, list_vaults, origin,
                             policy_secret_permissions, storage_actions, SECRET_GET_ACTION)
from ._blob_rules import BlobPlace, export_blob_rule, import_blob_rule, trigger_eligibility
from ._caller_rules import NAME_CALLER, caller_rule
from ._check_result import PASSED, any_failed, failed, passed, skipped, warning
from ._layer_rules import NAME_LAYERS, layer_rule
from ._registry_rules import NAME_EXPORT_POLICY, NAME_REGISTRY, export_policy_rule, registry_facts, sku_rule
from ._storage_rules import (NAME_SHARED_KEY, NAME_STORAGE_KEYS, NAME_STORAGE_NETWORK, account_facts, key_age_rule,
                             key_age_with_storage_answer, network_rule, shared_key_rule)
from ._vault_rules import NAME_KEY_VAULT_NETWORK, vault_network_facts, vault_network_rule
from ._wire import MANAGED_IDENTITY

NAME_PIPELINE = 'Pipeline'
NAME_IDENTITY = 'Identity'
NAME_KEY_VAULT = 'KeyVault'
NAME_KEY_VAULT_ACCESS = 'KeyVaultAccess'
NAME_SECRET = 'Secret'
NAME_SAS = 'SasToken'
NAME_CONTAINER = 'StorageContainer'
NAME_ACCOUNT = 'StorageAccount'
NAME_STORAGE_ROLE = 'StorageRole'
NAME_TRIGGER = 'SourceTrigger'
SAS_RULE_NAMES = (_sas.NAME_EXPIRY, _sas.NAME_START, _sas.NAME_PROTOCOL, _sas.NAME_SERVICE,
                  _sas.NAME_RESOURCE_TYPES, _sas.NAME_PERMISSIONS)
CHECK_FAILED_EXIT_CODE = 1
# Look-ups that do not depend on each other run at once, at most this many: the vault, the account, the registry,
# the caller's permissions, each artifact, each blob question. A task only ever waits on tasks submitted before it
# (the pool takes them in order), so a full pool cannot deadlock.
LOOKUP_WORKERS = 6
PLATFORM_WORKERS = 4  # the manifests of one index's platforms read at once
PERMISSIONS_API_VERSION = '2022-04-01'
PERMISSIONS_PATH = '{}/providers/Microsoft.Authorization/permissions?api-version={}'
MAX_PERMISSION_PAGES = 10

# Messages and fix commands, formatted where a check reports them.
PIPELINE_MISSING = "{kind} pipeline '{name}' was not found in registry '{registry}' (resource group '{group}')."
PIPELINE_SUCCEEDED = "{kind} pipeline '{name}' exists and is Succeeded."
PIPELINE_NOT_SUCCEEDED = "The pipeline's provisioningState is {}, not Succeeded: runs cannot use it."
IDENTITY_KNOWN = 'Its {} identity has principal id {}.'
USER_IDENTITY_UNKNOWN = 'The principal id of its user-assigned identity is not known.'
NO_IDENTITY = 'The pipeline has no identity with a principal id: nothing can be granted to it.'
PRINCIPAL_UNKNOWN = 'The principal id of the pipeline identity is not known (see {}).'
TOKEN_UNREAD = 'The SAS token could not be read (see {}).'
NOT_A_SAS_TOKEN = 'The secret does not hold a usable SAS token: {}.'
NO_USABLE_TOKEN = 'No usable SAS token (see {}).'
TOKEN_WOULD_BE_REFUSED = 'Storage would refuse this token: fix it first (see the Sas checks).'
VAULT_UNKNOWN = 'The vault is not known (see {}).'
VAULTS_NOT_LISTED = 'The Key Vaults of the subscription cannot be listed as you: {}.'
NO_VAULT_SERVES = ("No Key Vault of the current subscription serves {} (the origin of the pipeline's secret URI). "
                   "Select the vault's subscription, or recreate the pipeline with the right --secret-uri.")
VAULT_FOUND = "Key Vault '{}' ({}) serves the secret."
VAULT_ROLE_HELD = 'The identity holds {} on the vault (Azure RBAC).'
VAULT_ROLE_MISSING = ('The vault uses Azure RBAC and the identity holds no role that reads secret values at the vault '
                      'or above{held}. `{grant}` grants it.')
POLICY_GIVES_GET = 'An access policy gives the identity secret get.'
POLICY_LACKS_GET = "No access policy of vault '{vault}' gives the identity secret get{has}. `{grant}` grants it."
POLICY_HAS = ' (it has: {})'
ROLES_HELD = ' (it holds: {})'
SECRET_MISSING = 'The secret {} does not exist: {} ({}).'
SECRET_UNREADABLE = 'The secret cannot be read as you, so the token is not checked: {} {} ({}).'
VAULT_UNREACHABLE = 'The vault cannot be reached from here: {}.'
SECRET_EXISTS = 'The secret {} exists.'
CONTAINER_LISTS_WITH_TOKEN = "Container '{}' exists and lists with the token."
CONTAINER_MISSING = "Container '{container}' does not exist in storage account '{account}'."
TOKEN_LIST_REFUSED = "Storage refuses to list container '{}' with the token: {} {} ({})."
ACCOUNT_UNKNOWN = 'The storage account is not known (see {}).'
ACCOUNTS_NOT_LISTED = 'The storage accounts of the subscription cannot be listed as you: {}.'
NO_ACCOUNT_SERVES = 'No storage account of the current subscription has the blob endpoint of {}.'
ACCOUNT_FOUND = "Storage account '{}' serves the container."
STORAGE_ROLE_HELD = 'The identity holds {} on the account.'
STORAGE_ROLE_MISSING = ("The identity needs '{role}' on storage account '{account}' (or above){held}. `{grant}` grants "
                        "it.")
CONTAINER_LISTS_WITH_LOGIN = "Container '{}' lists with your login."
CONTAINER_LISTS_WITH_KEY = "Container '{}' lists with the account key (your login was refused: {} {})."
CONTAINER_UNLISTABLE = "Container '{}' cannot be listed as you, so its blobs are not checked: {} {} ({})."
TRIGGER_DISABLED = 'The source trigger is disabled: blobs are imported only by pipeline-run create.'
BLOBS_NOT_JUDGED = ('The container cannot be listed from here, so its blobs are not judged (see the storage '
                    'checks).')
CONTAINER_EMPTY = 'The container is empty: the trigger imports each transfer blob that lands in it.'
CONTAINER_UNREADABLE = 'The container cannot be read from here (see the storage checks).'
REGISTRY_UNREACHABLE = 'The registry cannot be reached from here: {}'
REGISTRY_UNREADABLE = 'The registry cannot be read as you: {}'
ARTIFACT_EXISTS = "'{}' exists in registry '{}'."
ARTIFACT_SKIPPED = "'{}' does not exist in registry '{}': with ContinueOnErrors the run skips it."
ARTIFACT_MISSING = "'{}' does not exist in registry '{}': the run would fail (check the spelling)."
ARTIFACT_NOT_FOUND_LAYERS = 'The artifact was not found, so its layers are not judged.'

PIPELINE_COMMAND = 'az acr {kind}-pipeline {verb} --resource-group {group} --registry {registry} --name {name}{extra}'
LIST_PIPELINES_COMMAND = 'az acr {}-pipeline list --resource-group {} --registry {} --output table'
SHOW_IDENTITY_COMMAND = 'az identity show --ids {} --query principalId --output tsv'
# az keyvault list shows no properties: each vault's URI comes from az keyvault show.
LIST_VAULTS_COMMAND = ('az keyvault list --query "[].name" --output tsv | xargs -n 1 az keyvault show --query '
                       'properties.vaultUri --output tsv --name')
LIST_ACCOUNTS_COMMAND = 'az storage account list --query "[].primaryEndpoints.blob" --output tsv'
CREATE_CONTAINER_COMMAND = 'az storage container create --account-name {} --name {}'
SHOW_TAGS_COMMAND = 'az acr repository show-tags --name {} --repository {} --output table'
HOST_NOT_CONTACTED = ('{host} was not contacted: no {what} of the current subscription is at that address, and your '
                      'credentials go only where ARM says the resource is.')
A_VAULT = 'Key Vault'
AN_ACCOUNT = 'storage account'
NOT_CHECKED = 'Not checked: {}.'
ACCOUNT_NOT_IN_SUBSCRIPTION = ('No storage account of the current subscription has the blob endpoint of {}: its '
                               'settings are not checked (select its subscription to check them).')
ACCOUNT_FOUND_FOR_TOKEN = "Storage account '{}' serves the container."
REGISTRY_NOT_READ = 'The registry cannot be read from ARM: {}.'
PERMISSIONS_UNREAD = 'Your effective permissions on the registry cannot be read from ARM here ({}).'
PERMISSIONS_API_ABSENT = ('ARM does not serve effective permissions (Microsoft.Authorization/permissions) here: '
                          'your right to create runs is not checked.')
BLOBS_UNLISTED = 'The container\'s blobs cannot be listed: {}.'
BLOB_UNREAD = "The blob cannot be read: {}."


class PipelineFacts:  # pylint: disable=too-many-instance-attributes
    """What the checks need to know about the pipeline, read once from its resource."""

    def __init__(self, kind, resource_group, registry, pipeline):
        properties = pipeline.get('properties') or {}
        storage = properties.get('target' if kind == 'export' else 'source') or {}
        self.kind = kind
        self.resource_group = resource_group
        self.registry = registry
        self.name = pipeline.get('name')
        self.state = properties.get('provisioningState')
        self.principal = principal_id(pipeline)
        self.identity = pipeline.get('identity') or {}
        self.options = properties.get('options') or []
        self.access_mode = storage.get('storageAccessMode')
        self.container_uri = storage.get('uri') or ''
        self.secret_uri = storage.get('keyVaultUri')
        trigger = ((properties.get('trigger') or {}).get('sourceTrigger') or {}).get('status')
        self.trigger_enabled = kind == 'import' and trigger == 'Enabled'
        self.account = storage_account_name(self.container_uri)
        self.container = self.container_uri.rstrip('/').rsplit('/', 1)[-1]

    @property
    def principal_known(self):
        return self.principal != UNKNOWN_PRINCIPAL

    @property
    def place(self):
        return BlobPlace(self.account, self.container)

    def recreate_command(self, *more_options):
        """Delete and create the pipeline again with the same settings plus `more_options`, granting the new
        identity its access in the same step (a system-assigned identity is a new principal)."""
        access = (' --storage-access-mode ManagedIdentity' if self.access_mode == MANAGED_IDENTITY
                  else ' --secret-uri {}'.format(self.secret_uri))
        options = list(self.options) + [o for o in more_options if o not in self.options]
        user_identities = list(self.identity.get('userAssignedIdentities') or {})
        create = self.command('create', ' --storage-container-uri {}{}{}{}{} --grant-access'.format(
            self.container_uri, access, ' --options ' + ' '.join(options) if options else '',
            ' --assign-identity ' + user_identities[0] if user_identities else '',
            '' if self.kind == 'export' or self.trigger_enabled else ' --source-trigger-enabled false'))
        return '{} && {}'.format(self.command('delete'), create)

    def command(self, verb, extra=''):
        return PIPELINE_COMMAND.format(kind=self.kind, verb=verb, group=self.resource_group, registry=self.registry,
                                       name=self.name, extra=extra)


def check_export_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name, storage_blob=None,
                          artifacts=None):
    return run_checks(cmd, client, 'export', (resource_group_name, registry_name, pipeline_name), storage_blob,
                      artifacts)


def check_import_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name, storage_blob=None):
    return run_checks(cmd, client, 'import', (resource_group_name, registry_name, pipeline_name), storage_blob)


def run_checks(cmd, client, kind, names, storage_blob, artifacts=None):  # pylint: disable=too-many-arguments
    """`names` is (resource group, registry, pipeline name)."""
    from ._redact import redact_secrets_in_logs
    redact_secrets_in_logs()  # storage requests carry the SAS in their URL, which --debug traces print
    results = collect_results(cmd, client, kind, names, storage_blob, artifacts)
    if any_failed(results):
        exit_non_zero_after_output(cmd.cli_ctx)
    return [result.to_dict() for result in results]


def exit_non_zero_after_output(cli_ctx):
    """az prints a command's result and then exits 0; a check with a Failed result must print its report and
    exit non-zero, so the exit happens once the output is written."""
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE

    def exit_failed(_cli_ctx, **_):
        raise SystemExit(CHECK_FAILED_EXIT_CODE)
    cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, exit_failed)


def collect_results(cmd, client, kind, names, storage_blob, artifacts):  # pylint: disable=too-many-arguments
    with ThreadPoolExecutor(max_workers=LOOKUP_WORKERS) as pool:
        return _collect_results(cmd, client, pool, kind, names, storage_blob, artifacts)


def _load_storage_sdk(cli_ctx):
    from ._sdk import container_client_class
    container_client_class(cli_ctx)


def _collect_results(cmd, client, pool, kind, names, storage_blob, artifacts):  # pylint: disable=too-many-arguments
    from azure.core.exceptions import ResourceNotFoundError
    resource_group, registry, name = names
    lookups = Lookups(cmd, RegistryName(resource_group, registry), pool, artifacts)  # with the pipeline's GET
    try:
        pipeline = client.get(resource_group, registry, name)
    except ResourceNotFoundError:
        return [failed(NAME_PIPELINE, PIPELINE_MISSING.format(kind=kind.capitalize(), name=name, registry=registry,
                                                              group=resource_group),
                       LIST_PIPELINES_COMMAND.format(kind, resource_group, registry))]
    facts = PipelineFacts(kind, resource_group, registry, pipeline)
    if facts.access_mode == MANAGED_IDENTITY and (facts.trigger_enabled or storage_blob):
        # The blob SDK takes longer to import than most requests take: it loads while ARM is asked.
        pool.submit(_load_storage_sdk, cmd.cli_ctx)
    lookups.of_pipeline(facts)
    results = [pipeline_state_check(facts), identity_check(facts)]
    results.extend(registry_checks(facts, lookups.registry))
    results.append(caller_check(cmd.cli_ctx, facts, lookups.permissions))
    results.extend(storage_checks(cmd.cli_ctx, facts, lookups, storage_blob))
    for artifact, future in zip(artifacts or [], lookups.artifacts):
        results.extend(settle(future, ['Artifact ' + artifact, NAME_LAYERS.format(artifact)]))
    return results


RegistryName = namedtuple('RegistryName', 'resource_group registry')


class Lookups:  # pylint: disable=too-many-instance-attributes
    """The look-ups check starts at once, as futures of `pool`: what needs only the registry's name starts with the
    pipeline's GET (the subscription's vaults and accounts are listed before the pipeline says which it names);
    the rest once the pipeline is read. One attribute per look-up in flight (hence pylint's count)."""

    def __init__(self, cmd, names, pool, artifacts):
        cli_ctx = cmd.cli_ctx
        self.pool = pool
        self.registry = pool.submit(_registry_document, cmd, names)
        self.permissions = pool.submit(caller_permissions, cli_ctx, names)
        self.vaults = pool.submit(list_vaults, cli_ctx)
        self.accounts = pool.submit(list_storage_accounts, cli_ctx)
        self.registry_client = pool.submit(_registry_client, cli_ctx, names, self.registry) if artifacts else None
        self.artifact_names = list(artifacts or [])
        self.vault = self.account = None
        self.artifacts = []

    def of_pipeline(self, facts):
        from ._access_lookup import vault_serving
        if facts.access_mode != MANAGED_IDENTITY:
            self.vault = self.pool.submit(lambda: vault_serving(self.vaults.result(), facts.secret_uri))
        self.account = self.pool.submit(lambda: account_serving(self.accounts.result(), facts.container_uri))
        self.artifacts = [self.pool.submit(artifact_checks, facts, artifact, self.registry_client)
                          for artifact in self.artifact_names]


def settle(future, names):
    """The entries a task returned; when it failed in a way nobody foresaw, its entries say so (Skipped) and the
    other entries stand: one failing look-up never hides the rest of the report."""
    try:
        return future.result()
    except Exception as error:  # pylint: disable=broad-except
        return [skipped(name, NOT_CHECKED.format(_error_text(error))) for name in names]


# ---- the pipeline ------------------------------------------------------------------------------------------

def pipeline_state_check(facts):
    if facts.state == 'Succeeded':
        return passed(NAME_PIPELINE, PIPELINE_SUCCEEDED.format(kind=facts.kind.capitalize(), name=facts.name))
    return failed(NAME_PIPELINE, PIPELINE_NOT_SUCCEEDED.format(facts.state), facts.recreate_command())


def identity_check(facts):
    if facts.principal_known:
        kind = 'user-assigned' if facts.identity.get('userAssignedIdentities') else 'system-assigned'
        return passed(NAME_IDENTITY, IDENTITY_KNOWN.format(kind, facts.principal))
    for resource_id in facts.identity.get('userAssignedIdentities') or {}:
        return failed(NAME_IDENTITY, USER_IDENTITY_UNKNOWN, SHOW_IDENTITY_COMMAND.format(resource_id))
    return failed(NAME_IDENTITY, NO_IDENTITY, facts.command('show', ' --query identity'))


def _needs_principal(name):
    return skipped(name, PRINCIPAL_UNKNOWN.format(NAME_IDENTITY))


# ---- the registry and the caller ---------------------------------------------------------------------------

def _registry_document(cmd, facts):
    from ._registry import registry_document
    return registry_document(cmd, facts.resource_group, facts.registry)


def registry_checks(facts, document_future):
    names = [NAME_REGISTRY] + ([NAME_EXPORT_POLICY] if facts.kind == 'export' else [])
    try:
        document = document_future.result()
    except Exception as error:  # pylint: disable=broad-except
        return [skipped(name, REGISTRY_NOT_READ.format(_error_text(error))) for name in names]
    registry = registry_facts(document, facts.resource_group)
    return [sku_rule(registry)] + ([export_policy_rule(registry)] if facts.kind == 'export' else [])


def registry_id(cli_ctx, facts):
    from azure.cli.core.commands.client_factory import get_subscription_id
    from ._wire import registry_path
    return registry_path(get_subscription_id(cli_ctx), facts.resource_group, facts.registry)


def caller_permissions(cli_ctx, facts):
    """ARM's effective permissions of the caller on the registry: every page's entries."""
    from ._client_factory import cf_acrtransfer
    client = cf_acrtransfer(cli_ctx)
    url = cli_ctx.cloud.endpoints.resource_manager.rstrip('/') + PERMISSIONS_PATH.format(
        registry_id(cli_ctx, facts), PERMISSIONS_API_VERSION)
    entries = []
    for _page in range(MAX_PERMISSION_PAGES):
        body = client.send('GET', url, next_link=True).http_response.json()
        entries.extend((body or {}).get('value') or [])
        url = (body or {}).get('nextLink')
        if not url:
            break
    return entries


def caller_check(cli_ctx, facts, permissions_future):
    """Skipped when ARM does not answer (an Azure Stack, or a sandbox without the API): never a false alarm."""
    from ._sdk import caller_identity
    try:
        permissions = permissions_future.result()
    except Exception as error:  # pylint: disable=broad-except
        if getattr(error, 'status_code', None) == 404:
            return skipped(NAME_CALLER, PERMISSIONS_API_ABSENT)
        return skipped(NAME_CALLER, PERMISSIONS_UNREAD.format(_error_text(error)))
    return caller_rule(facts.kind, permissions, facts.registry, registry_id(cli_ctx, facts), *caller_identity(cli_ctx))


# ---- storage, in either mode ---------------------------------------------------------------------------------

def storage_checks(cli_ctx, facts, lookups, storage_blob):
    """The chain pipeline -> vault -> secret -> storage -> blobs, with the blob questions asked at once."""
    now = datetime.now(timezone.utc)
    container = None
    try:
        if facts.access_mode == MANAGED_IDENTITY:
            results, container = managed_identity_storage_checks(cli_ctx, facts, lookups, storage_blob)
        else:
            results, container = sas_token_checks(cli_ctx, facts, now, lookups, storage_blob)
    except Exception as error:  # pylint: disable=broad-except
        names = (NAME_ACCOUNT, NAME_STORAGE_NETWORK, NAME_STORAGE_ROLE, NAME_CONTAINER) \
            if facts.access_mode == MANAGED_IDENTITY else \
            (NAME_KEY_VAULT, NAME_KEY_VAULT_NETWORK, NAME_KEY_VAULT_ACCESS, NAME_SECRET, NAME_ACCOUNT, NAME_CONTAINER)
        results = [skipped(name, NOT_CHECKED.format(_error_text(error))) for name in names]
    trigger = lookups.pool.submit(trigger_checks, facts, container, now) if facts.kind == 'import' else None
    blob = lookups.pool.submit(storage_blob_check, facts, container, storage_blob) if storage_blob else None
    if trigger is not None:
        results.extend(settle(trigger, [NAME_TRIGGER]))
    if blob is not None:
        from ._blob_rules import NAME_STORAGE_BLOB
        results.extend(settle(blob, [NAME_STORAGE_BLOB]))
    return results


def managed_identity_storage_checks(cli_ctx, facts, lookups, storage_blob):
    """The identity's role is asked of ARM while the container is listed as you."""
    reads_blobs = facts.trigger_enabled or storage_blob
    results, account = managed_identity_checks(facts, lookups)
    if account is None:
        not_contacted = skipped(NAME_CONTAINER, HOST_NOT_CONTACTED.format(host=origin(facts.container_uri),
                                                                          what=AN_ACCOUNT))
        return results + ([not_contacted] if reads_blobs else []), None
    role = lookups.pool.submit(storage_role_check, cli_ctx, facts, account)
    container, listing = caller_container_check(cli_ctx, facts, account) if reads_blobs else (None, None)
    results.extend(settle(role, [NAME_STORAGE_ROLE]))
    return results + ([listing] if listing is not None else []), container


def account_settings_checks(facts, account, sas=None, fix=None):
    """StorageNetwork in both modes; with a token, StorageSharedKey and StorageKeys too."""
    from ._access_lookup import resource_group_of
    settings = account_facts(account, resource_group_of(account.id))
    results = [network_rule(settings)]
    if facts.access_mode != MANAGED_IDENTITY:
        results.append(shared_key_rule(settings))
        results.append(key_age_rule(settings, sas.start, fix) if sas is not None
                       else skipped(NAME_STORAGE_KEYS, NO_USABLE_TOKEN.format(NAME_SAS)))
    return results


def _token_account_checks(facts, account_future, sas, fix):
    """SasToken mode: the account behind the container, when it is in this subscription, and its settings."""
    names = [NAME_STORAGE_NETWORK, NAME_SHARED_KEY, NAME_STORAGE_KEYS]
    try:
        account = account_future.result()
    except Exception as error:  # pylint: disable=broad-except
        why = ACCOUNTS_NOT_LISTED.format(_error_text(error))
        return [skipped(NAME_ACCOUNT, why)] + [skipped(n, ACCOUNT_UNKNOWN.format(NAME_ACCOUNT)) for n in names], None
    if account is None:
        return [skipped(NAME_ACCOUNT, ACCOUNT_NOT_IN_SUBSCRIPTION.format(facts.container_uri))] + \
            [skipped(n, ACCOUNT_UNKNOWN.format(NAME_ACCOUNT)) for n in names], None
    return [passed(NAME_ACCOUNT, ACCOUNT_FOUND_FOR_TOKEN.format(account.name))] + \
        account_settings_checks(facts, account, sas, fix), account


# ---- SasToken mode: Key Vault, the token, storage with the token --------------------------------------------

def sas_token_checks(cli_ctx, facts, now, lookups, storage_blob=None):  # pylint: disable=too-many-arguments
    """(results, a container client with the token when storage accepts it, else None). The caller's Key Vault
    token goes only to a vault ARM lists at the secret URI's origin; the token only to an account ARM lists at
    the container URI's endpoint."""
    results, vault = key_vault_checks(cli_ctx, facts, lookups.vault)
    fix = _sas.new_token_command(facts.account, _sas.required_permissions(facts.kind, facts.options), now,
                                 vault.name if vault is not None else _vault_name_of(facts.secret_uri),
                                 _secret_name_of(facts.secret_uri))
    if vault is None:
        value, secret_result = None, skipped(NAME_SECRET, HOST_NOT_CONTACTED.format(host=origin(facts.secret_uri),
                                                                                    what=A_VAULT))
    else:
        value, secret_result = read_pipeline_secret(cli_ctx, facts, fix)
    results.append(secret_result)
    sas, token_results = token_checks(facts, value, now, fix)
    results.extend(token_results)
    account_results, account = _token_account_checks(facts, lookups.account, sas, fix)
    results.extend(account_results)
    if value is None or sas is None or any_failed(token_results):
        why = TOKEN_UNREAD.format(NAME_SECRET) if value is None else \
            NO_USABLE_TOKEN.format(NAME_SAS) if sas is None else TOKEN_WOULD_BE_REFUSED
        return results + [skipped(NAME_CONTAINER, why)], None
    if account is None:
        return results + [skipped(NAME_CONTAINER, HOST_NOT_CONTACTED.format(host=origin(facts.container_uri),
                                                                            what=AN_ACCOUNT))], None
    container_result, container = container_check(facts, value, fix, lookups.pool, storage_blob)
    results = [key_age_with_storage_answer(r, container_result.status == PASSED) if r.name == NAME_STORAGE_KEYS
               else r for r in results]
    return results + [container_result], container


def token_checks(facts, value, now, fix):
    """(the parsed token or None, its entries)."""
    if value is None:
        return None, [skipped(name, TOKEN_UNREAD.format(NAME_SECRET)) for name in SAS_RULE_NAMES]
    try:
        sas = _sas.parse_sas(value)
    except _sas.SasFormatError as error:
        return None, [failed(NAME_SAS, NOT_A_SAS_TOKEN.format(error), fix)]
    return sas, _sas.sas_rules(sas, facts.kind, facts.options, now, fix)


def key_vault_checks(cli_ctx, facts, vault_future):
    """([KeyVault, KeyVaultNetwork, KeyVaultAccess], the vault or None)."""
    unknown = [skipped(name, VAULT_UNKNOWN.format(NAME_KEY_VAULT))
               for name in (NAME_KEY_VAULT_NETWORK, NAME_KEY_VAULT_ACCESS)]
    try:
        vault = vault_future.result()
    except Exception as error:  # pylint: disable=broad-except
        return [failed(NAME_KEY_VAULT, VAULTS_NOT_LISTED.format(_error_text(error)), LIST_VAULTS_COMMAND)] + \
            unknown, None
    if vault is None:
        return [failed(NAME_KEY_VAULT, NO_VAULT_SERVES.format(origin(facts.secret_uri)), LIST_VAULTS_COMMAND)] + \
            unknown, None
    from ._access_lookup import resource_group_of
    model = 'Azure RBAC' if vault.properties.enable_rbac_authorization else 'access policies'
    found = passed(NAME_KEY_VAULT, VAULT_FOUND.format(vault.name, model))
    network = vault_network_rule(vault_network_facts(vault, resource_group_of(vault.id)))
    if not facts.principal_known:
        return [found, network, _needs_principal(NAME_KEY_VAULT_ACCESS)], vault
    return [found, network, key_vault_access_check(cli_ctx, facts, vault)], vault


def key_vault_access_check(cli_ctx, facts, vault):
    if vault.properties.enable_rbac_authorization:
        holding = RoleHolding(cli_ctx, facts.principal, vault.id)
        if holding.allows(SECRET_GET_ACTION):
            return passed(NAME_KEY_VAULT_ACCESS, VAULT_ROLE_HELD.format(', '.join(holding.names())))
        return failed(NAME_KEY_VAULT_ACCESS,
                      VAULT_ROLE_MISSING.format(held=_held(holding), grant=facts.command('grant')),
                      ROLE_ASSIGNMENT_COMMAND.format(principal=facts.principal, role=KEY_VAULT_ROLE, scope=vault.id))
    permissions = policy_secret_permissions(vault, facts.principal)
    if can_get_secrets(permissions):
        return passed(NAME_KEY_VAULT_ACCESS, POLICY_GIVES_GET)
    has = POLICY_HAS.format(', '.join(sorted(permissions))) if permissions else ''
    return failed(NAME_KEY_VAULT_ACCESS,
                  POLICY_LACKS_GET.format(vault=vault.name, has=has, grant=facts.command('grant')),
                  SET_POLICY_COMMAND.format(vault=vault.name, principal=facts.principal))


def _held(holding):
    names = holding.names()
    return ROLES_HELD.format(', '.join(names)) if names else ''


def read_pipeline_secret(cli_ctx, facts, fix):
    """(value or None, the Secret result). Reading needs the caller's own access; without it, the token's rules
    are Skipped, not Failed: the pipeline's access is what KeyVaultAccess checks."""
    from azure.core.exceptions import AzureError
    from ._sdk import SecretReadError, read_secret
    try:
        value = read_secret(cli_ctx, facts.secret_uri)
    except SecretReadError as error:
        if error.status_code == 404:
            return None, failed(NAME_SECRET, SECRET_MISSING.format(facts.secret_uri, error.code, error), fix)
        return None, skipped(NAME_SECRET, SECRET_UNREADABLE.format(error.status_code, error.code, error))
    except AzureError as error:
        return None, skipped(NAME_SECRET, VAULT_UNREACHABLE.format(_error_text(error)))
    return value, passed(NAME_SECRET, SECRET_EXISTS.format(facts.secret_uri))


def _secret_name_of(secret_uri):
    parts = [p for p in (secret_uri or '').split('/') if p]
    return parts[parts.index('secrets') + 1] if 'secrets' in parts else '<secret name>'


def _vault_name_of(secret_uri):
    from ._access_guidance import vault_name
    return vault_name(secret_uri)


def container_check(facts, sas_value, fix, pool=None, storage_blob=None):  # pylint: disable=too-many-arguments
    """Storage's own answer to the token: list the container's first blob (and meanwhile ask for --storage-blob,
    whose answer counts only if the container lists)."""
    from ._blob_rest import SasContainer
    container = SasContainer(facts.container_uri, sas_value)
    if pool is not None and storage_blob:
        container.prefetch(pool, storage_blob)
    error = container.first_page_error()
    if error is None:
        return passed(NAME_CONTAINER, CONTAINER_LISTS_WITH_TOKEN.format(facts.container)), container
    status, code, text = error
    if code == 'ContainerNotFound':
        return _container_missing(facts), None
    return failed(NAME_CONTAINER, TOKEN_LIST_REFUSED.format(facts.container, status or '', code, text), fix), None


def _container_missing(facts):
    return failed(NAME_CONTAINER, CONTAINER_MISSING.format(container=facts.container, account=facts.account),
                  CREATE_CONTAINER_COMMAND.format(facts.account, facts.container))


def _first_line(error):
    from ._redact import redact
    text = str(getattr(error, 'message', None) or error)
    return redact(text.strip().splitlines()[0] if text.strip() else type(error).__name__)


def _error_text(error):
    return '{} {}'.format(getattr(error, 'status_code', '') or '', _first_line(error)).strip()


# ---- ManagedIdentity mode ----------------------------------------------------------------------------------

def managed_identity_checks(facts, lookups):
    """([StorageAccount, StorageNetwork], the account), or with StorageRole Skipped too when there is none."""
    unknown = [skipped(name, ACCOUNT_UNKNOWN.format(NAME_ACCOUNT)) for name in (NAME_STORAGE_NETWORK,
                                                                                NAME_STORAGE_ROLE)]
    try:
        account = lookups.account.result()
    except Exception as error:  # pylint: disable=broad-except
        return [failed(NAME_ACCOUNT, ACCOUNTS_NOT_LISTED.format(_error_text(error)), LIST_ACCOUNTS_COMMAND)] + \
            unknown, None
    if account is None:
        return [failed(NAME_ACCOUNT, NO_ACCOUNT_SERVES.format(facts.container_uri), LIST_ACCOUNTS_COMMAND)] + \
            unknown, None
    return [passed(NAME_ACCOUNT, ACCOUNT_FOUND.format(account.name))] + account_settings_checks(facts, account), \
        account


def storage_role_check(cli_ctx, facts, account):
    """[StorageRole]: the identity holds a role with the blob actions its runs perform, at the account or above."""
    if not facts.principal_known:
        return [_needs_principal(NAME_STORAGE_ROLE)]
    role = storage_role(facts.kind, facts.options)
    holding = RoleHolding(cli_ctx, facts.principal, account.id)
    if holding.allows(*storage_actions(facts.kind, facts.options)):
        return [passed(NAME_STORAGE_ROLE, STORAGE_ROLE_HELD.format(', '.join(holding.names())))]
    return [failed(NAME_STORAGE_ROLE, STORAGE_ROLE_MISSING.format(role=role, account=account.name, held=_held(holding),
                                                                  grant=facts.command('grant')),
                   ROLE_ASSIGNMENT_COMMAND.format(principal=facts.principal, role=role, scope=account.id))]


def caller_container_check(cli_ctx, facts, account):
    """In ManagedIdentity mode there is no token to read the blobs with: they are read as you, with your Azure AD
    login (as --auth-mode login), or when storage refuses it with the account key from ARM (as az storage does
    when given only --account-name). Without either, the blob checks are Skipped, not Failed: the pipeline's own
    access is what StorageRole checks."""
    from ._sdk import SdkContainer, container_client
    container = SdkContainer(container_client(cli_ctx, facts.container_uri))
    error = container.first_page_error()
    if error is None:
        return container, passed(NAME_CONTAINER, CONTAINER_LISTS_WITH_LOGIN.format(facts.container))
    if error[0] in (401, 403) and account is not None:
        key = _account_key(cli_ctx, account)
        if key:
            keyed = SdkContainer(container_client(cli_ctx, facts.container_uri,
                                                  {'account_name': account.name, 'account_key': key}))
            key_error = keyed.first_page_error()
            if key_error is None:
                return keyed, passed(NAME_CONTAINER, CONTAINER_LISTS_WITH_KEY.format(facts.container, error[0],
                                                                                     error[1]))
            error = key_error
    status, code, text = error
    if code == 'ContainerNotFound':
        return None, _container_missing(facts)
    return None, skipped(NAME_CONTAINER, CONTAINER_UNLISTABLE.format(facts.container, status or '', code, text))


def _account_key(cli_ctx, account):
    """The account's first key, or None when ARM does not give it (no listKeys right, shared keys disabled)."""
    from azure.core.exceptions import HttpResponseError
    from ._access_lookup import resource_group_of
    from ._sdk import storage_account_keys
    try:
        keys = storage_account_keys(cli_ctx, resource_group_of(account.id), account.name)
    except HttpResponseError:
        return None
    return keys[0] if keys else None


# ---- blobs -------------------------------------------------------------------------------------------------

def trigger_checks(facts, container, now):
    if not facts.trigger_enabled:
        return [skipped(NAME_TRIGGER, TRIGGER_DISABLED)]
    if container is None:
        return [skipped(NAME_TRIGGER, BLOBS_NOT_JUDGED)]
    from azure.core.exceptions import AzureError
    try:
        blobs = container.blobs_with_metadata()
    except AzureError as error:
        return [skipped(NAME_TRIGGER, BLOBS_UNLISTED.format(_error_text(error)))]
    if not blobs:
        return [passed(NAME_TRIGGER, CONTAINER_EMPTY)]
    return [trigger_eligibility(blob, now, facts.place) for blob in blobs]


def storage_blob_check(facts, container, blob_name):
    """[StorageBlob]: the blob's properties judged for the pipeline's kind."""
    from azure.core.exceptions import AzureError
    from ._blob_rules import NAME_STORAGE_BLOB
    if container is None:
        return [skipped(NAME_STORAGE_BLOB, CONTAINER_UNREADABLE)]
    try:
        existing = container.blob_facts(blob_name)
    except AzureError as error:  # a 403 or a 5xx on this blob: said, and the other entries stand
        return [skipped(NAME_STORAGE_BLOB, BLOB_UNREAD.format(_error_text(error)))]
    if facts.kind == 'export':
        return [export_blob_rule(blob_name, existing, facts.options, facts.recreate_command('OverwriteBlobs'))]
    return [import_blob_rule(blob_name, existing, facts.place)]


# ---- artifacts -----------------------------------------------------------------------------------------------

def split_artifact(artifact):
    """(repository, reference): the digest when the artifact names one, else its tag."""
    reference = artifact
    if '@' in artifact:
        reference, digest = artifact.split('@', 1)
        return reference.split(':', 1)[0], digest
    repository, _, tag = reference.partition(':')
    return repository, tag


def _registry_client(cli_ctx, facts, document_future):
    from ._registry import RegistryDataClient, login_server_of
    return RegistryDataClient(cli_ctx, login_server_of(document_future.result(), facts.registry))


def artifact_checks(facts, artifact, client_future):
    """[Artifact, Layers] of one artifact, from its manifest in the pipeline's own registry (and each platform's,
    for an index). A registry that cannot be reached from here (private endpoint) or that does not let the caller
    read makes them Skipped: the pipeline's service reaches it differently."""
    from azure.cli.core.azclierror import AzCLIError
    from ._registry import RegistryUnreachable
    names = ['Artifact ' + artifact, NAME_LAYERS.format(artifact)]
    try:
        client = client_future.result()
        repository, reference = split_artifact(artifact)
        found = client.manifest(repository, reference)
        if found is None:
            return [artifact_result(names[0], artifact, False, facts),
                    skipped(names[1], ARTIFACT_NOT_FOUND_LAYERS)]
        layers = manifest_layers(client, repository, found[1])
    except RegistryUnreachable as error:
        return [skipped(name, REGISTRY_UNREACHABLE.format(error)) for name in names]
    except AzCLIError as error:
        return [skipped(name, REGISTRY_UNREADABLE.format(error)) for name in names]
    return [artifact_result(names[0], artifact, True, facts), layer_rule(artifact, layers)]


def manifest_layers(client, repository, manifest):
    """(platform, layer descriptor) of every layer: of the manifest, or of every manifest an index lists."""
    from ._layer_rules import layers_of, platform_manifests
    platforms = platform_manifests(manifest)
    if platforms is None:
        return layers_of('', manifest)
    # The platforms' manifests at once, in a pool of this artifact's own (a task of check's pool waiting on tasks
    # started after it could wait forever).
    with ThreadPoolExecutor(max_workers=PLATFORM_WORKERS) as pool:
        manifests = list(pool.map(lambda platform: client.manifest(repository, platform[1]), platforms))
    layers = []
    for (label, _digest), found in zip(platforms, manifests):
        if found is not None:
            layers.extend(layers_of(label, found[1]))
    return layers


def artifact_result(name, artifact, exists, facts):
    if exists:
        return passed(name, ARTIFACT_EXISTS.format(artifact, facts.registry))
    fix = SHOW_TAGS_COMMAND.format(facts.registry, split_artifact(artifact)[0])
    if 'ContinueOnErrors' in facts.options:
        return warning(name, ARTIFACT_SKIPPED.format(artifact, facts.registry), fix)
    return failed(name, ARTIFACT_MISSING.format(artifact, facts.registry), fix)
