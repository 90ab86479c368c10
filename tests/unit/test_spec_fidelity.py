# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The extension against the official API spec (../shared/spec): what it sends uses only the spec's names, and
what it reads is found where the spec's own examples put it."""

import json

import pytest
from shared_files import spec_example_path

from azext_acrtransfer import _format as f
from azext_acrtransfer import _wire as w
from spec_schema import load_definitions, unknown_names

PIPELINE_ID = ('/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/'
               'importPipelines/import1')
CONTAINER = w.StorageContainer('https://a.blob.core.windows.net/c', w.SAS_TOKEN, 'https://v.vault.azure.net/secrets/s')


@pytest.fixture(scope='module')
def definitions():
    return load_definitions()


def _example(name, status='200'):
    """A response of the spec's examples; the test skips when ../shared/spec is not there."""
    with open(spec_example_path(name + '.json'), encoding='utf-8') as f_:
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
    row = f.pipeline_run_table(f.flatten_resource(_example('PipelineRunGet')))
    assert row['STATUS'] == 'Running 20%' and row['START_TIME'] == '2020-03-04T17:23:21Z' and row['DURATION'] == ''


def test_pipeline_tables_read_the_spec_names():
    export = f.export_pipeline_table(f.flatten_resource(_example('ExportPipelineGet')))
    imported = f.import_pipeline_table(f.flatten_resource(_example('ImportPipelineGet')))
    assert export['STORAGE_ACCOUNT'].startswith('https://') and export['PROVISIONING_STATE']
    assert imported['STORAGE_ACCOUNT'].startswith('https://') and imported['SOURCE_TRIGGER'] in ('Enabled', 'Disabled')


# The modules that read what ARM serves (pipelines and runs) and the documents the extension writes itself.
READING_MODULES = ('_runs', '_format', '_progress', '_batch_plan', 'pipeline', 'pipeline_run', 'pipeline_run_wait',
                   'pipeline_run_batch', 'check')


def _spec_property_names(definitions):
    names = set()

    def walk(schema):
        if isinstance(schema, dict):
            names.update((schema.get('properties') or {}).keys())
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)
    walk(definitions)
    return names


def _own_document_fields():
    """The fields of the documents the extension writes itself (never served by ARM), as it writes them: the
    create-batch manifest carried with the blobs, a --dry-run batch, a check result, a verify result."""
    from azext_acrtransfer import _batch_plan as plan
    from azext_acrtransfer._check_result import passed
    from azext_acrtransfer.pipeline_run_batch import _planned  # pylint: disable=protected-access
    from azext_acrtransfer.pipeline_run_verify import Expectation, verify_one

    class Target:
        @staticmethod
        def manifest_digest(*_):
            return None
    batch = plan.Batch(1, 'run001', 'blob-001', ('a:1',))
    manifest = plan.build_manifest('p', 'export', 'r', [plan.manifest_entry(batch, plan.FAILED, None, 'why')])
    planned = _planned(batch, plan.Decision(plan.CREATE, 'new'))
    verified = verify_one(Target(), Expectation('a:1', 'sha256:0', None))
    return set(manifest) | set(manifest['batches'][0]) | set(planned) | set(passed('n', 'd').to_dict()) | \
        set(verified)


def _field_names_read(module_name):
    """Every string literal the module reads a field by: x.get('name'), x['name'], x.setdefault('name', ...)."""
    import ast
    import importlib
    module = importlib.import_module('azext_acrtransfer.' + module_name)
    with open(module.__file__, encoding='utf-8') as source:
        tree = ast.parse(source.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                'get', 'setdefault') and node.args and isinstance(node.args[0], ast.Constant):
            names.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            names.add(node.slice.value)
    return {name for name in names if isinstance(name, str)}


@pytest.mark.parametrize('module_name', READING_MODULES)
def test_every_field_name_the_extension_reads_is_the_specs_or_its_own_documents(definitions, module_name):
    known = _spec_property_names(definitions) | _own_document_fields()
    assert sorted(_field_names_read(module_name) - known) == []


def test_a_read_of_a_name_the_spec_lacks_is_caught(definitions, tmp_path, monkeypatch):
    """The check above can fail: a module reading the guessed 'finishedTime' of a run is caught."""
    (tmp_path / 'azext_acrtransfer_probe.py').write_text(
        "def duration(run):\n    return run['properties'].get('response', {}).get('finishedTime')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr('importlib.import_module', lambda name: __import__('azext_acrtransfer_probe'))
    known = _spec_property_names(definitions) | _own_document_fields()
    assert _field_names_read('probe') - known == {'finishedTime'}
