# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
from types import SimpleNamespace

import pytest
from azure.cli.core.azclierror import AzureResponseError
from azure.core.exceptions import HttpResponseError

from azext_acrtransfer import pipeline_run as pr
from azext_acrtransfer._client import AsyncOperationFailed
from azext_acrtransfer._wire import ExportRun, ImportRun
from azext_acrtransfer.pipeline_run import describe_failure, failure_hint, is_failed, run_after_failed_polling


def pipeline(mode, secret='https://kv1.vault.azure.net/secrets/sas'):
    storage = {'storageAccessMode': mode}
    if secret:
        storage['keyVaultUri'] = secret
    return {'identity': {'principalId': 'p-42'}, 'properties': {'target': storage}}


def failed_run(message):
    return {'name': 'run1', 'properties': {'provisioningState': 'Failed',
                                           'response': {'status': 'Failed', 'pipelineRunErrorMessage': message}}}


def test_failed_runs_are_recognised_by_either_state():
    assert is_failed(failed_run('x'))
    assert is_failed({'properties': {'provisioningState': 'Succeeded', 'response': {'status': 'Failed'}}})
    assert not is_failed({'properties': {'provisioningState': 'Succeeded', 'response': {'status': 'Succeeded'}}})


def test_key_vault_403_hints_at_secret_get():
    message = ("Failed to get secret from Key Vault https://kv1.vault.azure.net/secrets/sas: 403 Forbidden: "
               "the identity does not have secrets get permission on key vault 'kv1'")
    text = describe_failure(failed_run(message), pipeline('SasToken'))
    assert text.startswith("Pipeline run 'run1' failed: Failed to get secret")
    assert 'az keyvault set-policy --name kv1 --secret-permissions get --object-id p-42' in text.splitlines()[1]


def test_storage_403_hints_depend_on_the_access_mode():
    message = 'Storage request failed: 403 AuthorizationFailure (This request is not authorized)'
    assert 'srt=sco' in failure_hint(message, pipeline('SasToken'))
    assert 'Storage Blob Data' in failure_hint(message, pipeline('ManagedIdentity', secret=None))


def test_other_failures_get_no_hint():
    run = failed_run('Blob https://a.blob.core.windows.net/c/b already exists')
    text = describe_failure(run, pipeline('SasToken'))
    assert '\n' not in text
    assert describe_failure({'name': 'r', 'properties': {'provisioningState': 'Failed'}}, pipeline('SasToken')) == \
        "Pipeline run 'r' failed: the service gave no error message"


class FakeRuns:
    """pipeline_runs.get answering the given runs in order (the last one repeats)."""

    def __init__(self, *runs):
        self.runs, self.reads = list(runs), 0

    def get(self, *_):
        self.reads += 1
        return self.runs.pop(0) if len(self.runs) > 1 else self.runs[0]


def client_with(*runs):
    return SimpleNamespace(pipeline_runs=FakeRuns(*runs))


def creating():
    return {'name': 'run1', 'properties': {'provisioningState': 'Creating', 'response': {'status': 'Running'}}}


def settle(client, error, **kwargs):
    return run_after_failed_polling(client, 'rg', 'reg1', 'run1', pipeline('SasToken'), error, interval=0, **kwargs)


def test_a_failed_operation_ends_in_the_services_code_and_message():
    error = AsyncOperationFailed('PUT pipelineRuns/run1', 'Failed', 'KeyVaultForbidden', 'secret get denied: 403')
    client = client_with(creating())
    with pytest.raises(AzureResponseError) as raised:
        settle(client, error)
    assert str(raised.value).startswith("Pipeline run 'run1' failed: (KeyVaultForbidden) secret get denied: 403")
    assert 'set-policy' in str(raised.value) and client.pipeline_runs.reads == 0


def test_a_failed_operation_without_a_reason_rereads_the_run_until_it_is_terminal():
    client = client_with(creating(), creating(), failed_run('Storage request failed: blob exists'))
    run = settle(client, AsyncOperationFailed('PUT pipelineRuns/run1', 'Failed'))
    assert run['properties']['response']['pipelineRunErrorMessage'] == 'Storage request failed: blob exists'
    assert client.pipeline_runs.reads == 3


def test_the_rereads_are_bounded():
    client = client_with(creating())
    with pytest.raises(AzureResponseError, match="ended its operation Failed without an error message.*'Running'"):
        settle(client, AsyncOperationFailed('PUT pipelineRuns/run1', 'Failed'), rereads=4)
    assert client.pipeline_runs.reads == 5


def test_other_polling_errors_stand_unless_the_run_failed():
    error = HttpResponseError(message='(InternalServerError) try later')
    with pytest.raises(HttpResponseError, match='try later'):
        settle(client_with(creating()), error)
    assert is_failed(settle(client_with(failed_run('boom')), error))


class _Runs:
    def __init__(self, runs):
        self.runs = runs

    def list(self, _group, _registry):
        return iter(self.runs)


class _Client:
    def __init__(self, runs):
        self.pipeline_runs = _Runs(runs)


def _listed(name, pipeline, started, status, state='Succeeded'):
    return {'name': name, 'properties': {
        'provisioningState': state,
        'request': {'pipelineResourceId': '/s/rg/providers/Microsoft.ContainerRegistry/registries/r/'
                                          'exportPipelines/' + pipeline},
        'response': {'status': status, 'startTime': started}}}


RUNS = [_listed('old1', 'pipeA', '2026-01-01T00:00:00Z', 'Succeeded'),
        _listed('new1', 'pipeB', '2026-01-03T00:00:00Z', 'Running', 'Creating'),
        _listed('mid1', 'pipeA', '2026-01-02T00:00:00Z', 'Failed', 'Failed'),
        _listed('unstarted1', 'pipeA', None, 'Running', 'Creating')]


def test_list_is_newest_first_with_and_without_top():
    names = [run['name'] for run in pr.list_pipeline_runs(_Client(RUNS), 'rg', 'r')]
    assert names == ['new1', 'mid1', 'old1', 'unstarted1']
    assert [run['name'] for run in pr.list_pipeline_runs(_Client(RUNS), 'rg', 'r', top=2)] == ['new1', 'mid1']


def test_list_filters_by_pipeline_and_status_before_top():
    client = _Client(RUNS)
    assert [r['name'] for r in pr.list_pipeline_runs(client, 'rg', 'r', pipeline_name='PIPEA')] == [
        'mid1', 'old1', 'unstarted1']
    assert [r['name'] for r in pr.list_pipeline_runs(client, 'rg', 'r', status='Running')] == ['new1', 'unstarted1']
    assert [r['name'] for r in pr.list_pipeline_runs(client, 'rg', 'r', pipeline_name='pipeA', status='Succeeded',
                                                     top=5)] == ['old1']
    assert [r['name'] for r in pr.list_pipeline_runs(client, 'rg', 'r', pipeline_name='pipeA', top=1)] == ['mid1']


def test_same_request_compares_pipeline_blob_and_artifacts():
    existing = {'properties': {'request': {'pipelineResourceId': '/X/exportPipelines/P', 'artifacts': ['a:1'],
                                           'target': {'type': 'AzureStorageBlob', 'name': 'b.tar'}}}}
    assert pr.same_request(existing, ExportRun('/x/exportpipelines/p', 'b.tar', ('a:1',)).to_wire())
    assert not pr.same_request(existing, ExportRun('/x/exportpipelines/p', 'c.tar', ('a:1',)).to_wire())
    assert not pr.same_request(existing, ExportRun('/x/exportpipelines/p', 'b.tar', ('a:2',)).to_wire())
    assert not pr.same_request(existing, ImportRun('/x/importpipelines/p', 'b.tar').to_wire())
