# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""pipeline-run create-batch: its input rules, and the runner against an in-memory service (concurrency, failure
isolation, resumption, the manifest). The e2e tests run it through az against the sandbox."""

import json
import logging
import threading
import time
from argparse import Namespace

import pytest
from azure.cli.core.azclierror import (
    ArgumentUsageError,
    AzureResponseError,
    FileOperationError,
    InvalidArgumentValueError,
    MutuallyExclusiveArgumentError,
    RequiredArgumentMissingError,
)

from azure.core.exceptions import HttpResponseError, ServiceRequestError

from azcli import run_az
from replay import strict_replay

from fake_registry import AnyImage

from azext_acrtransfer import _product
from azext_acrtransfer import _validators as v
from azext_acrtransfer import pipeline_run_batch
from azext_acrtransfer._batch_plan import MANIFEST_FORMAT

REG = ['-g', 'rg1', '-r', 'myregistry']
REGISTRY_ID = '/subscriptions/s/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myregistry'
DIGEST = 'sha256:' + 'b' * 64


# ---- input rules ----------------------------------------------------------------------------------------------

def batch_namespace(**overrides):
    values = dict(registry_name='myregistry', pipeline_name='mypipeline', name_prefix='rel42',
                  pipeline_type='export', storage_blob_prefix='rel42', artifacts=None, artifacts_file=None,
                  repository=None, tag_filter=None, storage_blobs=None, manifest_file=None,
                  max_concurrent_runs=None, dry_run=False)
    values.update(overrides)
    return Namespace(**values)


def test_artifacts_and_the_file_are_validated_normalised_and_merged_without_duplicates(tmp_path):
    listing = tmp_path / 'artifacts.txt'
    listing.write_text('# pinned\nhello-world\n\napp@{}\nhello-world:latest  # again\n'.format(DIGEST))
    namespace = batch_namespace(artifacts=['app:v1', 'hello-world:latest'], artifacts_file=str(listing))
    v.validate_pipeline_run_create_batch(namespace)
    assert namespace.artifacts == ['app:v1', 'hello-world:latest', 'app@' + DIGEST]


def test_a_bad_reference_in_the_file_is_named_with_its_line(tmp_path):
    listing = tmp_path / 'artifacts.txt'
    listing.write_text('app:v1\n\nApp:v2\n')
    with pytest.raises(InvalidArgumentValueError, match="'App:v2' on line 3 of --artifacts-file"):
        v.validate_pipeline_run_create_batch(batch_namespace(artifacts_file=str(listing)))
    with pytest.raises(FileOperationError, match='Cannot read --artifacts-file'):
        v.validate_pipeline_run_create_batch(batch_namespace(artifacts_file=str(tmp_path / 'missing.txt')))


@pytest.mark.parametrize('overrides, error, text', [
    (dict(name_prefix='r'), InvalidArgumentValueError, '2-47 letters and digits'),
    (dict(name_prefix='rel-42'), InvalidArgumentValueError, '2-47 letters and digits'),
    (dict(name_prefix='r' * 48), InvalidArgumentValueError, '2-47 letters and digits'),
    (dict(artifacts=['a:1'], max_concurrent_runs=0), InvalidArgumentValueError, '--max-concurrent-runs'),
    (dict(artifacts=['a:1'], max_concurrent_runs=21), InvalidArgumentValueError, '--max-concurrent-runs'),
    (dict(), RequiredArgumentMissingError, 'needs artifacts'),
    (dict(artifacts=['a:1'], storage_blob_prefix=' '), InvalidArgumentValueError, '--storage-blob-prefix'),
    (dict(artifacts=['a:1'], storage_blob_prefix='dir/'), InvalidArgumentValueError, '--storage-blob-prefix'),
    (dict(artifacts=['a:1'], storage_blob_prefix='a/../b'), InvalidArgumentValueError, '--storage-blob-prefix'),
    (dict(artifacts=['a:1'], storage_blob_prefix='b' * 1020), InvalidArgumentValueError, '--storage-blob-prefix'),
    (dict(pipeline_type='import', storage_blob_prefix=None, storage_blobs=['ok', 'bad/']), InvalidArgumentValueError,
     "Invalid --storage-blob 'bad/'"),
    (dict(artifacts=['a:1\n']), InvalidArgumentValueError, 'control character'),
    (dict(artifacts=['a:1'], tag_filter='v1'), ArgumentUsageError, 'give --repository too'),
    (dict(repository=['app'], tag_filter='v1['), InvalidArgumentValueError, 'not a regular expression'),
    (dict(repository=['App']), InvalidArgumentValueError, 'Invalid --repository'),
    (dict(artifacts=['a:1'], storage_blobs=['b']), ArgumentUsageError, 'import batches only'),
    (dict(pipeline_type='import', storage_blob_prefix=None), MutuallyExclusiveArgumentError, 'exactly one of'),
    (dict(pipeline_type='import', storage_blob_prefix=None, storage_blobs=['b'], artifacts=['a:1']),
     ArgumentUsageError, '--artifacts applies to export batches only'),
    (dict(pipeline_type='import', storage_blobs=['b']), ArgumentUsageError, '--storage-blob-prefix applies'),
])
def test_bad_combinations_are_refused_with_the_rule(overrides, error, text):
    with pytest.raises(error, match=text):
        v.validate_pipeline_run_create_batch(batch_namespace(**overrides))


def test_the_manifest_must_be_writable_on_export_and_an_export_manifest_on_import(tmp_path):
    with pytest.raises(FileOperationError, match='existing directory'):
        v.validate_pipeline_run_create_batch(batch_namespace(artifacts=['a:1'],
                                                             manifest_file=str(tmp_path / 'no' / 'm.json')))
    wrong = tmp_path / 'wrong.json'
    wrong.write_text('{"batches": []}')
    with pytest.raises(InvalidArgumentValueError, match="Invalid --manifest-file .* has no \"format\""):
        v.validate_pipeline_run_create_batch(batch_namespace(pipeline_type='import', storage_blob_prefix=None,
                                                             manifest_file=str(wrong)))


def test_bad_input_reaches_no_service_through_az(tmp_path):
    commands = [
        ['acr', 'pipeline-run', 'create-batch', *REG, '-p', 'pipe1', '--name-prefix', 'x', '--storage-blob-prefix',
         'b', '-a', 'a:1'],
        ['acr', 'pipeline-run', 'create-batch', *REG, '-p', 'pipe1', '--name-prefix', 'rel1', '--storage-blob-prefix',
         'b', '-a', 'Bad:1'],
        ['acr', 'pipeline-run', 'create-batch', *REG, '-t', 'import', '-p', 'pipe1', '--name-prefix', 'rel1',
         '--manifest-file', str(tmp_path / 'none.json')],
    ]
    for argv in commands:
        with strict_replay([]) as replay:
            result = run_az(argv)
        assert result.exit_code != 0 and replay.sent == [], result.stderr
        assert 'ERROR' in result.stderr


def test_create_batch_has_help_with_examples():
    result = run_az(['acr', 'pipeline-run', 'create-batch', '--help'], output=None)
    assert 'Examples' in result.stdout and '--max-concurrent-runs' in result.stdout


# ---- the runner, against an in-memory service -----------------------------------------------------------------

class FakePoller:
    """Like azure-core's LROPoller, it calls its done-callbacks from the polling thread before done() is true."""

    def __init__(self):
        self._done = threading.Event()
        self._callbacks = []
        self.error = None

    def finish(self, error=None):
        self.error = error
        for callback in self._callbacks:
            callback(self)
        time.sleep(0.01)   # the polling thread ends a moment after its callbacks
        self._done.set()

    def result(self):
        self._done.wait()
        if self.error is not None:
            raise self.error

    def done(self):
        return self._done.is_set()

    def add_done_callback(self, callback):
        self._callbacks.append(callback)
        if self.done():
            callback(self)


class FakeService:
    """pipelineRuns that end a moment after their PUT; an export asking for 'missing:1' fails."""
    collection = 'pipelineRuns'

    def __init__(self):
        self.runs = {}
        self.puts = []
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0
        self.refuse = set()       # run names whose PUT the service refuses
        self.unreadable = set()   # run names whose GET fails

    def list(self, group, registry):
        return [json.loads(json.dumps(run)) for run in self.runs.values()]

    def get(self, group, registry, name):
        if name in self.unreadable:
            raise ServiceRequestError('connection reset for the test')
        return json.loads(json.dumps(self.runs[name]))

    def begin_create_or_update(self, group, registry, name, body):
        if name in self.refuse:
            raise HttpResponseError(message='(InvalidParameter) refused for the test')
        with self.lock:
            self.puts.append((name, body))
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        request = body['properties']['request']
        self.runs[name] = {'name': name, 'id': REGISTRY_ID + '/pipelineRuns/' + name, 'properties': {
            'request': request, 'provisioningState': 'Creating', 'forceUpdateTag': body['properties'].get(
                'forceUpdateTag'), 'response': {'status': 'Running', 'progress': {'percentage': '0'}}}}
        poller = FakePoller()
        threading.Timer(0.05, self._finish, (name, poller)).start()
        return poller

    def _finish(self, name, poller):
        properties = self.runs[name]['properties']
        artifacts = properties['request'].get('artifacts') or []
        failed = 'missing:1' in artifacts
        properties['provisioningState'] = 'Failed' if failed else 'Succeeded'
        properties['response'] = {'status': properties['provisioningState'],
                                  'importedArtifacts': [] if failed else artifacts, 'catalogDigest': 'sha256:' + name}
        if failed:
            properties['response']['pipelineRunErrorMessage'] = (
                "Artifact 'missing:1' was not found (https://a.blob.core.windows.net/c/b?sv=1&sig=SeCrEt)")
        with self.lock:
            self.running -= 1
        poller.finish()


class FakePipelines:
    collection = 'exportPipelines'
    trigger = 'Disabled'

    def __init__(self, name):
        self.name = name

    def get(self, group, registry, name):
        kind = 'exportPipelines' if self.collection == 'exportPipelines' else 'importPipelines'
        return {'id': '{}/{}/{}'.format(REGISTRY_ID, kind, name), 'name': name, 'properties': {
            'target': {}, 'trigger': {'sourceTrigger': {'status': self.trigger}}}}


class FakeClient:
    def __init__(self):
        self.pipeline_runs = FakeService()
        self.export_pipelines = FakePipelines('exp')
        self.import_pipelines = FakePipelines('imp')
        self.import_pipelines.collection = 'importPipelines'


@pytest.fixture(name='client')
def fixture_client(monkeypatch):
    monkeypatch.setattr(pipeline_run_batch, 'PROGRESS_INTERVAL', 0.02)
    client = FakeClient()
    client.registry = AnyImage()   # the source registry's data plane: every tag an image (the manifest's digests)
    monkeypatch.setattr(_product, 'registry_reader', lambda cmd, group, registry: client.registry)
    return client


def export(client, artifacts, manifest=None, **kwargs):
    return pipeline_run_batch.create_pipeline_run_batch(None, client, 'rg1', 'myregistry', 'exp', 'rel', 'export',
                                                        'rel', artifacts=artifacts, manifest_file=manifest, **kwargs)


def test_runs_go_at_most_n_at_a_time_and_the_manifest_records_every_batch(client, tmp_path):
    manifest_path = tmp_path / 'm.json'
    runs = export(client, ['app:v{}'.format(n) for n in range(1, 221)], str(manifest_path), max_concurrent_runs=2)
    assert [run['name'] for run in runs] == ['rel001', 'rel002', 'rel003', 'rel004', 'rel005']
    assert client.pipeline_runs.most_running == 2
    manifest = json.loads(manifest_path.read_text())
    assert manifest['format'] == MANIFEST_FORMAT and manifest['pipeline'] == 'exp'
    assert [(b['runName'], b['blob'], len(b['artifacts']), b['status']) for b in manifest['batches']] == [
        ('rel001', 'rel-001', 50, 'Succeeded'), ('rel002', 'rel-002', 50, 'Succeeded'),
        ('rel003', 'rel-003', 50, 'Succeeded'), ('rel004', 'rel-004', 50, 'Succeeded'),
        ('rel005', 'rel-005', 20, 'Succeeded')]
    assert manifest['batches'][4]['importedArtifacts'][-1] == 'app:v220'
    assert manifest['batches'][0]['catalogDigest'] == 'sha256:rel001'


def test_a_failed_batch_fails_alone_and_a_rerun_runs_only_it_with_a_fresh_force_update_tag(client, tmp_path):
    manifest_path = tmp_path / 'm.json'
    artifacts = ['app:v{}'.format(n) for n in range(1, 101)] + ['missing:1']
    with pytest.raises(AzureResponseError, match=r"1 of 3 batch\(es\) failed:\n  rel003 \(blob 'rel-003'\): "
                                                 r"Pipeline run 'rel003' failed: Artifact 'missing:1'"):
        export(client, artifacts, str(manifest_path))
    statuses = [b['status'] for b in json.loads(manifest_path.read_text())['batches']]
    assert statuses == ['Succeeded', 'Succeeded', 'Failed']
    assert 'sig=REDACTED' in manifest_path.read_text() and 'SeCrEt' not in manifest_path.read_text()
    assert all(body['properties'].get('forceUpdateTag') is None for _, body in client.pipeline_runs.puts)

    client.pipeline_runs.puts.clear()
    fixed = artifacts[:-1] + ['app:v101']
    with pytest.raises(AzureResponseError):   # the same input again: only the failed batch runs, and fails again
        export(client, artifacts, str(manifest_path))
    assert [name for name, _ in client.pipeline_runs.puts] == ['rel003']
    assert client.pipeline_runs.puts[0][1]['properties']['forceUpdateTag']

    client.pipeline_runs.puts.clear()
    runs = export(client, fixed, str(manifest_path))
    assert [name for name, _ in client.pipeline_runs.puts] == ['rel003']
    assert [run['properties']['provisioningState'] for run in runs] == ['Succeeded'] * 3

    client.pipeline_runs.puts.clear()
    export(client, fixed, str(manifest_path))
    assert client.pipeline_runs.puts == []


def test_a_dry_run_sends_no_put(client):
    planned = export(client, ['app:v{}'.format(n) for n in range(1, 61)], dry_run=True)
    assert client.pipeline_runs.puts == []
    assert [(item['name'], item['storageBlob'], len(item['artifacts']), item['action']) for item in planned] == [
        ('rel001', 'rel-001', 50, 'create'), ('rel002', 'rel-002', 10, 'create')]


def test_an_import_from_a_manifest_skips_unexported_batches_and_fails_for_them(client, tmp_path):
    manifest = {'format': MANIFEST_FORMAT, 'pipeline': 'exp', 'pipelineType': 'export', 'registry': 'r',
                'batches': [{'index': 1, 'runName': 'rel001', 'blob': 'rel-001', 'artifacts': ['a:1'],
                             'importedArtifacts': ['a:1'], 'catalogDigest': 'sha256:x', 'status': 'Succeeded'},
                            {'index': 2, 'runName': 'rel002', 'blob': 'rel-002', 'artifacts': ['missing:1'],
                             'importedArtifacts': [], 'catalogDigest': None, 'status': 'Failed'}]}
    path = tmp_path / 'm.json'
    path.write_text(json.dumps(manifest))
    with pytest.raises(AzureResponseError, match="relin002 \\(blob 'rel-002'\\): its export did not succeed"):
        pipeline_run_batch.create_pipeline_run_batch(None, client, 'rg1', 'myregistry', 'imp', 'relin', 'import',
                                                     manifest_file=str(path))
    assert [(name, body['properties']['request']['source']['name']) for name, body in client.pipeline_runs.puts] \
        == [('relin001', 'rel-001')]


class Recorder(logging.Handler):
    """The command's stderr lines, whatever knack did to the logging tree of this process before."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(name='stderr_lines')
def fixture_stderr_lines():
    recorder, logger = Recorder(), pipeline_run_batch.logger
    logger.addHandler(recorder)
    yield recorder.lines
    logger.removeHandler(recorder)


def test_progress_over_the_batch_goes_to_the_log(client, stderr_lines):
    export(client, ['app:v{}'.format(n) for n in range(1, 151)], max_concurrent_runs=1)
    lines = stderr_lines
    assert "Export batch of 3 run(s) with pipeline 'exp': 3 start." in lines
    assert '  rel001: Succeeded, 50 artifact(s).' in lines
    assert any(line.startswith('Batch: 1/3 run(s) done (0 failed), running: rel002 ') and line.endswith(
        '%; 1 waiting.') for line in lines), lines
    assert not any('  ' in line for line in lines if line.startswith('Batch:')), lines


def test_an_import_pipeline_with_its_trigger_on_is_named_as_a_risk_of_double_imports(client, stderr_lines):
    def import_with_trigger(status, blob):
        client.import_pipelines.trigger = status
        stderr_lines.clear()
        pipeline_run_batch.create_pipeline_run_batch(None, client, 'rg1', 'myregistry', 'imp', 'relin' + status,
                                                     'import', storage_blobs=[blob])
        return any('source trigger enabled' in line for line in stderr_lines)
    assert not import_with_trigger('Disabled', 'b-001')
    assert import_with_trigger('Enabled', 'b-002')


def test_a_refused_or_unreadable_run_fails_its_batch_alone(client, tmp_path):
    client.pipeline_runs.refuse.add('rel002')
    client.pipeline_runs.unreadable.add('rel003')
    with pytest.raises(AzureResponseError) as raised:
        export(client, ['app:v{}'.format(n) for n in range(1, 201)], str(tmp_path / 'm.json'))
    message = str(raised.value)
    assert message.startswith('2 of 4 batch(es) failed:')
    assert "rel002 (blob 'rel-002'): the run could not be started: (InvalidParameter) refused" in message
    assert "rel003 (blob 'rel-003'): its state could not be read: connection reset" in message
    statuses = [b['status'] for b in json.loads((tmp_path / 'm.json').read_text())['batches']]
    assert statuses == ['Succeeded', 'Failed', 'Failed', 'Succeeded']


def test_an_interrupt_says_the_started_runs_go_on_and_how_to_resume(client, stderr_lines, monkeypatch):
    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline_run_batch._BatchRunner, '_ended', interrupted)  # pylint: disable=protected-access
    with pytest.raises(KeyboardInterrupt):
        export(client, ['app:v1'])
    assert [name for name, _ in client.pipeline_runs.puts] == ['rel001']
    assert any(line.startswith('Interrupted: the runs already started go on') for line in stderr_lines)


def test_a_done_callback_before_done_wakes_the_runner_for_good(client, monkeypatch):
    """azure-core calls done-callbacks before the poller's done() turns true: the runner must not then sit out a
    whole progress interval. Every wait of the runner here is ended by a wake-up, none by the interval."""
    monkeypatch.setattr(pipeline_run_batch, 'PROGRESS_INTERVAL', 30)
    woken = []

    class RecordingEvent(threading.Event):
        def wait(self, timeout=None):
            woken.append(super().wait(timeout))
            return woken[-1]
    monkeypatch.setattr(pipeline_run_batch, 'threading', Namespace(Event=RecordingEvent, Lock=threading.Lock))
    export(client, ['app:v{}'.format(n) for n in range(1, 101)], max_concurrent_runs=1)
    assert woken and all(woken), woken


class SpecLifecycleService(FakeService):
    """The spec's lifecycle: the PUT's operation succeeds at once with provisioningState Succeeded and the run's
    response.status Running (a string percentage); the run ends only on its third GET, a failing one with
    provisioningState still Succeeded. `operation_error`: what the operation ends with instead."""

    operation_error = None

    def begin_create_or_update(self, group, registry, name, body):
        request = body['properties']['request']
        self.puts.append((name, body))
        self.runs[name] = {'name': name, 'properties': {'request': request, 'provisioningState': 'Succeeded',
                                                        'response': {'status': 'Running',
                                                                     'progress': {'percentage': '20'}}}}
        self.reads = getattr(self, 'reads', {})
        self.reads[name] = 0
        poller = FakePoller()
        poller.finish(self.operation_error)
        return poller

    def get(self, group, registry, name):
        self.reads[name] += 1
        run = self.runs[name]
        if self.reads[name] == 3:
            failed = 'missing:1' in (run['properties']['request'].get('artifacts') or [])
            run['properties']['response'] = {'status': 'Failed' if failed else 'Succeeded', 'importedArtifacts': []}
            if failed:
                run['properties']['response']['pipelineRunErrorMessage'] = "Artifact 'missing:1' was not found"
        return json.loads(json.dumps(run))


def test_in_the_spec_lifecycle_a_batch_ends_when_its_runs_say_so(client):
    client.pipeline_runs = SpecLifecycleService()
    with pytest.raises(AzureResponseError) as raised:
        export(client, ['app:v{}'.format(n) for n in range(1, 61)] + ['missing:1'] +
               ['app:v{}'.format(n) for n in range(61, 111)])
    assert str(raised.value).startswith('1 of 3 batch(es) failed:')
    assert "rel002 (blob 'rel-002'): Pipeline run 'rel002' failed: Artifact 'missing:1' was not found" in \
        str(raised.value)
    assert all(reads >= 3 for reads in client.pipeline_runs.reads.values())


def test_a_generic_failed_operation_keeps_its_code_beside_the_runs_own_message(client):
    from azext_acrtransfer._client import AsyncOperationFailed
    client.pipeline_runs = SpecLifecycleService()
    client.pipeline_runs.operation_error = AsyncOperationFailed('PUT pipelineRuns/rel001', 'Failed',
                                                                'PipelineRunFailed', 'The pipeline run failed.')
    with pytest.raises(AzureResponseError) as raised:
        export(client, ['missing:1'])
    assert ("Pipeline run 'rel001' failed: (PipelineRunFailed) The pipeline run failed.; Artifact 'missing:1' was "
            "not found") in str(raised.value)


# ---- referrers and incremental exports ------------------------------------------------------------------------

SIGNATURE = 'application/vnd.cncf.notary.signature'


def signed(client, count, referrers=2):
    """`count` images app:v1.. in the source registry, each with `referrers` signatures by the referrers API."""
    registry = client.registry
    for number in range(1, count + 1):
        image = registry.push_image('app', 'v{}'.format(number), str(number))
        for signature in range(referrers):
            registry.push_referrer('app', image, SIGNATURE, '{}-{}'.format(number, signature))


def test_include_referrers_keeps_each_image_with_its_referrers_and_the_manifest_records_them(client, tmp_path):
    signed(client, 20)
    manifest_path = tmp_path / 'm.json'
    export(client, ['app:v{}'.format(n) for n in range(1, 21)], str(manifest_path), include_referrers=True)
    requested = [body['properties']['request']['artifacts'] for _, body in client.pipeline_runs.puts]
    assert [len(artifacts) for artifacts in requested] == [48, 12]   # 16 images of 3, then 4: never split
    assert requested[1][:3] == ['app:v17'] + ['app@' + r['digest'] for r in client.registry.referrers(
        'app', client.registry.tags[('app', 'v17')])]
    manifest = json.loads(manifest_path.read_text())
    assert manifest['includeReferrers'] is True and len(manifest['products']) == 20
    product = manifest['products'][16]
    assert product['reference'] == 'app:v17' and product['digest'] == client.registry.tags[('app', 'v17')]
    assert product['batch'] == 2 and len(product['referrers']) == 2


def test_a_dry_run_lists_the_referrers_it_would_carry(client, stderr_lines):
    signed(client, 1)
    planned = export(client, ['app:v1'], include_referrers=True, dry_run=True)
    assert client.pipeline_runs.puts == [] and len(planned[0]['artifacts']) == 3
    assert any(line.startswith('  app:v1 (sha256:') and '2 referrer(s)' in line and SIGNATURE in line
               for line in stderr_lines), stderr_lines


def test_an_export_since_a_manifest_carries_only_the_changed_tag(client, tmp_path, stderr_lines):
    signed(client, 3)
    first, second = tmp_path / 'first.json', tmp_path / 'second.json'
    references = ['app:v1', 'app:v2', 'app:v3']
    export(client, references, str(first), include_referrers=True)
    client.pipeline_runs.puts.clear()
    moved = client.registry.push_image('app', 'v2', 'rebuilt')
    client.registry.push_referrer('app', moved, SIGNATURE, 'rebuilt')
    pipeline_run_batch.create_pipeline_run_batch(None, client, 'rg1', 'myregistry', 'exp', 'inc', 'export', 'inc',
                                                 artifacts=references, manifest_file=str(second),
                                                 include_referrers=True, since_manifest=str(first))
    assert [body['properties']['request']['artifacts'] for _, body in client.pipeline_runs.puts] == [
        ['app:v2', 'app@' + client.registry.referrers('app', moved)[0]['digest']]]
    manifest = json.loads(second.read_text())
    assert [p['reference'] for p in manifest['products']] == ['app:v2']
    assert [u['reference'] for u in manifest['unchanged']] == ['app:v1', 'app:v3']
    assert manifest['base']['file'] == 'first.json'
    assert any(line.startswith('Unchanged since the base manifest, not exported: app:v1, app:v3') for line in
               stderr_lines)

    client.pipeline_runs.puts.clear()
    assert pipeline_run_batch.create_pipeline_run_batch(
        None, client, 'rg1', 'myregistry', 'exp', 'inc2', 'export', 'inc2', artifacts=references,
        since_manifest=str(second)) == []
    assert client.pipeline_runs.puts == [] and any(line.startswith('Nothing changed since') for line in stderr_lines)


def test_a_missing_reference_is_recorded_without_a_digest_and_its_run_decides(client, tmp_path):
    client.registry = type(client.registry).__mro__[1]()   # a plain registry: only what was pushed exists
    signed(client, 1)
    recorder = Recorder()
    _product.logger.addHandler(recorder)
    try:
        export(client, ['app:v1', 'app:v2'], str(tmp_path / 'm.json'), include_referrers=True)
    finally:
        _product.logger.removeHandler(recorder)
    assert [body['properties']['request']['artifacts'][::3] for _, body in client.pipeline_runs.puts] == [
        ['app:v1', 'app:v2']]   # the image, its two referrers, then the missing one: the service says what it does
    products = json.loads((tmp_path / 'm.json').read_text())['products']
    assert [(p['reference'], p['digest'] is None, len(p['referrers'])) for p in products] == [
        ('app:v1', False, 2), ('app:v2', True, 0)]
    assert any(line.startswith("Not found in registry 'myregistry' now: app:v2.") for line in recorder.lines)


@pytest.mark.parametrize('overrides, text', [
    (dict(pipeline_type='import', storage_blob_prefix=None, storage_blobs=['b'], include_referrers=True),
     '--include-referrers applies to export batches only'),
    (dict(pipeline_type='import', storage_blob_prefix=None, storage_blobs=['b'], since_manifest='m.json'),
     '--since-manifest applies to export batches only'),
])
def test_referrers_and_since_are_export_options(overrides, text):
    with pytest.raises(ArgumentUsageError, match=text):
        v.validate_pipeline_run_create_batch(batch_namespace(**overrides))


def test_a_since_manifest_without_digests_is_refused_up_front(tmp_path):
    old = tmp_path / 'old.json'
    old.write_text(json.dumps({'format': MANIFEST_FORMAT, 'pipelineType': 'export', 'batches': [
        {'index': 1, 'blob': 'b-001', 'status': 'Succeeded'}]}))
    with pytest.raises(InvalidArgumentValueError, match='records no digests'):
        v.validate_pipeline_run_create_batch(batch_namespace(artifacts=['a:1'], since_manifest=str(old)))
