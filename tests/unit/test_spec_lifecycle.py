# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""create, wait, list and clean through az against a scripted ARM that answers in the spec's lifecycle: the run's
PUT answers provisioningState Succeeded with response.status Running and a string percentage, its operation has
already Succeeded, and the run moves on (or fails, provisioningState still Succeeded) only on later GETs."""

import json
from unittest import mock

import pytest

from azcli import run_az
from replay import strict_replay
from test_commands import CREATE_IMPORT_RUN, NO_RUN_YET, OPERATION_URL, PIPELINE_BODY, PIPELINE_URL, REG, RUN_URL, \
    answer, run_put

LIST_RUNS_URL = RUN_URL.replace('/myrun01', '')
DELETE = 'DELETE'


def spec_run(status, percentage=None, message=None, name='myrun01'):
    response = {'status': status}
    if percentage is not None:
        response['progress'] = {'percentage': percentage}
    if message:
        response['pipelineRunErrorMessage'] = message
    return {'name': name, 'properties': {
        'provisioningState': 'Succeeded', 'response': response,
        'request': {'pipelineResourceId': json.loads(PIPELINE_BODY)['id'],
                    'source': {'type': 'AzureStorageBlob', 'name': 'blob1'}}}}


def get_run(run, headers=None):
    return answer('GET', RUN_URL, json.dumps(run), headers=dict({'Retry-After': '0'}, **(headers or {})))


def spec_put():
    put = run_put()
    put['response_body'] = json.dumps(spec_run('Running', '20'))
    return put


OPERATION_SUCCEEDED = answer('GET', OPERATION_URL, '{"status": "Succeeded"}')
CREATE_START = [answer('GET', PIPELINE_URL, PIPELINE_BODY), NO_RUN_YET, spec_put()]


@pytest.fixture(autouse=True)
def no_pause():
    with mock.patch('azext_acrtransfer.pipeline_run.DEFAULT_POLLING_INTERVAL', 0):
        yield


def test_create_follows_the_run_past_its_succeeded_operation_until_the_run_succeeds():
    with strict_replay(CREATE_START + [OPERATION_SUCCEEDED, get_run(spec_run('Running', '60')),
                                       get_run(spec_run('Succeeded'))]) as replay:
        result = run_az(CREATE_IMPORT_RUN)
    assert not replay.mismatches and not replay.pending, replay.mismatches
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)['response']['status'] == 'Succeeded'


def test_a_run_failing_after_provisioning_succeeded_exits_non_zero_with_its_own_message():
    message = 'Storage request failed: 403 AuthorizationPermissionMismatch on container transfer'
    with strict_replay(CREATE_START + [OPERATION_SUCCEEDED, get_run(spec_run('Running', '40')),
                                       get_run(spec_run('Failed', message=message))]) as replay:
        result = run_az(CREATE_IMPORT_RUN)
    assert not replay.mismatches and not replay.pending, replay.mismatches
    assert result.exit_code != 0
    assert "Pipeline run 'myrun01' failed: " + message in result.stderr
    assert 'Storage Blob Data' in result.stderr   # the pipeline uses its managed identity


def test_a_failed_operation_with_a_generic_message_keeps_its_code_and_the_runs_message():
    failed = '{"status": "Failed", "error": {"code": "PipelineRunFailed", "message": "The pipeline run failed."}}'
    own = 'Blob blob1 was not found in container transfer.'
    with strict_replay(CREATE_START + [answer('GET', OPERATION_URL, failed),
                                       get_run(spec_run('Failed', message=own))]) as replay:
        result = run_az(CREATE_IMPORT_RUN)
    assert not replay.mismatches and not replay.pending, replay.mismatches
    assert result.exit_code != 0
    assert "Pipeline run 'myrun01' failed: (PipelineRunFailed) The pipeline run failed.; " + own in result.stderr


def test_no_wait_refuses_a_put_answer_that_is_not_json():
    put = run_put()
    put.update(status=200, response_headers={'content-type': 'text/html'}, response_body='<html>proxy</html>')
    with strict_replay([answer('GET', PIPELINE_URL, PIPELINE_BODY), NO_RUN_YET, put]) as replay:
        result = run_az(CREATE_IMPORT_RUN + ['--no-wait'])
    assert not replay.pending
    assert result.exit_code != 0 and '(HTTP 200) is not the JSON document' in result.stderr
    assert 'Traceback' not in result.stderr


def test_wait_tolerates_a_transient_read_error_and_ends_with_the_runs_outcome():
    busy = answer('GET', RUN_URL, '{"error": {"code": "ServiceUnavailable", "message": "busy"}}', 503)
    script = [get_run(spec_run('Running', '20')), answer('GET', PIPELINE_URL, PIPELINE_BODY)] + [busy] * 4 + \
        [get_run(spec_run('Running', '80')), get_run(spec_run('Canceled'))]
    with strict_replay(script) as replay, mock.patch('azure.core.pipeline.policies.RetryPolicy.sleep'):
        result = run_az(['acr', 'pipeline-run', 'wait', *REG, '-n', 'myrun01'])
    assert not replay.mismatches and not replay.pending, replay.mismatches
    assert result.exit_code != 0 and "Pipeline run 'myrun01' was canceled" in result.stderr


def listed_runs():
    """Both lifecycles side by side: failed2 failed the way provisioningState follows the run."""
    failed_in_provisioning = spec_run('Failed', name='failed2')
    failed_in_provisioning['properties']['provisioningState'] = 'Failed'
    return [spec_run('Running', '20', name='going1'), spec_run('Failed', message='boom', name='failed1'),
            spec_run('Succeeded', name='done1'), spec_run('Canceled', name='canceled1'), failed_in_provisioning]


def listing():
    return answer('GET', LIST_RUNS_URL, json.dumps({'value': listed_runs()}))


@pytest.mark.parametrize('status, names', [('Running', ['going1']), ('Failed', ['failed1', 'failed2']),
                                           ('Canceled', ['canceled1']), ('Succeeded', ['done1'])])
def test_list_status_selects_by_the_runs_outcome(status, names):
    with strict_replay([listing()]):
        result = run_az(['acr', 'pipeline-run', 'list', *REG, '--status', status])
    assert result.exit_code == 0, result.stderr
    assert sorted(run['name'] for run in json.loads(result.stdout)) == names


def test_clean_deletes_exactly_the_failed_runs_and_leaves_the_running_one_alone(monkeypatch):
    monkeypatch.setenv('AZURE_ACRTRANSFER_CLEAN_CONCURRENCY', '1')   # the replay answers in order
    deletes = [answer(DELETE, RUN_URL.replace('myrun01', name), '', 200) for name in ('failed1', 'failed2')]
    with strict_replay([listing()] + deletes) as replay:
        result = run_az(['acr', 'pipeline-run', 'clean', *REG])
    assert not replay.mismatches and not replay.pending, replay.mismatches
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)['deletedRuns'] == ['failed1', 'failed2']
    assert '1 pipeline-run(s) still running are left alone.' in result.stderr
