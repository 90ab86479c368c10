# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The pure parts of check and grant: origins, scopes and role actions, fix commands, the table, the refusal."""

from types import SimpleNamespace

import pytest
from azure.cli.core.azclierror import UnauthorizedError
from azure.core.exceptions import HttpResponseError

from azext_acrtransfer import _access_lookup
from azext_acrtransfer._format import check_table
from azext_acrtransfer.check import PipelineFacts, split_artifact
from azext_acrtransfer.grant import _refused_as_unauthorized

UAI = '/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1'


@pytest.mark.parametrize('uri, expected', [
    ('https://MyVault.vault.azure.net/secrets/sas', 'https://myvault.vault.azure.net'),
    ('https://myvault.vault.azure.net:443/secrets/sas/abc', 'https://myvault.vault.azure.net'),
    ('https://127.0.0.1:30102/', 'https://127.0.0.1:30102'),
])
def test_origin(uri, expected):
    assert _access_lookup.origin(uri) == expected


def test_scope_covers_the_resource_and_its_children_only():
    account = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct'
    assert _access_lookup._covers('/subscriptions/s', account)  # pylint: disable=protected-access
    assert _access_lookup._covers(account, account)  # pylint: disable=protected-access
    assert not _access_lookup._covers(account + '2', account)  # pylint: disable=protected-access
    assert not _access_lookup._covers(account + '/blobServices/default', account)  # pylint: disable=protected-access


def permission(data_actions, not_data_actions=()):
    return SimpleNamespace(data_actions=list(data_actions), not_data_actions=list(not_data_actions))


def test_role_actions_with_wildcards_and_exclusions():
    action = _access_lookup.SECRET_GET_ACTION
    allowed = _access_lookup._action_allowed  # pylint: disable=protected-access
    assert allowed(action, permission(['Microsoft.KeyVault/vaults/*']))
    assert allowed(action.upper(), permission([action]))
    assert not allowed(action, permission(['Microsoft.KeyVault/vaults/*'], ['Microsoft.KeyVault/vaults/secrets/*']))
    assert not allowed(action, permission([]))


def test_storage_actions_per_kind():
    read, write, delete = (_access_lookup.BLOB_ACTION.format(a) for a in ('read', 'write', 'delete'))
    assert _access_lookup.storage_actions('export', []) == [read, write]
    assert _access_lookup.storage_actions('import', []) == [read]
    assert _access_lookup.storage_actions('import', ['DeleteSourceBlobOnSuccess']) == [read, delete]


def test_access_policy_permissions_of_one_principal():
    vault = SimpleNamespace(properties=SimpleNamespace(access_policies=[
        SimpleNamespace(object_id='P1', permissions=SimpleNamespace(secrets=['Get', 'List'])),
        SimpleNamespace(object_id='p2', permissions=SimpleNamespace(secrets=['all']))]))
    assert _access_lookup.policy_secret_permissions(vault, 'p1') == {'get', 'list'}
    assert _access_lookup.can_get_secrets(_access_lookup.policy_secret_permissions(vault, 'p2'))
    assert not _access_lookup.can_get_secrets(_access_lookup.policy_secret_permissions(vault, 'p3'))


def facts(kind='export', mode='SasToken', options=None, identity=None, trigger='Enabled'):
    storage = {'uri': 'https://acct.blob.core.windows.net/transfer', 'storageAccessMode': mode}
    if mode == 'SasToken':
        storage['keyVaultUri'] = 'https://kv.vault.azure.net/secrets/sas'
    properties = {'target' if kind == 'export' else 'source': storage, 'options': options or [],
                  'provisioningState': 'Succeeded', 'trigger': {'sourceTrigger': {'status': trigger}}}
    pipeline = {'name': 'pipe1', 'identity': identity or {'principalId': 'p1'}, 'properties': properties}
    return PipelineFacts(kind, 'rg', 'reg', pipeline)


def test_recreate_command_keeps_every_setting_and_grants():
    command = facts(options=['ContinueOnErrors'], identity={'userAssignedIdentities': {UAI: {'principalId': 'u'}}}
                    ).recreate_command('OverwriteBlobs')
    assert command == ('az acr export-pipeline delete --resource-group rg --registry reg --name pipe1 && '
                       'az acr export-pipeline create --resource-group rg --registry reg --name pipe1 '
                       '--storage-container-uri https://acct.blob.core.windows.net/transfer --secret-uri '
                       'https://kv.vault.azure.net/secrets/sas --options ContinueOnErrors OverwriteBlobs '
                       '--assign-identity ' + UAI + ' --grant-access')
    imported = facts('import', 'ManagedIdentity', trigger='Disabled').recreate_command()
    assert '--storage-access-mode ManagedIdentity' in imported and '--source-trigger-enabled false' in imported


def test_facts_of_a_pipeline():
    f = facts('import', trigger='Enabled')
    assert f.trigger_enabled and f.account == 'acct' and f.container == 'transfer' and f.principal_known
    assert not facts('export').trigger_enabled
    assert not facts(identity={'type': 'SystemAssigned'}).principal_known


@pytest.mark.parametrize('artifact, expected', [
    ('hello-world:latest', ('hello-world', 'latest')),
    ('a/b@sha256:' + '0' * 64, ('a/b', 'sha256:' + '0' * 64)),
    ('a/b:1.0@sha256:' + '1' * 64, ('a/b', 'sha256:' + '1' * 64)),
])
def test_split_artifact_prefers_the_digest(artifact, expected):
    assert split_artifact(artifact) == expected


def test_check_table_rows():
    rows = check_table([{'name': 'Secret', 'status': 'Failed', 'detail': 'gone', 'fix': 'az x'},
                        {'name': 'Pipeline', 'status': 'Passed', 'detail': 'ok', 'fix': None}])
    assert [list(r.items()) for r in rows] == [
        [('NAME', 'Secret'), ('STATUS', 'Failed'), ('DETAIL', 'gone'), ('FIX', 'az x')],
        [('NAME', 'Pipeline'), ('STATUS', 'Passed'), ('DETAIL', 'ok'), ('FIX', '')]]


class _Forbidden(HttpResponseError):
    def __init__(self):  # pylint: disable=super-init-not-called
        self.status_code = 403
        self.error = SimpleNamespace(code='AuthorizationFailed')


def test_a_403_while_granting_names_the_owners_command():
    with pytest.raises(UnauthorizedError) as error:
        with _refused_as_unauthorized('az role assignment create ...', ' assign roles on it'):
            raise _Forbidden()
    assert 'AuthorizationFailed' in str(error.value) and 'az role assignment create ...' in str(error.value)


def test_other_errors_pass_through():
    with pytest.raises(ValueError):
        with _refused_as_unauthorized('cmd', ''):
            raise ValueError('x')
