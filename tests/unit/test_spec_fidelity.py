# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The extension against the official API spec (../shared/spec): what it sends uses only the spec's names, and
what it reads is found where the spec's own examples put it."""

import json
import os

import pytest

from azext_acrtransfer import _format as f
from azext_acrtransfer import _wire as w
from spec_schema import SPEC_DIR, load_definitions, unknown_names

PIPELINE_ID = ('/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/'
               'importPipelines/import1')
CONTAINER = w.StorageContainer('https://a.blob.core.windows.net/c', w.SAS_TOKEN, 'https://v.vault.azure.net/secrets/s')


@pytest.fixture(scope='module')
def definitions():
    return load_definitions()


def _example(name, status='200'):
    with open(os.path.join(SPEC_DIR, 'examples', name + '.json'), encoding='utf-8') as f_:
        return json.load(f_)['responses'][status]['body']


@pytest.mark.parametrize('definition,body', [
    ('ExportPipeline', w.ExportPipeline(CONTAINER, w.PipelineIdentity(), ('OverwriteBlobs',)).to_wire()),
    ('ImportPipeline', w.ImportPipeline(CONTAINER, w.PipelineIdentity('/id'), False, ('OverwriteTags',)).to_wire()),
    ('PipelineRun', w.ExportRun(PIPELINE_ID, 'b.tar', ('a:1',), 'tag').to_wire()),
    ('PipelineRun', w.ImportRun(PIPELINE_ID, 'b.tar').to_wire()),
])
def test_request_bodies_use_only_spec_names(definitions, definition, body):
    assert unknown_names(definitions, definition, body) == []


def test_a_finished_run_of_the_spec_shows_its_duration():
    row = f.pipeline_run_table(f.flatten_resource(_example('PipelineRunCreate_Import', '201')))
    assert row['DURATION'] == '00:02:00' and row['STATUS'] == 'Succeeded' and row['PIPELINE'] == 'myImportPipeline'


def test_a_running_run_of_the_spec_shows_its_progress():
    load_definitions()
    row = f.pipeline_run_table(f.flatten_resource(_example('PipelineRunGet')))
    assert row['STATUS'] == 'Running 20%' and row['START_TIME'] == '2020-03-04T17:23:21Z' and row['DURATION'] == ''


def test_pipeline_tables_read_the_spec_names():
    load_definitions()
    export = f.export_pipeline_table(f.flatten_resource(_example('ExportPipelineGet')))
    imported = f.import_pipeline_table(f.flatten_resource(_example('ImportPipelineGet')))
    assert export['STORAGE_ACCOUNT'].startswith('https://') and export['PROVISIONING_STATE']
    assert imported['STORAGE_ACCOUNT'].startswith('https://') and imported['SOURCE_TRIGGER'] in ('Enabled', 'Disabled')
