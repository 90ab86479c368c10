# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Export and import pipelines: create, show, list, delete, with every create parameter."""

from azcli import set_config
from recording import scenario


def test_export_pipeline_lifecycle():
    with scenario('export_pipeline_lifecycle') as s:
        v = s.variables
        reg = ['-g', v['resource_group'], '-r', v['registry']]
        created = s.az('acr', 'export-pipeline', 'create', *reg, '--name', 'exportscenario1',
                       '--secret-uri', v['secret_uri'].upper().replace('HTTPS', 'https'),
                       '--storage-container-uri', v['storage_container_uri'],
                       '--options', 'OverwriteBlobs', 'continueonerrors')
        assert created.exit_code == 0, created.stderr
        pipeline = created.json()
        assert pipeline['name'] == 'exportscenario1' and pipeline['provisioningState'] == 'Succeeded'
        assert pipeline['target'] == {'type': 'AzureStorageBlobContainer', 'uri': v['storage_container_uri'],
                                      'storageAccessMode': 'SasToken', 'keyVaultUri': v['secret_uri']}
        assert pipeline['options'] == ['OverwriteBlobs', 'ContinueOnErrors']
        assert pipeline['identity']['type'] == 'systemAssigned'
        principal = pipeline['identity']['principalId']
        assert principal and 'principal id {}'.format(principal) in created.stderr
        assert 'az keyvault set-policy --name' in created.stderr and '--object-id ' + principal in created.stderr

        shown = s.az('acr', 'export-pipeline', 'show', *reg, '-n', 'exportscenario1',
                     '--query', 'identity.principalId', output='tsv')
        assert shown.stdout.strip() == principal

        try:
            set_config('defaults', 'acr', v['registry'])
            listed = s.az('acr', 'export-pipeline', 'list', '-g', v['resource_group'])
        finally:
            set_config('defaults', 'acr', None)
        assert 'exportscenario1' in [p['name'] for p in listed.json()]
        table = s.az('acr', 'export-pipeline', 'list', *reg, output='table')
        assert 'PROVISIONING_STATE' in table.stdout and v['storage_container_uri'] in table.stdout

        assert s.az('acr', 'export-pipeline', 'delete', *reg, '-n', 'exportscenario1').exit_code == 0
        missing = s.az('acr', 'export-pipeline', 'delete', *reg, '-n', 'exportscenario1')
        assert missing.exit_code != 0
        assert "Export pipeline 'exportscenario1' was not found in registry '{}' (resource group '{}')".format(
            v['registry'], v['resource_group']) in missing.stderr


def test_import_pipeline_lifecycle():
    with scenario('import_pipeline_lifecycle') as s:
        v = s.variables
        reg = ['-g', v['resource_group'], '-r', v['registry']]
        created = s.az('acr', 'import-pipeline', 'create', *reg, '-n', 'importscenario1',
                       '-m', 'ManagedIdentity', '-c', v['storage_container_uri'],
                       '-z', 'DeleteSourceBlobOnSuccess', 'OverwriteTags', 'ContinueOnErrors',
                       '-e', 'false', '-i', v['user_identity'])
        assert created.exit_code == 0, created.stderr
        pipeline = created.json()
        assert pipeline['source']['storageAccessMode'] == 'ManagedIdentity'
        assert 'keyVaultUri' not in pipeline['source']
        assert pipeline['trigger'] == {'sourceTrigger': {'status': 'Disabled'}}
        assert pipeline['options'] == ['DeleteSourceBlobOnSuccess', 'OverwriteTags', 'ContinueOnErrors']
        assert pipeline['identity']['type'] == 'userAssigned'
        identities = pipeline['identity']['userAssignedIdentities']
        principal = next(iter(identities.values()))['principalId']
        assert '"Storage Blob Data Contributor"' in created.stderr and principal in created.stderr

        table = s.az('acr', 'import-pipeline', 'show', *reg, '-n', 'importscenario1', output='table')
        assert 'SOURCE_TRIGGER' in table.stdout and 'Disabled' in table.stdout
        yaml = s.az('acr', 'import-pipeline', 'list', *reg, output='yaml')
        assert 'name: importscenario1' in yaml.stdout

        assert s.az('acr', 'import-pipeline', 'delete', *reg, '-n', 'importscenario1').exit_code == 0
        gone = s.az('acr', 'import-pipeline', 'show', *reg, '-n', 'importscenario1')
        assert gone.exit_code != 0 and "Import pipeline 'importscenario1' was not found" in gone.stderr


def test_explicit_access_mode_and_system_identity():
    with scenario('export_pipeline_explicit_mode') as s:
        v = s.variables
        try:
            set_config('defaults', 'group', v['resource_group'])
            set_config('defaults', 'acr', v['registry'])
            created = s.az('acr', 'export-pipeline', 'create', '-n', 'exportscenario2', '-m', 'SasToken',
                           '-s', v['secret_uri'], '-c', v['storage_container_uri'], '-i', '[System]',
                           '--query', '[identity.type, target.storageAccessMode, length(options || `[]`)]',
                           output='tsv')
            assert created.exit_code == 0, created.stderr
            assert created.stdout.split() == ['systemAssigned', 'SasToken', '0']
            assert s.az('acr', 'export-pipeline', 'delete', '-n', 'exportscenario2').exit_code == 0
        finally:
            set_config('defaults', 'group', None)
            set_config('defaults', 'acr', None)
