# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
from azext_acrtransfer import _format as f

RUN = {
    'id': '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/pipelineRuns/run1',
    'name': 'run1', 'type': 'Microsoft.ContainerRegistry/registries/pipelineRuns',
    'systemData': {'createdBy': 'x'},
    'properties': {
        'request': {'pipelineResourceId': '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/'
                                          'registries/r/exportPipelines/export1',
                    'target': {'type': 'AzureStorageBlob', 'name': 'b'}, 'artifacts': ['a:1']},
        'response': {'status': 'Succeeded', 'startTime': '2026-04-07T14:19:27.1223063+00:00',
                     'finishTime': '2026-04-07T15:20:30.5+00:00'},
        'provisioningState': 'Succeeded', 'forceUpdateTag': 't', 'newField': 1}}


def test_flatten_lifts_properties_beside_the_envelope_and_keeps_unknown_fields():
    flat = f.flatten_resource(RUN)
    assert list(flat)[:4] == ['id', 'name', 'type', 'systemData']
    assert flat['request'] == RUN['properties']['request']
    assert flat['provisioningState'] == 'Succeeded' and flat['forceUpdateTag'] == 't' and flat['newField'] == 1
    assert 'properties' not in flat


def test_flatten_output_handles_lists_and_nothing():
    assert f.flatten_output(None) is None
    assert f.flatten_output([RUN])[0]['name'] == 'run1'


def test_sas_signatures_in_run_errors_are_redacted():
    run = {'name': 'r', 'properties': {'response': {
        'pipelineRunErrorMessage': 'GET https://a.blob.core.windows.net/c/b?sv=1&sig=ABC%2Bdef&se=2 failed'}}}
    message = f.flatten_resource(run)['response']['pipelineRunErrorMessage']
    assert 'ABC' not in message and 'sig=REDACTED&se=2' in message


def test_timestamps_with_seven_fraction_digits_and_offsets():
    assert f.format_start_time('2026-04-07T14:19:27.1223063+00:00') == '2026-04-07T14:19:27Z'
    assert f.format_start_time('2026-04-07T16:19:27+02:00') == '2026-04-07T14:19:27Z'
    assert f.format_start_time('2026-04-07T14:19:27Z') == '2026-04-07T14:19:27Z'
    assert f.format_start_time(None) == '' and f.format_start_time('yesterday') == ''


def test_duration_is_hh_mm_ss():
    assert f.format_duration('2026-04-07T14:19:27Z', '2026-04-07T15:20:30.9Z') == '01:01:03'
    assert f.format_duration('2026-04-07T00:00:00Z', '2026-04-08T02:00:05Z') == '26:00:05'
    assert f.format_duration('2026-04-07T00:00:00Z', None) == ''


def test_run_table_row():
    row = f.pipeline_run_table(f.flatten_resource(RUN))
    assert list(row.items()) == [('NAME', 'run1'), ('PIPELINE', 'export1'), ('START_TIME', '2026-04-07T14:19:27Z'),
                                 ('DURATION', '01:01:03'), ('SOURCE_TRIGGER', ''), ('STATUS', 'Succeeded'),
                                 ('ERROR_MESSAGE', '')]


def test_import_runs_show_whether_the_source_trigger_started_them():
    def import_run(name):
        return {'name': name, 'request': {'pipelineResourceId': '/x/importPipelines/import1',
                                          'source': {'type': 'AzureStorageBlob', 'name': 'b'}},
                'response': {'status': 'Failed', 'pipelineRunErrorMessage': 'boom'}}
    rows = f.pipeline_run_table([import_run('import1_abc123'), import_run('manual1')])
    assert [row['SOURCE_TRIGGER'] for row in rows] == ['True', 'False']
    assert rows[0]['ERROR_MESSAGE'] == 'boom' and rows[0]['PIPELINE'] == 'import1'


def test_pipeline_tables():
    export = {'name': 'e1', 'provisioningState': 'Succeeded', 'target': {'uri': 'https://a.blob.x/c'}}
    imp = {'name': 'i1', 'provisioningState': 'Succeeded', 'source': {'uri': 'https://a.blob.x/d'},
           'trigger': {'sourceTrigger': {'status': 'Disabled'}}}
    assert list(f.export_pipeline_table(export).values()) == ['e1', 'Succeeded', 'https://a.blob.x/c']
    assert list(f.import_pipeline_table([imp])[0].values()) == ['i1', 'Succeeded', 'https://a.blob.x/d', 'Disabled']


def test_runs_sort_by_start_time_with_unstarted_runs_last():
    runs = [{'properties': {'response': {'startTime': t}}} for t in
            ('2026-01-02T00:00:00Z', None, '2026-01-03T00:00:00Z')]
    ordered = sorted(runs, key=f.start_time_of, reverse=True)
    assert [r['properties']['response']['startTime'] for r in ordered] == [
        '2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z', None]


def test_source_trigger_comes_from_the_response_trigger_before_the_name_rule():
    triggered = {'name': 'nounderscore', 'request': {'pipelineResourceId': '/x/importPipelines/import1'},
                 'response': {'status': 'Succeeded', 'trigger': {'sourceTrigger': {'timestamp': '2026-01-01T00:00Z'}}}}
    by_name = {'name': 'import1_abc', 'request': {'pipelineResourceId': '/x/importPipelines/import1'},
               'response': {'status': 'Succeeded'}}
    rows = f.pipeline_run_table([triggered, by_name])
    assert [row['SOURCE_TRIGGER'] for row in rows] == ['True', 'True']


def test_running_runs_show_their_progress_and_finished_ones_do_not():
    running = {'name': 'r1', 'provisioningState': 'Creating',
               'response': {'status': 'Running', 'progress': {'percentage': '40'}}}
    finished = {'name': 'r2', 'provisioningState': 'Succeeded',
                'response': {'status': 'Succeeded', 'progress': {'percentage': '100'}}}
    unknown = {'name': 'r3', 'provisioningState': 'Creating',
               'response': {'status': 'Running', 'progress': {'percentage': 'n/a'}}}
    assert [row['STATUS'] for row in f.pipeline_run_table([running, finished, unknown])] == [
        'Running 40%', 'Succeeded', 'Running']


def test_error_message_is_shortened_in_the_table_only():
    message = 'Storage request failed:\n  ' + 'x' * 400
    run = {'name': 'r', 'properties': {'provisioningState': 'Failed',
                                       'response': {'status': 'Failed', 'pipelineRunErrorMessage': message}}}
    row = f.pipeline_run_table(f.flatten_resource(run))
    assert len(row['ERROR_MESSAGE']) == f.TABLE_MESSAGE_LIMIT
    assert row['ERROR_MESSAGE'].startswith('Storage request failed: xxx') and row['ERROR_MESSAGE'].endswith('...')
    assert f.flatten_resource(run)['response']['pipelineRunErrorMessage'] == message
    assert f.shorten('short') == 'short' and f.shorten(None) == ''
