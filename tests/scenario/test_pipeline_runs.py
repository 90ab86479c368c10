# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Pipeline-runs: a run that fails and says why, a run that succeeds, show, list, --top, clean, delete, import."""

import re

from recording import scenario


def table_rows(text):
    """The rows of `-o table` output as dicts, columns cut where the dashes under the headers are."""
    lines = text.splitlines()
    spans = [match.span() for match in re.finditer(r'-+', lines[1])]

    def cells(line):
        return [line[start:end if index < len(spans) - 1 else None].strip()
                for index, (start, end) in enumerate(spans)]
    headers = cells(lines[0])
    return [dict(zip(headers, cells(line))) for line in lines[2:] if line.strip()]


def _create_export_pipeline(s, reg, name):
    v = s.variables
    created = s.az('acr', 'export-pipeline', 'create', *reg, '-n', name, '-s', v['secret_uri'],
                   '-c', v['storage_container_uri'], '-z', 'OverwriteBlobs')
    assert created.exit_code == 0, created.stderr
    return created.json()['identity']['principalId']


def test_export_run_fails_without_key_vault_access_then_succeeds():
    with scenario('export_run_lifecycle') as s:
        v = s.variables
        reg = ['-g', v['resource_group'], '-r', v['registry']]
        principal = _create_export_pipeline(s, reg, 'exportrunpipe1')
        run = ['acr', 'pipeline-run', 'create', *reg, '--pipeline', 'exportrunpipe1', '--pipeline-type', 'export',
               '--storage-blob', 'scenario-export.tar', '--artifacts', 'hello-world:latest', 'hello-world:v2']

        failed = s.az(*run, '--name', 'exportfail1')
        assert failed.exit_code != 0
        assert "Pipeline run 'exportfail1' failed:" in failed.stderr
        assert 'Hint: the pipeline\'s identity could not read the SAS token secret' in failed.stderr

        s.grant_key_vault_access(principal)
        succeeded = s.az(*run, '--name', 'exportok1', '--force-redeploy')
        assert succeeded.exit_code == 0, succeeded.stderr
        # The progress, read from the run while it went on (a stderr line; stdout is the result only).
        assert re.search(r"Pipeline run 'exportok1': \d+% done\.", succeeded.stderr), succeeded.stderr
        result = succeeded.json()
        assert result['provisioningState'] == 'Succeeded' and result['response']['status'] == 'Succeeded'
        assert result['request']['artifacts'] == ['hello-world:latest', 'hello-world:v2']
        assert result['request']['pipelineResourceId'].endswith('/exportPipelines/exportrunpipe1')
        assert result['forceUpdateTag']
        assert sorted(result['response']['importedArtifacts']) == ['hello-world:latest', 'hello-world:v2']

        shown = s.az('acr', 'pipeline-run', 'show', *reg, '-n', 'exportok1', output='table')
        assert 'exportrunpipe1' in shown.stdout and 'Succeeded' in shown.stdout
        assert re.fullmatch(r'\d\d:\d\d:\d\d', table_rows(shown.stdout)[0]['DURATION'])

        newest = s.az('acr', 'pipeline-run', 'list', *reg, '--top', '1').json()
        assert [r['name'] for r in newest] == ['exportok1']
        table = s.az('acr', 'pipeline-run', 'list', *reg, output='table')
        assert 'START_TIME' in table.stdout and 'exportfail1' in table.stdout

        dry = s.az('acr', 'pipeline-run', 'clean', *reg, '--dry-run')
        assert 'exportfail1' in [r['name'] for r in dry.json()]
        assert 'exportok1' not in [r['name'] for r in dry.json()]
        cleaned = s.az('acr', 'pipeline-run', 'clean', *reg)
        assert cleaned.exit_code == 0, cleaned.stderr
        assert cleaned.json()['deleted'] == len(dry.json()) and 'deletion(s) failed' in cleaned.stderr
        assert s.az('acr', 'pipeline-run', 'show', *reg, '-n', 'exportfail1').exit_code != 0

        assert s.az('acr', 'pipeline-run', 'delete', *reg, '-n', 'exportok1').exit_code == 0
        assert s.az('acr', 'export-pipeline', 'delete', *reg, '-n', 'exportrunpipe1').exit_code == 0


def test_import_run_with_no_wait():
    with scenario('import_run_no_wait') as s:
        v = s.variables
        reg = ['-g', v['resource_group'], '-r', v['registry']]
        export_principal = _create_export_pipeline(s, reg, 'exportforimport1')
        s.grant_key_vault_access(export_principal)
        exported = s.az('acr', 'pipeline-run', 'create', *reg, '-p', 'exportforimport1', '-n', 'exportforimp1',
                        '-t', 'export', '-b', 'scenario-import.tar', '-a', 'hello-world', '-f')
        assert exported.exit_code == 0, exported.stderr

        created = s.az('acr', 'import-pipeline', 'create', *reg, '-n', 'importrunpipe1', '-s', v['secret_uri'],
                       '-c', v['storage_container_uri'], '--source-trigger-enabled', 'false')
        assert created.exit_code == 0, created.stderr
        s.grant_key_vault_access(created.json()['identity']['principalId'])

        started = s.az('acr', 'pipeline-run', 'create', *reg, '-p', 'importrunpipe1', '-n', 'importrun1',
                       '-t', 'import', '-b', 'scenario-import.tar', '--no-wait')
        assert started.exit_code == 0 and started.stdout.strip() == ''
        waited = s.az('acr', 'pipeline-run', 'wait', *reg, '-n', 'importrun1')
        assert waited.exit_code == 0, waited.stderr
        run = waited.json()
        assert run['provisioningState'] == 'Succeeded', run
        assert run['request']['source'] == {'type': 'AzureStorageBlob', 'name': 'scenario-import.tar'}
        assert 'forceUpdateTag' not in run
        table = s.az('acr', 'pipeline-run', 'show', *reg, '-n', 'importrun1', output='table')
        assert 'False' in table.stdout  # started by hand, not by the source trigger

        for command in (['pipeline-run', 'delete', '-n', 'importrun1'],
                        ['pipeline-run', 'delete', '-n', 'exportforimp1'],
                        ['import-pipeline', 'delete', '-n', 'importrunpipe1'],
                        ['export-pipeline', 'delete', '-n', 'exportforimport1']):
            assert s.az('acr', *command, *reg).exit_code == 0
