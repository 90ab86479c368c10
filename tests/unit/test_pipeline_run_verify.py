# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""pipeline-run verify: the comparison (Verified, Missing, Mismatch), where the expectations come from, and the
command through az (read-only, table, non-zero exit)."""

import json

import pytest
from azure.cli.core.azclierror import FileOperationError, InvalidArgumentValueError, MutuallyExclusiveArgumentError

from azcli import run_az
from fake_registry import FakeRegistry
from replay import strict_replay

from azext_acrtransfer import _product
from azext_acrtransfer import pipeline_run_verify as verify
from azext_acrtransfer._batch_plan import MANIFEST_FORMAT
from azext_acrtransfer._product import select

REG = ['-g', 'rg1', '-r', 'myregistry']
SIGNATURE = 'application/vnd.cncf.notary.signature'


def exported():
    """A source registry with a signed image (API and cosign), and the manifest an export of it wrote."""
    source = FakeRegistry()
    image = source.push_image('app', 'v1')
    source.push_referrer('app', image, SIGNATURE)
    source.push_cosign('app', image)
    source.push_image('base', 'latest', 'base')
    selection = select(source, 'src', ['app:v1', 'base:latest'], include_referrers=True)
    manifest = {'format': MANIFEST_FORMAT, 'pipeline': 'exp', 'pipelineType': 'export', 'registry': 'src',
                'batches': [{'index': 1, 'blob': 'rel-001', 'status': 'Succeeded', 'artifacts': []}]}
    manifest.update(_product.manifest_section(selection, _product.plan_batches('rel', 'rel', selection.products)))
    return source, manifest


def copy_of(source):
    """The target after a faithful transfer: every manifest and tag, as they were."""
    target = FakeRegistry()
    target.manifests = {key: json.loads(json.dumps(body)) for key, body in source.manifests.items()}
    target.tags = dict(source.tags)
    return target


def statuses(results):
    return {result['artifact']: result['status'] for result in results}


def test_a_faithful_transfer_is_verified_artifact_by_artifact():
    source, manifest = exported()
    results = verify.verify_all(copy_of(source), verify.expectations_from_manifest(manifest))
    assert len(results) == 4 and set(statuses(results).values()) == {verify.VERIFIED}
    assert results[0] == {'artifact': 'app:v1', 'status': 'Verified', 'expected': source.tags[('app', 'v1')],
                          'found': source.tags[('app', 'v1')]}


def test_a_moved_tag_is_a_mismatch_and_a_missing_artifact_is_missing():
    source, manifest = exported()
    target = copy_of(source)
    target.tags[('app', 'v1')] = target.push_image('app', 'other', 'other')
    del target.tags[('base', 'latest')]
    results = verify.verify_all(target, verify.expectations_from_manifest(manifest))
    assert statuses(results)['app:v1'] == verify.MISMATCH and statuses(results)['base:latest'] == verify.MISSING
    moved = next(result for result in results if result['artifact'] == 'app:v1')
    assert moved['expected'] == source.tags[('app', 'v1')] and moved['found'] == target.tags[('app', 'v1')]


def test_a_referrer_that_arrived_without_its_subject_link_is_a_mismatch():
    source, manifest = exported()
    target = copy_of(source)
    signature = next(r for r in manifest['products'][0]['referrers'] if r['scheme'] == 'api')
    del target.manifests[('app', signature['digest'])]['subject']   # there, but the referrers API does not list it
    results = verify.verify_all(target, verify.expectations_from_manifest(manifest))
    row = next(result for result in results if result['artifact'] == signature['reference'])
    assert row['status'] == verify.MISMATCH and 'not found from its subject' in row['found']
    target.manifests.pop(('app', signature['digest']))
    assert statuses(verify.verify_all(target, verify.expectations_from_manifest(manifest)))[
        signature['reference']] == verify.MISSING


def test_expectations_of_an_old_manifest_and_of_a_run_are_by_existence_or_digest():
    old = {'batches': [{'index': 1, 'artifacts': ['a:1', 'b:1']}, {'index': 2, 'artifacts': ['a:1']}]}
    assert verify.expectations_from_manifest(old) == [verify.Expectation('a:1'), verify.Expectation('b:1')]
    digest = 'sha256:' + 'd' * 64
    run = {'properties': {'request': {'artifacts': ['x:1']}, 'response': {'importedArtifacts': ['a:1', 'b@' + digest]}}}
    assert verify.expectations_from_run(run) == [verify.Expectation('a:1'), verify.Expectation('b@' + digest, digest)]
    assert verify.expectations_from_run({'properties': {'request': {'artifacts': ['x:1']}}}) == [
        verify.Expectation('x:1')]


@pytest.mark.parametrize('overrides, error', [
    (dict(), MutuallyExclusiveArgumentError),
    (dict(manifest_file='m.json', run_name='run1'), MutuallyExclusiveArgumentError),
    (dict(manifest_file='/nonexistent/m.json'), FileOperationError),
    (dict(run_name='bad name'), InvalidArgumentValueError),
])
def test_verify_needs_exactly_one_valid_source(overrides, error):
    from argparse import Namespace
    from azext_acrtransfer import _validators as v
    namespace = Namespace(**dict(dict(registry_name='myregistry', manifest_file=None, run_name=None), **overrides))
    with pytest.raises(error):
        v.validate_pipeline_run_verify(namespace)


@pytest.fixture(name='target')
def fixture_target(monkeypatch):
    holder = {}
    monkeypatch.setattr(_product, 'registry_reader', lambda cmd, group, registry: holder['registry'])
    return holder


def test_verify_through_az_prints_the_table_and_exits_non_zero_on_a_mismatch(tmp_path, target):
    source, manifest = exported()
    path = tmp_path / 'rel.json'
    path.write_text(json.dumps(manifest))
    target['registry'] = copy_of(source)
    with strict_replay([]) as replay:
        result = run_az(['acr', 'pipeline-run', 'verify', *REG, '--manifest-file', str(path)], output='table')
    assert result.exit_code == 0 and replay.sent == [], result.stderr
    assert 'ARTIFACT' in result.stdout and result.stdout.count('Verified') == 4

    target['registry'].tags[('app', 'v1')] = target['registry'].push_image('app', 'v0', 'old')
    with strict_replay([]):
        result = run_az(['acr', 'pipeline-run', 'verify', *REG, '--manifest-file', str(path)])
    assert result.exit_code != 0
    assert {row['artifact']: row['status'] for row in json.loads(result.stdout)}['app:v1'] == 'Mismatch'


def test_verify_through_az_refuses_bad_input_before_any_request(tmp_path):
    wrong = tmp_path / 'wrong.json'
    wrong.write_text('{}')
    for argv in (['--manifest-file', str(wrong)], [], ['--manifest-file', str(wrong), '-n', 'run1']):
        with strict_replay([]) as replay:
            result = run_az(['acr', 'pipeline-run', 'verify', *REG, *argv])
        assert result.exit_code != 0 and replay.sent == [] and 'ERROR' in result.stderr


def test_verify_has_help_with_examples():
    result = run_az(['acr', 'pipeline-run', 'verify', '--help'], output=None)
    assert 'Examples' in result.stdout and '--manifest-file' in result.stdout and 'Mismatch' in result.stdout
