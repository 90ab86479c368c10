# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Command-level behaviour through az in-process: refusals before any request, configuration, help."""

import json
import os
from unittest import mock

import pytest

from azcli import run_az, set_config
from replay import started_threads, strict_replay

REG = ['-g', 'rg1', '-r', 'myregistry']
CONTAINER = 'https://mystorage.blob.core.windows.net/transfer'
SECRET = 'https://myvault.vault.azure.net/secrets/sas'
LIST_URL = ('https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/'
            'providers/Microsoft.ContainerRegistry/registries/myregistry/importPipelines?api-version={}')

BAD_COMMANDS = {
    'short registry': ['acr', 'export-pipeline', 'list', '-g', 'rg1', '-r', 'abc'],
    'bad pipeline name': ['acr', 'export-pipeline', 'show', *REG, '-n', 'my-pipe'],
    'no mode, no secret': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER],
    'managed identity with secret': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER,
                                     '-m', 'ManagedIdentity', '-s', SECRET],
    'sas token without secret': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER,
                                 '-m', 'SasToken'],
    'http container': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-s', SECRET,
                       '-c', 'http://mystorage.blob.core.windows.net/transfer'],
    'sas in container uri': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-s', SECRET,
                             '-c', CONTAINER + '?sv=1&sig=SECRETSIG'],
    'bad secret uri': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER,
                       '-s', 'https://myvault.vault.azure.net/keys/k'],
    'import option on export': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER,
                                '-s', SECRET, '--options', 'OverwriteTags'],
    'bad identity': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER, '-s', SECRET,
                     '--assign-identity', 'system'],
    'bad mode': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER, '-m', 'Anonymous'],
    'bad trigger flag': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER, '-s', SECRET,
                         '-e', 'maybe'],
    'bad pipeline type': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'copy',
                          '-b', 'blob'],
    'artifacts on import': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'import',
                            '-b', 'blob', '-a', 'hello:1'],
    'no artifacts on export': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'export',
                               '-b', 'blob'],
    'bad artifact': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'export',
                     '-b', 'blob', '-a', 'Hello:latest'],
    'empty blob': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'export',
                   '-b', '', '-a', 'hello:1'],
    'bad run name': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run', '-t', 'import', '-b', 'b'],
    'top zero': ['acr', 'pipeline-run', 'list', *REG, '--top', '0'],
    'top not a number': ['acr', 'pipeline-run', 'list', *REG, '--top', 'ten'],
    # rules that cannot be bypassed
    'registry with a trailing newline': ['acr', 'export-pipeline', 'list', '-g', 'rg1', '-r', 'myregistry\n'],
    'run name with a trailing newline': ['acr', 'pipeline-run', 'show', *REG, '-n', 'myrun01\n'],
    'resource group climbing out': ['acr', 'pipeline-run', 'show', '-g', 'rg1/../../../rg2', '-r', 'myregistry',
                                    '-n', 'myrun01'],
    'resource group with a query': ['acr', 'pipeline-run', 'list', '-g', 'rg1?x=1', '-r', 'myregistry'],
    'resource group ending in a dot': ['acr', 'pipeline-run', 'clean', '-g', 'rg1.', '-r', 'myregistry'],
    'resource group with a tab': ['acr', 'import-pipeline', 'show', '-g', 'rg\t1', '-r', 'myregistry', '-n', 'pipe1'],
    'control character in a secret uri': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER,
                                          '-s', 'https://myvault.vault.azure.net/sec\nrets/sas'],
    'blob ..': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'import', '-b', '..'],
    'blob of 1025 characters': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'import',
                                '-b', 'b' * 1025],
    'blob ending in a dot': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'import',
                             '-b', 'blob.'],
    'container uri with a password': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-s', SECRET,
                                      '-c', 'https://user:SECRETSIG@mystorage.blob.core.windows.net/transfer'],
    'container uri with port 99999': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-s', SECRET,
                                      '-c', 'https://mystorage.blob.core.windows.net:99999/transfer'],
    'container uri with an invalid host': ['acr', 'export-pipeline', 'create', *REG, '-n', 'pipe1', '-s', SECRET,
                                           '-c', 'https://my_storage!.blob.core.windows.net/transfer'],
    'emulator uri without a container': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-s', SECRET,
                                         '-c', 'https://127.0.0.1:10000/account'],
    'identity with a query': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER, '-s', SECRET,
                              '-i', '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/'
                                    'Microsoft.ManagedIdentity/userAssignedIdentities/id1?api-version=1'],
    'identity with ..': ['acr', 'import-pipeline', 'create', *REG, '-n', 'pipe1', '-c', CONTAINER, '-s', SECRET,
                         '-i', '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/'
                               'Microsoft.ManagedIdentity/userAssignedIdentities/id1/../../x'],
    'artifact with a newline': ['acr', 'pipeline-run', 'create', *REG, '-p', 'pipe1', '-n', 'run01', '-t', 'export',
                                '-b', 'blob', '-a', 'hello:1\n'],
}


@pytest.mark.parametrize('argv', BAD_COMMANDS.values(), ids=BAD_COMMANDS.keys())
def test_bad_input_is_refused_before_any_request(argv):
    with strict_replay([]) as replay:
        result = run_az(argv)
    assert result.exit_code != 0
    assert replay.sent == []
    assert 'ERROR' in result.stderr or 'error' in result.stderr
    assert 'SECRETSIG' not in result.stderr + result.stdout


def test_validation_errors_state_the_rule_and_an_example():
    with strict_replay([]):
        result = run_az(BAD_COMMANDS['bad artifact'])
    assert "Invalid --artifacts value 'Hello:latest'" in result.stderr
    assert 'e.g. hello-world:latest' in result.stderr


def empty_list(api_version):
    return [{'method': 'GET', 'uri': LIST_URL.format(api_version), 'request_body': None, 'status': 200,
             'response_headers': {'content-type': 'application/json'}, 'response_body': '{"value": []}'}]


def test_api_version_can_be_overridden_by_config_and_environment():
    try:
        set_config('acrtransfer', 'api_version', '2023-01-01-preview')
        with strict_replay(empty_list('2023-01-01-preview')) as replay:
            assert run_az(['acr', 'import-pipeline', 'list', *REG]).exit_code == 0
        assert not replay.mismatches and not replay.pending
    finally:
        set_config('acrtransfer', 'api_version', None)
    with mock.patch.dict(os.environ, {'AZURE_ACRTRANSFER_API_VERSION': '2024-11-01-preview'}), \
            strict_replay(empty_list('2024-11-01-preview')) as replay:
        assert run_az(['acr', 'import-pipeline', 'list', *REG]).exit_code == 0
    assert not replay.mismatches and not replay.pending


def test_registry_and_group_come_from_configured_defaults():
    try:
        set_config('defaults', 'acr', 'myregistry')
        set_config('defaults', 'group', 'rg1')
        with strict_replay(empty_list('2025-06-01-preview')) as replay:
            result = run_az(['acr', 'import-pipeline', 'list'])
        assert result.exit_code == 0, result.stderr
        assert not replay.mismatches and not replay.pending
    finally:
        set_config('defaults', 'acr', None)
        set_config('defaults', 'group', None)


COMMANDS = [(group, command) for group in ('export-pipeline', 'import-pipeline')
            for command in ('create', 'show', 'list', 'delete')] + \
    [('pipeline-run', command) for command in ('create', 'show', 'list', 'delete', 'clean', 'wait')]


@pytest.mark.parametrize('group, command', COMMANDS)
def test_every_command_has_help_with_examples(group, command):
    result = run_az(['acr', group, command, '--help'], output=None)
    assert 'Examples' in result.stdout, result.stdout
    assert 'preview' in result.stdout


@pytest.mark.parametrize('group', ['export-pipeline', 'import-pipeline', 'pipeline-run'])
def test_groups_are_marked_preview_and_documented(group):
    result = run_az(['acr', group, '--help'], output=None)
    assert 'Preview' in result.stdout or 'preview' in result.stdout
    assert 'Commands:' in result.stdout


RUN_URL = ('https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/'
           'providers/Microsoft.ContainerRegistry/registries/myregistry/pipelineRuns/myrun01'
           '?api-version=2025-06-01-preview')


def test_sas_signatures_never_reach_output_or_debug_logs():
    message = 'Blob https://a.blob.core.windows.net/c/b?sv=2024&sig=TOPSECRETSIG&se=x already exists'
    body = '{"name": "myrun01", "properties": {"provisioningState": "Failed", "response": ' \
           '{"status": "Failed", "pipelineRunErrorMessage": "%s"}}}' % message
    answer = {'method': 'GET', 'uri': RUN_URL, 'request_body': None, 'status': 200,
              'response_headers': {'content-type': 'application/json'}, 'response_body': body}
    with strict_replay([answer]) as replay:
        result = run_az(['acr', 'pipeline-run', 'show', *REG, '-n', 'myrun01', '--debug'])
    assert result.exit_code == 0 and not replay.pending
    assert 'sig=REDACTED' in result.stdout
    assert 'pipelineRunErrorMessage' in result.stderr  # the debug trace printed the body ...
    assert 'TOPSECRETSIG' not in result.stdout + result.stderr  # ... without the signature


def test_a_run_of_a_missing_pipeline_is_not_sent():
    pipeline_url = RUN_URL.replace('pipelineRuns/myrun01', 'importPipelines/mypipeline')
    not_found = {'method': 'GET', 'uri': pipeline_url, 'request_body': None, 'status': 404,
                 'response_headers': {'content-type': 'application/json'},
                 'response_body': '{"error": {"code": "ResourceNotFound", "message": "not found"}}'}
    listing = {'method': 'GET', 'uri': LIST_URL.format('2025-06-01-preview'), 'request_body': None, 'status': 200,
               'response_headers': {'content-type': 'application/json'},
               'response_body': '{"value": [{"name": "zimport1"}, {"name": "aimport2"}]}'}
    with strict_replay([not_found, listing]) as replay:
        result = run_az(['acr', 'pipeline-run', 'create', *REG, '-p', 'mypipeline', '-n', 'myrun01', '-t', 'import',
                         '-b', 'blob1'])
    assert result.exit_code != 0 and not replay.pending and len(replay.sent) == 2
    assert all(method == 'GET' for method, _, _ in replay.sent)
    assert "Import pipeline 'mypipeline' was not found in registry 'myregistry' (resource group 'rg1'). " \
        "Existing import pipelines (most like it first): aimport2, zimport1." in result.stderr


def test_a_missing_run_in_an_empty_registry_says_there_are_none():
    not_found = {'method': 'GET', 'uri': RUN_URL, 'request_body': None, 'status': 404,
                 'response_headers': {'content-type': 'application/json'},
                 'response_body': '{"error": {"code": "ResourceNotFound", "message": "not found"}}'}
    listing = {'method': 'GET', 'uri': RUN_URL.replace('/myrun01', ''), 'request_body': None, 'status': 200,
               'response_headers': {'content-type': 'application/json'}, 'response_body': '{"value": []}'}
    with strict_replay([not_found, listing]) as replay:
        result = run_az(['acr', 'pipeline-run', 'show', *REG, '-n', 'myrun01'])
    assert result.exit_code != 0 and not replay.pending
    assert "Pipeline run 'myrun01' was not found" in result.stderr and 'has no pipeline runs' in result.stderr


PIPELINE_URL = RUN_URL.replace('pipelineRuns/myrun01', 'importPipelines/mypipeline')
OPERATION_URL = RUN_URL.replace('?', '/operationStatuses/op1?')
PIPELINE_BODY = ('{"id": "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/'
                 'myregistry/importPipelines/mypipeline", "name": "mypipeline", "identity": {"principalId": "p1"}, '
                 '"properties": {"source": {"storageAccessMode": "ManagedIdentity"}}}')


def answer(method, uri, body, status=200, headers=None):
    return {'method': method, 'uri': uri, 'request_body': None if method != 'PUT' else body[1], 'status': status,
            'response_headers': dict({'content-type': 'application/json'}, **(headers or {})),
            'response_body': body if method != 'PUT' else body[0]}


def run_put(run_state='Creating'):
    sent = ('{"properties": {"request": {"pipelineResourceId": "/subscriptions/s/resourceGroups/rg1/providers/'
            'Microsoft.ContainerRegistry/registries/myregistry/importPipelines/mypipeline", "source": '
            '{"type": "AzureStorageBlob", "name": "blob1"}}}}')
    answered = '{"name": "myrun01", "properties": {"provisioningState": "%s"}}' % run_state
    return answer('PUT', RUN_URL, (answered, sent), 201, {'Azure-AsyncOperation': OPERATION_URL, 'Retry-After': '0'})


# create asks whether a run of that name with these parameters exists (it would start nothing); here none does.
NO_RUN_YET = answer('GET', RUN_URL, '{"error": {"code": "ResourceNotFound", "message": "not found"}}', 404)
CREATE_IMPORT_RUN = ['acr', 'pipeline-run', 'create', *REG, '-p', 'mypipeline', '-n', 'myrun01', '-t', 'import',
                     '-b', 'blob1']


def test_a_failed_operation_ends_in_the_runs_message_once_the_run_is_terminal():
    creating = '{"name": "myrun01", "properties": {"provisioningState": "Creating"}}'
    failed = ('{"name": "myrun01", "properties": {"provisioningState": "Failed", "response": {"status": "Failed", '
              '"pipelineRunErrorMessage": "Blob blob1 was not found in container transfer."}}}')
    with strict_replay([answer('GET', PIPELINE_URL, PIPELINE_BODY), NO_RUN_YET, run_put(),
                        answer('GET', OPERATION_URL, '{"status": "Failed"}'),
                        answer('GET', RUN_URL, creating), answer('GET', RUN_URL, failed)]) as replay, \
            mock.patch('azext_acrtransfer.pipeline_run.DEFAULT_POLLING_INTERVAL', 0):
        result = run_az(CREATE_IMPORT_RUN)
    assert not replay.mismatches and not replay.pending
    assert result.exit_code != 0
    assert "Pipeline run 'myrun01' failed: Blob blob1 was not found in container transfer." in result.stderr
    assert 'invalid status' not in result.stderr and 'Traceback' not in result.stderr


def test_no_wait_sends_nothing_after_the_put():
    with strict_replay([answer('GET', PIPELINE_URL, PIPELINE_BODY), NO_RUN_YET, run_put()]) as replay, \
            started_threads() as threads:
        result = run_az(CREATE_IMPORT_RUN + ['--no-wait'])
    assert result.exit_code == 0, result.stderr
    assert threads == [], 'the command started a thread (a poller): {}'.format(threads)
    assert [method for method, _, _ in replay.sent] == ['GET', 'GET', 'PUT'] and not replay.mismatches


@pytest.mark.parametrize('argv', [['acr', 'pipeline-run', 'show', *REG, '-n', 'myrun01'],
                                  ['acr', 'pipeline-run', 'list', *REG]])
def test_an_html_answer_is_an_error_without_a_traceback(argv):
    uri = RUN_URL if 'show' in argv else RUN_URL.replace('/myrun01', '')
    html = {'method': 'GET', 'uri': uri, 'request_body': None, 'status': 200,
            'response_headers': {'content-type': 'text/html'}, 'response_body': '<html>Gateway</html>'}
    with strict_replay([html]):
        result = run_az(argv)
    assert result.exit_code != 0
    assert 'Traceback' not in result.stderr and '(HTTP 200) is not the JSON document' in result.stderr


SAS_URL = 'https://a.blob.core.windows.net/transfer/blob1?sv=2024-01-01&sig=TOPSECRETSIG&se=2030'
ENCODED_SAS = 'https%3A%2F%2Fa.blob.core.windows.net%2Ft%2Fb%3Fsv%3D1%26sig%3DENCODEDSECRET%26se%3D2'


def test_a_400_quoting_a_storage_url_is_redacted_in_the_error_and_the_debug_trace():
    bad = '{"error": {"code": "InvalidParameter", "message": "Cannot reach %s"}}' % SAS_URL
    put = run_put()
    put.update(status=400, response_body=bad, response_headers={'content-type': 'application/json'})
    with strict_replay([answer('GET', PIPELINE_URL, PIPELINE_BODY), NO_RUN_YET, put]) as replay:
        result = run_az(CREATE_IMPORT_RUN + ['--debug'])
    assert result.exit_code != 0 and not replay.pending
    assert 'Cannot reach https://a.blob.core.windows.net/transfer/blob1?sv=2024-01-01&sig=REDACTED' in result.stderr
    assert 'TOPSECRETSIG' not in result.stdout + result.stderr


def test_a_failed_operation_quoting_an_encoded_signature_is_redacted():
    failed = '{"status": "Failed", "error": {"code": "PipelineRunFailed", "message": "copy from %s failed"}}' \
        % ENCODED_SAS
    ended = '{"name": "myrun01", "properties": {"provisioningState": "Failed", "response": {"status": "Failed"}}}'
    with strict_replay([answer('GET', PIPELINE_URL, PIPELINE_BODY), NO_RUN_YET, run_put(),
                        answer('GET', OPERATION_URL, failed), answer('GET', RUN_URL, ended)]) as replay:
        result = run_az(CREATE_IMPORT_RUN + ['--debug'])
    assert result.exit_code != 0 and not replay.pending
    assert "Pipeline run 'myrun01' failed: (PipelineRunFailed) copy from https%3A%2F%2Fa.blob.core.windows.net" \
        in result.stderr
    assert '%26sig%3DREDACTED%26se%3D2' in result.stderr
    assert 'ENCODEDSECRET' not in result.stdout + result.stderr


def test_an_encoded_signature_in_the_runs_message_is_redacted_in_output_and_trace():
    body = ('{"name": "myrun01", "properties": {"provisioningState": "Failed", "response": {"status": "Failed", '
            '"pipelineRunErrorMessage": "blob %s gone"}}}' % ENCODED_SAS)
    with strict_replay([answer('GET', RUN_URL, body)]):
        result = run_az(['acr', 'pipeline-run', 'show', *REG, '-n', 'myrun01', '--debug'])
    assert result.exit_code == 0
    assert '%26sig%3DREDACTED' in result.stdout and 'pipelineRunErrorMessage' in result.stderr
    assert 'ENCODEDSECRET' not in result.stdout + result.stderr


def test_help_says_what_each_option_does_and_what_rerunning_a_name_does():
    export_help = ' '.join(run_az(['acr', 'export-pipeline', 'create', '-h'], output=None).stdout.split())
    import_help = ' '.join(run_az(['acr', 'import-pipeline', 'create', '-h'], output=None).stdout.split())
    for name in ('OverwriteBlobs', 'ContinueOnErrors'):
        assert name + ' (' in export_help
    for name in ('OverwriteTags', 'DeleteSourceBlobOnSuccess', 'ContinueOnErrors'):
        assert name + ' (' in import_help
    run_help = ' '.join(run_az(['acr', 'pipeline-run', 'create', '-h'], output=None).stdout.split())
    assert 'Nothing was started' in run_help and 'with the same pipeline, blob and artifacts' in run_help


def test_a_missing_run_lists_the_newest_runs_first_and_at_most_twenty():
    not_found = {'method': 'GET', 'uri': RUN_URL, 'request_body': None, 'status': 404,
                 'response_headers': {'content-type': 'application/json'},
                 'response_body': '{"error": {"code": "ResourceNotFound", "message": "not found"}}'}
    runs = [{'name': 'run{:02d}'.format(day), 'properties': {'response': {
        'startTime': '2026-01-{:02d}T00:00:00Z'.format(day)}}} for day in range(1, 26)]
    listing = {'method': 'GET', 'uri': RUN_URL.replace('/myrun01', ''), 'request_body': None, 'status': 200,
               'response_headers': {'content-type': 'application/json'},
               'response_body': json.dumps({'value': runs})}
    with strict_replay([not_found, listing]):
        result = run_az(['acr', 'pipeline-run', 'show', *REG, '-n', 'myrun01'])
    shown = ', '.join('run{:02d}'.format(day) for day in range(25, 5, -1))
    assert 'Existing pipeline runs (newest first): {} and 5 more.'.format(shown) in result.stderr


def test_a_misspelt_pipeline_name_leads_the_existing_names_however_many_there_are():
    from azext_acrtransfer._existing import MAX_NAMES_SHOWN, most_like_first
    names = ['pipe{:03d}'.format(index) for index in range(MAX_NAMES_SHOWN * 2)] + ['zexporter42']
    ordered = most_like_first('zexporter4', names)
    assert ordered[0] == 'zexporter42' and sorted(ordered) == sorted(names)
    assert most_like_first('nothinglikeit', ['b1', 'a2']) == ['b1', 'a2']
