# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Batches of pipeline-runs without I/O: splitting, naming, the artifacts file, tag filters, what to do with a
batch whose run exists, and the manifest."""

import json

import pytest

from azext_acrtransfer import _batch_plan as plan

EXPORT_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/exportPipelines/exp'
IMPORT_ID = EXPORT_ID.replace('exportPipelines/exp', 'importPipelines/imp')


def references(count, repository='app'):
    return ['{}:v{}'.format(repository, number) for number in range(1, count + 1)]


# ---- splitting and naming -------------------------------------------------------------------------------------

def test_120_artifacts_make_three_batches_of_at_most_50_in_input_order():
    batches = plan.plan_export('rel42', 'rel42', references(120))
    assert [len(batch.artifacts) for batch in batches] == [50, 50, 20]
    assert [batch.artifacts[0] for batch in batches] == ['app:v1', 'app:v51', 'app:v101']
    assert sum((batch.artifacts for batch in batches), ()) == tuple(references(120))


def test_runs_and_blobs_are_named_by_a_fixed_width_index():
    batches = plan.plan_export('rel42', 'exports/rel42', references(101))
    assert [(batch.index, batch.run_name, batch.blob) for batch in batches] == [
        (1, 'rel42001', 'exports/rel42-001'), (2, 'rel42002', 'exports/rel42-002'),
        (3, 'rel42003', 'exports/rel42-003')]
    assert plan.run_name_for('ab', 1000) == 'ab1000'


def test_the_same_input_maps_the_same_artifacts_to_the_same_batch_and_appending_changes_only_the_end():
    first = plan.plan_export('p1', 'b', references(120))
    assert plan.plan_export('p1', 'b', references(120)) == first
    longer = plan.plan_export('p1', 'b', references(130))
    assert longer[:2] == first[:2] and len(longer[2].artifacts) == 30


def test_duplicates_are_dropped_keeping_the_first_position():
    batches = plan.plan_export('p1', 'b', ['a:1', 'b:1', 'a:1', 'c:1', 'b:1'])
    assert batches[0].artifacts == ('a:1', 'b:1', 'c:1')


def test_an_import_batch_runs_one_blob_and_keeps_the_export_index_from_a_manifest():
    assert [(b.run_name, b.blob) for b in plan.plan_import_from_blobs('imp', ['x', 'y', 'x'])] == \
        [('imp001', 'x'), ('imp002', 'y')]
    manifest = {'batches': [
        {'index': 1, 'blob': 'b-001', 'status': 'Succeeded', 'importedArtifacts': ['a:1'], 'catalogDigest': 'd1'},
        {'index': 2, 'blob': 'b-002', 'status': 'Failed', 'importedArtifacts': []},
        {'index': 3, 'blob': 'b-003', 'status': 'Succeeded', 'importedArtifacts': ['c:1'], 'catalogDigest': 'd3'}]}
    batches, not_exported = plan.plan_import_from_manifest('imp', manifest)
    assert [(b.run_name, b.blob, b.catalog_digest) for b in batches] == [
        ('imp001', 'b-001', 'd1'), ('imp003', 'b-003', 'd3')]
    assert [entry['index'] for entry in not_exported] == [2]


# ---- input formats --------------------------------------------------------------------------------------------

def test_the_artifacts_file_allows_comments_and_blank_lines_and_reports_line_numbers():
    text = '# release 42\n\nhello-world:latest\n  app@sha256:{}   # pinned\n\t\n# app:old\napp:v2\n'.format('a' * 64)
    assert plan.parse_artifacts_file(text) == [(3, 'hello-world:latest'), (4, 'app@sha256:' + 'a' * 64),
                                               (7, 'app:v2')]
    assert plan.parse_artifacts_file('') == []


def test_the_tag_filter_searches_and_the_tags_come_out_sorted():
    tags = ['v2', 'latest', 'v1.1', 'v10', 'v1.0-rc1', 'dev-v1.0']
    assert plan.matching_tags(tags) == sorted(tags)
    assert plan.matching_tags(tags, r'v1\.') == ['dev-v1.0', 'v1.0-rc1', 'v1.1']
    assert plan.matching_tags(tags, r'^v1\.\d+$') == ['v1.1']
    assert plan.matching_tags(tags, '^nothing$') == []


# ---- resumption decisions -------------------------------------------------------------------------------------

def export_run(state, artifacts, blob='b-001', pipeline=EXPORT_ID, name='p1001', response_status=None):
    return {'name': name, 'properties': {
        'provisioningState': state,
        'request': {'pipelineResourceId': pipeline, 'target': {'type': 'AzureStorageBlob', 'name': blob},
                    'artifacts': list(artifacts)},
        'response': {'status': response_status or state}}}


def import_run(state, blob='b-001', name='imp001', catalog=None, triggered=False):
    response = {'status': state, 'catalogDigest': catalog}
    if triggered:
        response['trigger'] = {'sourceTrigger': {'timestamp': '2026-01-01T00:00:00Z'}}
    return {'name': name, 'properties': {'provisioningState': state, 'response': response, 'request': {
        'pipelineResourceId': IMPORT_ID, 'source': {'type': 'AzureStorageBlob', 'name': blob}}}}


BATCH = plan.Batch(1, 'p1001', 'b-001', ('a:1', 'b:1'))


def test_a_batch_without_a_run_is_created():
    assert plan.decide_export(BATCH, EXPORT_ID, None).action == plan.CREATE


def test_a_batch_that_succeeded_with_the_same_artifacts_is_skipped_in_any_order():
    decision = plan.decide_export(BATCH, EXPORT_ID.upper(), export_run('Succeeded', ['b:1', 'a:1']))
    assert decision.action == plan.SKIP and decision.run['name'] == 'p1001'


def test_a_failed_batch_is_run_again_even_when_only_its_response_says_failed():
    assert plan.decide_export(BATCH, EXPORT_ID, export_run('Failed', BATCH.artifacts)).action == plan.RERUN
    half_failed = export_run('Succeeded', BATCH.artifacts, response_status='Failed')
    assert plan.decide_export(BATCH, EXPORT_ID, half_failed).action == plan.RERUN


@pytest.mark.parametrize('changed', [dict(artifacts=['a:1']), dict(artifacts=BATCH.artifacts, blob='other'),
                                     dict(artifacts=BATCH.artifacts, pipeline=IMPORT_ID)])
def test_a_batch_whose_run_asked_for_something_else_is_run_again(changed):
    assert plan.decide_export(BATCH, EXPORT_ID, export_run('Succeeded', **changed)).action == plan.RERUN


def test_a_running_batch_is_followed_unless_it_runs_another_request():
    assert plan.decide_export(BATCH, EXPORT_ID, export_run('Creating', BATCH.artifacts)).action == plan.FOLLOW
    assert plan.decide_export(BATCH, EXPORT_ID, export_run('Updating', ['z:1'])).action == plan.CONFLICT


IMPORT_BATCH = plan.Batch(1, 'imp001', 'b-001', catalog_digest='sha256:c1')


def test_an_imported_blob_is_skipped_and_a_reexported_one_is_not():
    assert plan.decide_import(IMPORT_BATCH, IMPORT_ID, import_run('Succeeded', catalog='sha256:c1'), []).action \
        == plan.SKIP
    assert plan.decide_import(IMPORT_BATCH, IMPORT_ID, import_run('Succeeded', catalog='sha256:old'), []).action \
        == plan.RERUN
    assert plan.decide_import(IMPORT_BATCH, IMPORT_ID, import_run('Failed'), []).action == plan.RERUN
    assert plan.decide_import(IMPORT_BATCH, IMPORT_ID, None, []).action == plan.CREATE


def test_a_blob_the_source_trigger_imported_is_reported_not_imported_again():
    triggered = import_run('Succeeded', name='imp_3f2a', catalog='sha256:c1', triggered=True)
    decision = plan.decide_import(IMPORT_BATCH, IMPORT_ID, None, [triggered])
    assert decision.action == plan.TRIGGERED and 'imp_3f2a' in decision.reason
    other_blob = import_run('Succeeded', name='imp_9', blob='b-002', triggered=True)
    assert plan.decide_import(IMPORT_BATCH, IMPORT_ID, None, [other_blob]).action == plan.CREATE
    failed = import_run('Failed', name='imp_3f2a', triggered=True)
    assert plan.decide_import(IMPORT_BATCH, IMPORT_ID, None, [failed]).action == plan.CREATE


def test_a_blob_the_source_trigger_is_importing_is_waited_for():
    running = import_run('Running', name='imp_3f2a', triggered=True)
    decision = plan.decide_import(IMPORT_BATCH, IMPORT_ID, None, [running])
    assert decision.action == plan.FOLLOW and decision.run['name'] == 'imp_3f2a'


# ---- the manifest ---------------------------------------------------------------------------------------------

def test_the_manifest_lists_per_batch_what_was_asked_and_what_the_run_reports():
    run = export_run('Succeeded', BATCH.artifacts)
    run['properties']['response'].update(importedArtifacts=['a:1', 'b:1'], catalogDigest='sha256:c1')
    failed = plan.manifest_entry(plan.Batch(2, 'p1002', 'b-002', ('c:1',)), 'Failed', None, 'c:1 not found')
    manifest = plan.build_manifest('exp', 'export', 'r', [failed, plan.manifest_entry(BATCH, 'Succeeded', run)])
    assert manifest['pipeline'] == 'exp' and [b['index'] for b in manifest['batches']] == [1, 2]
    assert manifest['batches'][0] == {'index': 1, 'runName': 'p1001', 'blob': 'b-001', 'artifacts': ['a:1', 'b:1'],
                                      'importedArtifacts': ['a:1', 'b:1'], 'catalogDigest': 'sha256:c1',
                                      'status': 'Succeeded'}
    assert manifest['batches'][1]['errorMessage'] == 'c:1 not found'
    assert plan.parse_manifest(json.dumps(manifest)) == manifest


@pytest.mark.parametrize('text, problem', [
    ('not json', 'not JSON'),
    ('{"batches": []}', 'format'),
    (json.dumps({'format': plan.MANIFEST_FORMAT, 'pipelineType': 'import', 'batches': []}), 'not export runs'),
    (json.dumps({'format': plan.MANIFEST_FORMAT, 'pipelineType': 'export', 'batches': []}), 'no batches'),
    (json.dumps({'format': plan.MANIFEST_FORMAT, 'pipelineType': 'export', 'batches': [{'index': 1}]}),
     'batch 1 needs'),
    (json.dumps({'format': plan.MANIFEST_FORMAT, 'pipelineType': 'export', 'batches': [
        {'index': 1, 'blob': 'a', 'status': 'Succeeded'}, {'index': 1, 'blob': 'b', 'status': 'Succeeded'}]}),
     'appears twice'),
])
def test_a_file_that_is_not_an_export_manifest_is_refused_with_the_reason(text, problem):
    with pytest.raises(plan.ManifestError, match=problem):
        plan.parse_manifest(text)
