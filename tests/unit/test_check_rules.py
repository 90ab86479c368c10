# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The rules of check's second list (storage and vault networks, shared keys, key age, registry, caller, layers),
each healthy and broken; the error paths; and the host guard: no credential to a host ARM did not list."""

import time
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from azure.cli.core.azclierror import AzureResponseError

from azext_acrtransfer import _caller_rules, _layer_rules, _registry_rules, _storage_rules, _vault_rules, check
from azext_acrtransfer._check_result import FAILED, PASSED, SKIPPED, WARNING

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
EVIL = 'https://collector.example.net:4443'
ACCOUNT_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct'
VAULT_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv'
GIB = 1024 ** 3


def account(**properties):
    fields = dict(name='acct', id=ACCOUNT_ID, public_network_access=None, network_rule_set=None,
                  allow_shared_key_access=None, key_creation_time=None)
    fields.update(properties)
    return SimpleNamespace(**fields)


def acls(action, bypass='AzureServices'):
    return SimpleNamespace(default_action=SimpleNamespace(value=action), bypass=bypass)


def settings(**properties):
    return _storage_rules.account_facts(account(**properties), 'rg')


# ---- storage ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('properties', [{}, {'public_network_access': 'Enabled', 'network_rule_set': acls('Allow')}])
def test_storage_reachable_is_passed(properties):
    assert _storage_rules.network_rule(settings(**properties)).status == PASSED


@pytest.mark.parametrize('properties, words', [
    ({'public_network_access': 'Disabled'}, 'public network access Disabled'),
    ({'network_rule_set': acls('Deny')}, 'bypass AzureServices'),
])
def test_storage_behind_a_firewall_fails_with_the_documented_way_out(properties, words):
    result = _storage_rules.network_rule(settings(**properties))
    assert result.status == FAILED and words in result.detail and 'not a trusted service' in result.detail
    assert result.fix == ('az storage account update --resource-group rg --name acct --public-network-access Enabled '
                          '--default-action Allow')


@pytest.mark.parametrize('allowed, status', [(None, PASSED), (True, PASSED), (False, FAILED)])
def test_shared_key_access(allowed, status):
    result = _storage_rules.shared_key_rule(settings(allow_shared_key_access=allowed))
    assert result.status == status
    if status == FAILED:
        assert 'KeyBasedAuthenticationNotPermitted' in result.detail and 'ManagedIdentity' in result.detail
        assert result.fix.endswith('--allow-shared-key-access true')


def test_a_renewed_key_is_no_warning_once_storage_accepts_the_token():
    times = SimpleNamespace(key1=NOW - timedelta(days=90), key2=NOW - timedelta(hours=1))
    warned = _storage_rules.key_age_rule(settings(key_creation_time=times), NOW - timedelta(days=1), 'az fix')
    assert _storage_rules.key_age_with_storage_answer(warned, True).status == PASSED
    assert _storage_rules.key_age_with_storage_answer(warned, False).status == WARNING


def test_keys_renewed_after_the_token_started_warn():
    times = SimpleNamespace(key1=NOW - timedelta(hours=1), key2=NOW - timedelta(days=90))
    facts = settings(key_creation_time=times)
    assert _storage_rules.key_age_rule(facts, NOW - timedelta(days=1), 'az fix').status == WARNING
    assert 'key1' in _storage_rules.key_age_rule(facts, NOW - timedelta(days=1), 'az fix').detail
    assert _storage_rules.key_age_rule(facts, NOW, 'az fix').status == PASSED
    assert _storage_rules.key_age_rule(facts, None, 'az fix').status == SKIPPED
    assert _storage_rules.key_age_rule(settings(), NOW, 'az fix').status == SKIPPED


# ---- key vault --------------------------------------------------------------------------------------------------

def vault_facts(public=None, action=None, bypass=None):
    return _vault_rules.VaultNetworkFacts('kv', 'rg', public, action, bypass)


@pytest.mark.parametrize('facts', [vault_facts(), vault_facts('Enabled', 'Allow', 'None'),
                                   vault_facts('Enabled', 'Deny', 'AzureServices')])
def test_vault_reachable_by_acr_is_passed(facts):
    assert _vault_rules.vault_network_rule(facts).status == PASSED


def test_vault_firewall_without_the_bypass_fails():
    result = _vault_rules.vault_network_rule(vault_facts('Enabled', 'Deny', 'None'))
    assert result.status == FAILED and result.fix.endswith('--bypass AzureServices')
    disabled = _vault_rules.vault_network_rule(vault_facts('Disabled'))
    assert disabled.status == FAILED and '--public-network-access Enabled --bypass AzureServices' in disabled.fix


def test_vault_facts_from_an_sdk_model_without_newer_fields():
    vault = SimpleNamespace(name='kv', properties=SimpleNamespace(network_acls=None))
    assert _vault_rules.vault_network_facts(vault, 'rg') == vault_facts()


# ---- the registry -----------------------------------------------------------------------------------------------

def registry(sku='Premium', export=None):
    policies = {'exportPolicy': {'status': export}} if export else {}
    return _registry_rules.registry_facts({'name': 'reg', 'sku': {'name': sku}, 'properties': {'policies': policies}},
                                          'rg')


def test_registry_rules():
    assert _registry_rules.sku_rule(registry()).status == PASSED
    standard = _registry_rules.sku_rule(registry('Standard'))
    assert standard.status == FAILED and standard.fix == 'az acr update --resource-group rg --name reg --sku Premium'
    assert _registry_rules.export_policy_rule(registry(export='enabled')).status == PASSED
    assert _registry_rules.export_policy_rule(registry()).status == PASSED  # never set: enabled
    disabled = _registry_rules.export_policy_rule(registry(export='disabled'))
    assert disabled.status == FAILED and disabled.fix.endswith('--allow-exports true')


def test_the_services_refusal_is_recognised():
    assert _registry_rules.is_export_policy_refusal(400, 'The Export Policy of the registry is disabled.')
    assert not _registry_rules.is_export_policy_refusal(400, 'InvalidStorageUri')
    assert not _registry_rules.is_export_policy_refusal(500, 'export policy')
    assert 'az acr update --resource-group rg --name reg --allow-exports true' in \
        _registry_rules.export_policy_refusal('rg', 'reg')


# ---- the caller -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('permissions', [
    [{'actions': ['*'], 'notActions': []}],
    [{'actions': ['Microsoft.ContainerRegistry/*']}],
    [{'actions': ['Microsoft.ContainerRegistry/registries/pipelineRuns/write',
                  'Microsoft.ContainerRegistry/registries/exportPipelines/read']}],
])
def test_caller_who_may_run_is_passed(permissions):
    assert _caller_rules.caller_rule('export', permissions, 'reg', '/r', 'oid1', 'User').status == PASSED


@pytest.mark.parametrize('permissions, missing', [
    ([{'actions': ['*/read']}], 'pipelineRuns/write'),
    ([{'actions': ['*'], 'notActions': ['Microsoft.ContainerRegistry/registries/pipelineRuns/*']}], 'pipelineRuns'),
    ([{'actions': ['Microsoft.ContainerRegistry/registries/pipelineRuns/write']}], 'importPipelines/read'),
    ([], 'pipelineRuns/write'),
])
def test_caller_without_the_rights_fails_with_the_role_to_assign(permissions, missing):
    result = _caller_rules.caller_rule('import', permissions, 'reg', '/r', 'oid1', 'ServicePrincipal')
    assert result.status == FAILED and missing in result.detail and _caller_rules.TRANSFER_ROLE_ID in result.detail
    assert result.fix == ('az role assignment create --assignee-object-id oid1 --assignee-principal-type '
                          'ServicePrincipal --role "Container Registry Transfer Pipeline Contributor" --scope /r')
    by_name = _caller_rules.caller_rule('import', permissions, 'reg', '/r', None, 'me@example.com')
    assert by_name.fix.startswith('az role assignment create --assignee me@example.com --role ')


def test_not_actions_subtract_only_within_their_own_role():
    permissions = [{'actions': ['*'], 'notActions': ['Microsoft.ContainerRegistry/*']},
                   {'actions': ['Microsoft.ContainerRegistry/registries/*']}]
    assert _caller_rules.caller_rule('export', permissions, 'reg', '/r', 'oid1', 'User').status == PASSED


# ---- layers -----------------------------------------------------------------------------------------------------

def layer(size=1000, media_type='application/vnd.oci.image.layer.v1.tar+gzip', urls=None, digest='sha256:aa'):
    found = {'mediaType': media_type, 'size': size, 'digest': digest}
    if urls:
        found['urls'] = urls
    return found


def test_layers_within_the_limit_are_passed():
    assert _layer_rules.layer_rule('a:1', [('', layer()), ('', layer(8 * GIB))]).status == PASSED


def test_a_layer_over_8_gib_fails_naming_it_and_its_platform():
    layers = [('linux/amd64', layer()), ('linux/arm64', layer(9 * GIB, digest='sha256:big'))]
    result = _layer_rules.layer_rule('a:1', layers)
    assert result.status == FAILED and 'sha256:big' in result.detail and 'linux/arm64' in result.detail


@pytest.mark.parametrize('foreign', [
    layer(media_type='application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest='sha256:ff'),
    layer(media_type='application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest='sha256:ff'),
    layer(urls=['https://mcr.example/layer'], digest='sha256:ff'),
])
def test_a_foreign_layer_warns_naming_it(foreign):
    result = _layer_rules.layer_rule('w:1', [('windows/amd64', layer()), ('windows/amd64', foreign)])
    assert result.status == WARNING and 'sha256:ff' in result.detail


def test_platforms_of_an_index():
    index = {'manifests': [{'digest': 'sha256:1', 'platform': {'os': 'linux', 'architecture': 'arm', 'variant': 'v7'}},
                           {'digest': 'sha256:2'}, 'junk']}
    assert _layer_rules.platform_manifests(index) == [('linux/arm/v7', 'sha256:1'), ('', 'sha256:2')]
    assert _layer_rules.platform_manifests({'layers': []}) is None


def test_manifest_layers_walks_every_platform():
    manifests = {'sha256:1': {'layers': [layer(digest='sha256:l1')]},
                 'sha256:2': {'layers': [layer(digest='sha256:l2')]}}
    client = SimpleNamespace(manifest=lambda _repository, digest: (digest, manifests[digest]))
    index = {'manifests': [{'digest': 'sha256:1', 'platform': {'os': 'linux', 'architecture': 'amd64'}},
                           {'digest': 'sha256:2', 'platform': {'os': 'linux', 'architecture': 'arm64'}}]}
    found = check.manifest_layers(client, 'repo', index)
    assert [(platform, descriptor['digest']) for platform, descriptor in found] == [
        ('linux/amd64', 'sha256:l1'), ('linux/arm64', 'sha256:l2')]


# ---- error paths ------------------------------------------------------------------------------------------------

def failing_future(error):
    future = Future()
    future.set_exception(error)
    return future


def test_a_failing_look_up_becomes_its_own_entries_only():
    entries = check.settle(failing_future(KeyError('unexpected')), ['Artifact a:1', 'Layers a:1'])
    assert [(e.name, e.status) for e in entries] == [('Artifact a:1', SKIPPED), ('Layers a:1', SKIPPED)]


def test_registry_and_caller_failures_are_skipped_not_raised():
    facts = pipeline_facts('export', 'SasToken')
    entries = check.registry_checks(facts, failing_future(AzureResponseError('boom')))
    assert [(e.name, e.status) for e in entries] == [('Registry', SKIPPED), ('ExportPolicy', SKIPPED)]
    absent = check.caller_check(None, facts, failing_future(type('NotFound', (Exception,), {'status_code': 404})()))
    assert absent.status == SKIPPED and 'permissions' in absent.detail


def test_an_unexpected_blob_error_is_an_entry():
    from azure.core.exceptions import HttpResponseError
    from azext_acrtransfer._blob_rest import BlobRequestError

    class Container:
        @staticmethod
        def blob_facts(_name):
            raise HttpResponseError(message='This request is not authorized')

        @staticmethod
        def blobs_with_metadata():
            raise BlobRequestError(503, 'ServerBusy', 'Server busy')
    facts = pipeline_facts('import', 'SasToken')
    [blob] = check.storage_blob_check(facts, Container(), 'b1')
    assert blob.status == SKIPPED and 'not authorized' in blob.detail
    [trigger] = check.trigger_checks(facts, Container(), NOW)
    assert trigger.status == SKIPPED and 'Server busy' in trigger.detail


def test_an_impossible_sas_date_is_a_failed_entry():
    token = 'sv=2021-06-08&ss=b&srt=sco&sp=rwla&se=2030-13-01&spr=https&sig=c2ln'
    sas, entries = check.token_checks(pipeline_facts('export', 'SasToken'), token, NOW, 'az fix')
    assert sas is None and [(e.name, e.status) for e in entries] == [('SasToken', FAILED)]
    assert '2030-13-01' in entries[0].detail


def test_a_token_answer_without_its_field_is_a_clear_error():
    from azext_acrtransfer._registry import RegistryDataClient
    response = SimpleNamespace(status_code=200, json=lambda: {'token': 'x'})
    client = RegistryDataClient.__new__(RegistryDataClient)
    client.login_server = 'reg.example'
    with pytest.raises(AzureResponseError) as error:
        client._token_field(response, '/oauth2/token', 'access_token')  # pylint: disable=protected-access
    assert 'access_token' in str(error.value)


# ---- the host guard ---------------------------------------------------------------------------------------------

def pipeline_facts(kind, mode, host='https://acct.blob.core.windows.net', vault='https://kv.vault.azure.net'):
    storage = {'uri': host + '/acct/transfer' if host.startswith(EVIL) else host + '/transfer',
               'storageAccessMode': mode}
    if mode == 'SasToken':
        storage['keyVaultUri'] = vault + '/secrets/sas'
    properties = {'target' if kind == 'export' else 'source': storage, 'options': [],
                  'provisioningState': 'Succeeded', 'trigger': {'sourceTrigger': {'status': 'Enabled'}}}
    return check.PipelineFacts(kind, 'rg', 'reg', {'name': 'p', 'identity': {'principalId': 'p1'},
                                                   'properties': properties})


class SentRequests(list):
    """A fake transport: every request the SDKs send is written down and refused."""

    def send(self, request, **_):  # set on the transport class: called as transport.send(request)
        from azure.core.exceptions import ServiceRequestError
        self.append((request.url, {k.lower(): v for k, v in request.headers.items()}))
        raise ServiceRequestError('refused by the test transport')


@pytest.fixture(name='transport')
def fake_transport(monkeypatch):
    from azure.core.pipeline.transport import RequestsTransport
    sent = SentRequests()
    monkeypatch.setattr(RequestsTransport, 'send', sent.send)
    monkeypatch.setattr(time, 'sleep', lambda _seconds: None)  # the SDKs' retries of the refused requests
    monkeypatch.setattr('azext_acrtransfer._sdk._login_credential', lambda _cli_ctx: FakeCredential())
    monkeypatch.setattr(check, '_registry_document',
                        lambda *_: {'name': 'reg', 'sku': {'name': 'Premium'}, 'properties': {}})
    monkeypatch.setattr(check, 'caller_permissions', lambda *_: [{'actions': ['*']}])
    return sent


class FakeCredential:  # pylint: disable=too-few-public-methods
    @staticmethod
    def get_token(*_scopes, **_):
        from azure.core.credentials import AccessToken
        return AccessToken('caller-token', int(time.time()) + 3600)


def run_check(facts, monkeypatch, vault=None, found_account=None):
    from azure.cli.core.mock import DummyCli
    monkeypatch.setattr(check, 'list_vaults', lambda *_: [vault] if vault else [])
    monkeypatch.setattr(check, 'list_storage_accounts', lambda *_: [found_account] if found_account else [])
    pipeline = {'name': facts.name, 'identity': {'principalId': 'p1'},
                'properties': {'target' if facts.kind == 'export' else 'source': {
                    'uri': facts.container_uri, 'storageAccessMode': facts.access_mode,
                    'keyVaultUri': facts.secret_uri}, 'provisioningState': 'Succeeded',
                    'trigger': {'sourceTrigger': {'status': 'Enabled'}}}}
    client = SimpleNamespace(get=lambda *_: pipeline)
    results = check.collect_results(SimpleNamespace(cli_ctx=DummyCli()), client, facts.kind, ('rg', 'reg', 'p'),
                                    'blob1', None)
    return {r.name: r for r in results}


def authorized_to(sent, host):
    return [url for url, headers in sent if url.startswith(host) and 'authorization' in headers]


@pytest.mark.parametrize('kind', ['export', 'import'])
def test_sas_mode_sends_nothing_to_an_unlisted_vault_or_account(kind, transport, monkeypatch):
    facts = pipeline_facts(kind, 'SasToken', host=EVIL, vault=EVIL)
    results = run_check(facts, monkeypatch)
    assert not [url for url, _ in transport if url.startswith(EVIL)], transport
    assert results['Secret'].status == SKIPPED and 'collector.example.net:4443 was not contacted' in \
        results['Secret'].detail
    assert results['StorageContainer'].status == SKIPPED


@pytest.mark.parametrize('kind', ['export', 'import'])
def test_managed_identity_mode_sends_no_storage_token_to_an_unlisted_account(kind, transport, monkeypatch):
    results = run_check(pipeline_facts(kind, 'ManagedIdentity', host=EVIL), monkeypatch)
    assert not authorized_to(transport, EVIL), transport
    assert results['StorageAccount'].status == FAILED
    assert results['StorageContainer'].status == SKIPPED and 'not contacted' in results['StorageContainer'].detail


def test_the_guard_is_what_keeps_the_token_away(transport, monkeypatch):
    """The control: once ARM lists a vault at that origin, the secret is asked for there, with the caller's
    token, so the fake transport would see a leak if the guard were missing."""
    vault = SimpleNamespace(name='kv', id=VAULT_ID, properties=SimpleNamespace(
        enable_rbac_authorization=False, access_policies=[], vault_uri=EVIL + '/', network_acls=None))
    run_check(pipeline_facts('export', 'SasToken', host=EVIL, vault=EVIL), monkeypatch, vault=vault)
    assert authorized_to(transport, EVIL)


def test_grant_sends_nothing_for_a_vault_arm_does_not_list(monkeypatch):
    # pylint: disable=protected-access
    from azure.cli.core.azclierror import ResourceNotFoundError
    from azext_acrtransfer import grant
    monkeypatch.setattr(grant, 'find_vault', lambda *_: None)
    monkeypatch.setattr(grant._sdk, 'keyvault_client', lambda *_: pytest.fail('no client'))
    with pytest.raises(ResourceNotFoundError) as error:
        grant._grant_secret_access(SimpleNamespace(cli_ctx=None), 'p1', EVIL + '/secrets/x')
    assert 'collector.example.net:4443' in str(error.value)


def test_a_user_assigned_identity_principal_comes_from_user_assigned_identities():
    uai = '/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1'
    identity = {'type': 'UserAssigned', 'userAssignedIdentities': {uai: {'principalId': 'u1'}}}
    pipeline = {'name': 'p', 'identity': identity,
                'properties': {'target': {'uri': 'https://a.blob.core.windows.net/c'}}}
    facts = check.PipelineFacts('export', 'rg', 'reg', pipeline)
    assert facts.principal == 'u1'
    assert check.identity_check(facts).status == PASSED and 'user-assigned' in check.identity_check(facts).detail
