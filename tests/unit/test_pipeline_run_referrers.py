# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""pipeline-run create --include-referrers through az: the run's request carries the image and its referrers
(found in a fake source registry), and the flag is refused where it cannot apply."""

import json

import pytest

from azcli import run_az
from fake_registry import FakeRegistry
from replay import strict_replay

from azext_acrtransfer import _product

REG = ['-g', 'rg1', '-r', 'myregistry']
RUN_URL = ('https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/'
           'providers/Microsoft.ContainerRegistry/registries/myregistry/pipelineRuns/myrun01'
           '?api-version=2025-06-01-preview')
PIPELINE_URL = RUN_URL.replace('pipelineRuns/myrun01', 'exportPipelines/mypipeline')
PIPELINE_ID = ('/subscriptions/s/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myregistry/'
               'exportPipelines/mypipeline')
CREATE = ['acr', 'pipeline-run', 'create', *REG, '-p', 'mypipeline', '-n', 'myrun01', '-b', 'blob1', '--no-wait']


def answer(method, uri, body, status=200, request_body=None):
    return {'method': method, 'uri': uri, 'request_body': request_body, 'status': status,
            'response_headers': {'content-type': 'application/json'}, 'response_body': body}


@pytest.fixture(name='source')
def fixture_source(monkeypatch):
    registry = FakeRegistry()
    monkeypatch.setattr(_product, 'registry_reader', lambda cmd, group, name: registry)
    return registry


def test_the_run_exports_the_image_with_its_signature_and_cosign_sbom(source):
    image = source.push_image('app', 'v1')
    signature = source.push_referrer('app', image, 'application/vnd.cncf.notary.signature')
    source.push_cosign('app', image, 'sbom')
    artifacts = ['app:v1', 'app@' + signature, 'app:{}.sbom'.format(image.replace(':', '-'))]
    sent = json.dumps({'properties': {'request': {'pipelineResourceId': PIPELINE_ID, 'target': {
        'type': 'AzureStorageBlob', 'name': 'blob1'}, 'artifacts': artifacts}}})
    with strict_replay([
            answer('GET', PIPELINE_URL, json.dumps({'id': PIPELINE_ID, 'name': 'mypipeline', 'properties': {}})),
            answer('GET', RUN_URL, '{"error": {"code": "ResourceNotFound", "message": "not found"}}', 404),
            answer('PUT', RUN_URL, '{"name": "myrun01", "properties": {"provisioningState": "Creating"}}', 201,
                   sent)]) as replay:
        result = run_az(CREATE + ['-t', 'export', '-a', 'app:v1', '--include-referrers'])
    assert result.exit_code == 0, result.stderr
    assert not replay.mismatches and not replay.pending, replay.mismatches


def test_more_than_fifty_with_referrers_stop_the_run_before_the_put(source):
    for number in range(17):
        image = source.push_image('app', 'v{}'.format(number), str(number))
        source.push_referrer('app', image, 'application/spdx+json', str(number))
        source.push_cosign('app', image, 'sig', str(number))
    pipeline = answer('GET', PIPELINE_URL, json.dumps({'id': PIPELINE_ID, 'name': 'mypipeline', 'properties': {}}))
    with strict_replay([pipeline]) as replay:
        result = run_az(CREATE + ['-t', 'export', '-a', *['app:v{}'.format(n) for n in range(17)],
                                  '--include-referrers'])
    assert result.exit_code != 0 and 'the artifacts are 51, more than the 50' in result.stderr
    assert 'create-batch --include-referrers' in result.stderr
    assert [method for method, _, _ in replay.sent] == ['GET']


def test_include_referrers_on_an_import_run_is_refused_before_any_request():
    with strict_replay([]) as replay:
        result = run_az(CREATE + ['-t', 'import', '--include-referrers'])
    assert result.exit_code != 0 and replay.sent == []
    assert '--include-referrers applies to export runs only' in result.stderr
