# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Request bodies, checked against the shapes of real deployments (issue: wire format)."""

from azext_acrtransfer import _wire as w

UAI = ('/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/'
       'Microsoft.ManagedIdentity/userAssignedIdentities/id1')
PIPELINE_ID = ('/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg1/'
               'exportPipelines/pipe1')


def test_resource_paths():
    assert w.resource_path('sub', 'rg', 'reg', w.PIPELINE_RUNS, 'run1') == (
        '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg/'
        'pipelineRuns/run1')
    assert w.collection_path('sub', 'rg', 'reg', w.IMPORT_PIPELINES).endswith('/registries/reg/importPipelines')
    assert w.DEFAULT_API_VERSION == '2025-06-01-preview'


def test_identity_is_always_sent():
    assert w.PipelineIdentity().to_wire() == {'type': 'SystemAssigned'}
    assert w.PipelineIdentity(UAI).to_wire() == {'type': 'UserAssigned', 'userAssignedIdentities': {UAI: {}}}


def test_export_pipeline_with_secret_and_options():
    body = w.ExportPipeline(w.StorageContainer('https://a.blob.core.windows.net/c1', w.SAS_TOKEN,
                                               'https://kv.vault.azure.net/secrets/s'),
                            w.PipelineIdentity(), ('OverwriteBlobs',)).to_wire()
    assert body == {'identity': {'type': 'SystemAssigned'}, 'properties': {
        'target': {'type': 'AzureStorageBlobContainer', 'uri': 'https://a.blob.core.windows.net/c1',
                   'storageAccessMode': 'SasToken', 'keyVaultUri': 'https://kv.vault.azure.net/secrets/s'},
        'options': ['OverwriteBlobs']}}


def test_export_pipeline_without_secret_or_options_sends_neither():
    body = w.ExportPipeline(w.StorageContainer('https://a.blob.core.windows.net/c1', w.MANAGED_IDENTITY),
                            w.PipelineIdentity()).to_wire()
    assert 'options' not in body['properties']
    assert 'keyVaultUri' not in body['properties']['target']


def test_import_pipeline_always_sends_the_trigger():
    source = w.StorageContainer('https://a.blob.core.windows.net/c1', w.MANAGED_IDENTITY)
    enabled = w.ImportPipeline(source, w.PipelineIdentity(UAI)).to_wire()
    disabled = w.ImportPipeline(source, w.PipelineIdentity(), False, ('DeleteSourceBlobOnSuccess',)).to_wire()
    assert enabled['properties'] == {'source': source.to_wire(), 'trigger': {'sourceTrigger': {'status': 'Enabled'}}}
    assert disabled['properties']['trigger'] == {'sourceTrigger': {'status': 'Disabled'}}
    assert disabled['properties']['options'] == ['DeleteSourceBlobOnSuccess']


def test_export_run_body():
    body = w.ExportRun(PIPELINE_ID, 'blob1', ('hello-world:latest',), '2026-01-01T00:00:00+00:00').to_wire()
    assert body == {'properties': {'request': {
        'pipelineResourceId': PIPELINE_ID, 'target': {'type': 'AzureStorageBlob', 'name': 'blob1'},
        'artifacts': ['hello-world:latest']}, 'forceUpdateTag': '2026-01-01T00:00:00+00:00'}}


def test_import_run_body_has_no_force_update_tag_unless_asked():
    body = w.ImportRun(PIPELINE_ID, 'blob1').to_wire()
    assert body == {'properties': {'request': {'pipelineResourceId': PIPELINE_ID,
                                               'source': {'type': 'AzureStorageBlob', 'name': 'blob1'}}}}


def test_every_path_segment_is_percent_encoded():
    path = w.resource_path('sub', 'rg1/../../../rg2', 'reg?x=1', w.PIPELINE_RUNS, 'run#1%2F')
    assert path == ('/subscriptions/sub/resourceGroups/rg1%2F..%2F..%2F..%2Frg2/providers/'
                    'Microsoft.ContainerRegistry/registries/reg%3Fx%3D1/pipelineRuns/run%231%252F')
    assert w.registry_path('s', 'rg(1).x_-', 'reg') == \
        '/subscriptions/s/resourceGroups/rg%281%29.x_-/providers/Microsoft.ContainerRegistry/registries/reg'
