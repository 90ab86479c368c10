# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
import time
from types import SimpleNamespace

import pytest
from azure.cli.core.azclierror import AzureResponseError, UnclassifiedUserFault
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError

from azext_acrtransfer import pipeline_run as pr
from azext_acrtransfer._client import AsyncOperationFailed
from azext_acrtransfer._wire import ExportRun, ImportRun
from azext_acrtransfer._runs import is_failed
from azext_acrtransfer.pipeline_run import describe_failure, failure_hint


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
    """pipeline_runs.get_paced answering the given runs (or raising the given errors) in order; the last repeats."""

    def __init__(self, *runs):
        self.runs, self.reads = list(runs), 0

    def get_paced(self, *_):
        self.reads += 1
        answer = self.runs.pop(0) if len(self.runs) > 1 else self.runs[0]
        if isinstance(answer, Exception):
            raise answer
        return answer, 0


class NoProgress:
    def __init__(self):
        self.seen = []

    def update(self, run):
        self.seen.append(run)


def client_with(*runs):
    return SimpleNamespace(pipeline_runs=FakeRuns(*runs))


def creating():
    return {'name': 'run1', 'properties': {'provisioningState': 'Creating', 'response': {'status': 'Running'}}}


def spec_running(percentage='20'):
    """The spec's lifecycle: the resource is created (Succeeded) while the transfer runs."""
    return {'name': 'run1', 'properties': {'provisioningState': 'Succeeded', 'response': {
        'status': 'Running', 'progress': {'percentage': percentage}}}}


def spec_failed(message):
    return {'name': 'run1', 'properties': {'provisioningState': 'Succeeded', 'response': {
        'status': 'Failed', 'pipelineRunErrorMessage': message}}}


def follow(client, **kwargs):
    return pr.follow_run(client, 'rg', 'reg1', 'run1', NoProgress(), **kwargs)


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(pr, 'DEFAULT_POLLING_INTERVAL', 0)


def test_a_run_is_followed_past_provisioning_succeeded_until_its_status_is_terminal():
    done = {'name': 'run1', 'properties': {'provisioningState': 'Succeeded', 'response': {'status': 'Succeeded'}}}
    client = client_with(spec_running('20'), spec_running('60'), done)
    progress = NoProgress()
    assert pr.follow_run(client, 'rg', 'reg1', 'run1', progress) == done
    assert client.pipeline_runs.reads == 3
    assert [r['properties']['response']['progress']['percentage'] for r in progress.seen] == ['20', '60']


def test_transient_read_errors_are_tolerated_up_to_the_limit_and_final_ones_are_not():
    reset = ServiceRequestError('connection reset')
    client = client_with(reset, HttpResponseError(message='busy', response=None), spec_failed('x'))
    assert is_failed(follow(client)) and client.pipeline_runs.reads == 3
    with pytest.raises(ServiceRequestError):
        follow(client_with(reset))
    gone = ResourceNotFoundError(message='run deleted')
    client = client_with(gone, spec_failed('x'))
    with pytest.raises(ResourceNotFoundError):
        follow(client)
    assert client.pipeline_runs.reads == 1


def test_reads_bound_the_following_and_a_deadline_times_out():
    client = client_with(creating())
    assert follow(client, reads=4) == creating() and client.pipeline_runs.reads == 4
    with pytest.raises(UnclassifiedUserFault, match="Timed out waiting for pipeline run 'run1': it is still Running"):
        follow(client_with(creating()), run=creating(), deadline=time.monotonic())


def test_a_failure_after_provisioning_succeeded_fails_with_the_runs_own_message():
    run = follow(client_with(spec_running(), spec_failed('Storage request failed: 403 AuthorizationFailure')))
    with pytest.raises(AzureResponseError) as raised:
        pr.outcome(run, pipeline('SasToken'))
    assert str(raised.value).startswith("Pipeline run 'run1' failed: Storage request failed: 403")
    assert 'srt=sco' in str(raised.value)


def test_a_generic_failed_operation_keeps_its_code_and_the_runs_own_message():
    error = AsyncOperationFailed('PUT pipelineRuns/run1', 'Failed', 'PipelineRunFailed', 'The pipeline run failed.')
    with pytest.raises(AzureResponseError) as raised:
        pr.outcome(spec_failed('Blob b.tar exists in container c'), pipeline('SasToken'), error)
    assert str(raised.value) == ("Pipeline run 'run1' failed: (PipelineRunFailed) The pipeline run failed.; "
                                 "Blob b.tar exists in container c")


def test_a_failed_operation_fails_the_command_even_when_the_run_still_runs():
    error = AsyncOperationFailed('PUT pipelineRuns/run1', 'Failed', 'KeyVaultForbidden', 'secret get denied: 403')
    with pytest.raises(AzureResponseError) as raised:
        pr.outcome(creating(), pipeline('SasToken'), error)
    assert "(KeyVaultForbidden) secret get denied: 403; the run still reads 'Running'" in str(raised.value)


def test_a_canceled_run_exits_non_zero_and_says_canceled():
    canceled = {'name': 'run1', 'properties': {'provisioningState': 'Canceled'}}
    with pytest.raises(AzureResponseError, match="Pipeline run 'run1' was canceled: the service gave no error"):
        pr.outcome(canceled, pipeline('SasToken'))


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
