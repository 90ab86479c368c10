# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""pipeline-run clean against an HTTP peer that answers by URL (the deletions run concurrently)."""

import json
import threading
import time
from types import SimpleNamespace
from unittest import mock

import pytest
from azure.cli.core.azclierror import AzureResponseError, InvalidArgumentValueError

from azext_acrtransfer.pipeline_run import clean_pipeline_runs, clean_concurrency
from replay import _response
from test_client import BASE, RUNS, client

FAILED = ['failed{:02d}'.format(i) for i in range(30)]
SUCCEEDED = ['good{:02d}'.format(i) for i in range(5)]


class Peer:
    """Lists the runs in pages of 7; answers a run DELETE with 202 + Location, 200 or 204 in turn, the
    Location with 202 once and then 204; records what was deleted and how many deletions were in flight."""

    def __init__(self, refuse=()):
        self.refuse = set(refuse)
        self.deleted, self.locations, self.in_flight, self.most_in_flight = [], {}, 0, 0
        self.requests = 0
        self.lock = threading.Lock()

    def send(self, _adapter, request, **_):
        self.requests += 1
        path = request.url.split('?')[0]
        if request.method == 'GET' and path == BASE + RUNS:
            return self.page(request)
        if request.method == 'DELETE':
            return self.delete(request, path.rsplit('/', 1)[1])
        polls = self.locations[path]
        self.locations[path] = polls + 1
        return _response(request, 202 if polls == 0 else 204, {}, '')

    def page(self, request):
        runs = [{'name': n, 'properties': {'provisioningState': 'Failed'}} for n in FAILED] + \
            [{'name': n, 'properties': {'provisioningState': 'Succeeded'}} for n in SUCCEEDED]
        skip = int(request.url.split('skip=')[1]) if 'skip=' in request.url else 0
        body = {'value': runs[skip:skip + 7]}
        if skip + 7 < len(runs):
            body['nextLink'] = BASE + RUNS + '?api-version=x&skip={}'.format(skip + 7)
        return _response(request, 200, {'Content-Type': 'application/json'}, json.dumps(body))

    def delete(self, request, name):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
            if name in self.refuse:
                error = {'error': {'code': 'Conflict', 'message': 'run {} is locked'.format(name)}}
                return _response(request, 409, {'Content-Type': 'application/json'}, json.dumps(error))
            self.deleted.append(name)
        kind = FAILED.index(name) % 3
        if kind == 0:
            location = BASE + '/operationResults/' + name
            self.locations[location] = 0
            return _response(request, 202, {'Location': location}, '')
        return _response(request, 200 if kind == 1 else 204, {}, '')


@pytest.fixture(autouse=True)
def no_polling_delay():
    with mock.patch('azext_acrtransfer._client.DEFAULT_POLLING_INTERVAL', 0):
        yield


def answering(peer):
    return mock.patch('requests.adapters.HTTPAdapter.send', lambda adapter, request, **kw: peer.send(adapter, request))


def command(concurrency=None):
    values = {('acrtransfer', 'clean_concurrency'): concurrency}
    config = SimpleNamespace(get=lambda section, option, default=None: values.get((section, option), default))
    return SimpleNamespace(cli_ctx=SimpleNamespace(config=config))


def test_clean_deletes_every_failed_run_concurrently_and_waits_for_each():
    peer = Peer()
    with answering(peer):
        result = clean_pipeline_runs(command(), client(), 'rg', 'reg1')
    assert result == {'deleted': 30, 'failed': 0, 'deletedRuns': FAILED}
    assert sorted(peer.deleted) == FAILED  # no succeeded run touched
    assert all(polls == 2 for polls in peer.locations.values()) and len(peer.locations) == 10
    assert 10 < peer.most_in_flight <= 16


def test_clean_reports_exact_counts_and_each_failure():
    peer = Peer(refuse=['failed04', 'failed17'])
    with answering(peer), \
            pytest.raises(AzureResponseError) as error:
        clean_pipeline_runs(command(4), client(), 'rg', 'reg1')
    lines = str(error.value).splitlines()
    assert lines[0] == 'Deleted 28 failed pipeline-run(s); 2 deletion(s) failed.'
    assert lines[1].startswith('failed04: ') and 'run failed04 is locked' in lines[1]
    assert lines[2].startswith('failed17: ') and 'run failed17 is locked' in lines[2]
    assert len(peer.deleted) == 28 and peer.most_in_flight <= 4


def test_one_at_a_time_when_configured():
    peer = Peer()
    with answering(peer):
        assert clean_pipeline_runs(command('1'), client(), 'rg', 'reg1')['deleted'] == 30
    assert peer.most_in_flight == 1


@pytest.mark.parametrize('value', ['0', '17', 'many'])
def test_the_concurrency_setting_is_checked(value):
    with pytest.raises(InvalidArgumentValueError, match='from 1 to 16'):
        clean_concurrency(command(value).cli_ctx)


def test_a_bad_concurrency_setting_is_refused_before_any_request():
    peer = Peer()
    with answering(peer), pytest.raises(InvalidArgumentValueError):
        clean_pipeline_runs(command('0'), client(), 'rg', 'reg1')
    assert peer.requests == 0
