# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The management client's behaviour on faults, paging and errors, against a scripted HTTP peer."""

import json
from unittest import mock

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from azext_acrtransfer._client import ContainerRegistryTransferClient
from replay import _response

BASE = 'https://management.azure.com'
RUNS = ('/subscriptions/sub1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg1/'
        'pipelineRuns')


class Credential:
    def get_token(self, *_, **__):
        return AccessToken('t', 4102444800)


def scripted(answers):
    """Patch the HTTP adapter: each answer is (status, headers, body) or an exception to raise."""
    sent = []

    def send(_adapter, request, **_):
        sent.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        return _response(request, status, headers, body if isinstance(body, str) else json.dumps(body))
    return sent, mock.patch('requests.adapters.HTTPAdapter.send', send)


def client(**kwargs):
    return ContainerRegistryTransferClient(Credential(), 'sub1', base_url=BASE, retry_backoff_factor=0, **kwargs)


def test_throttling_and_server_errors_are_retried():
    sent, patch = scripted([(429, {'Retry-After': '0'}, ''), (503, {}, ''), (200, {}, {'name': 'run1'})])
    with patch:
        assert client().pipeline_runs.get('rg', 'reg1', 'run1') == {'name': 'run1'}
    assert len(sent) == 3
    assert sent[0].url == BASE + RUNS + '/run1?api-version=2025-06-01-preview'
    assert sent[0].headers['Authorization'] == 'Bearer t'


def test_connection_resets_are_retried():
    sent, patch = scripted([requests.exceptions.ConnectionError('reset by peer'), (200, {}, {'name': 'run1'})])
    with patch:
        assert client().pipeline_runs.get('rg', 'reg1', 'run1')['name'] == 'run1'
    assert len(sent) == 2


def test_persistent_faults_are_reported_with_the_service_error():
    body = {'error': {'code': 'InternalServerError', 'message': 'try later'}}
    _, patch = scripted([(500, {}, body)] * 4)
    with patch, pytest.raises(HttpResponseError) as error:
        client(retry_total=3).pipeline_runs.get('rg', 'reg1', 'run1')
    assert 'try later' in str(error.value)


def test_not_found_is_typed():
    _, patch = scripted([(404, {}, {'error': {'code': 'ResourceNotFound', 'message': 'gone'}})])
    with patch, pytest.raises(ResourceNotFoundError):
        client().export_pipelines.get('rg', 'reg1', 'pipe1')


def test_list_follows_next_link_as_given():
    next_link = BASE + RUNS + '?api-version=2025-06-01-preview&$skipToken=abc'
    sent, patch = scripted([(200, {}, {'value': [{'name': 'a'}], 'nextLink': next_link}),
                            (200, {}, {'value': [{'name': 'b'}]})])
    with patch:
        names = [run['name'] for run in client().pipeline_runs.list('rg', 'reg1')]
    assert names == ['a', 'b']
    assert sent[1].url == next_link


def test_api_version_is_the_clients():
    sent, patch = scripted([(200, {}, {'value': []})])
    with patch:
        list(client(api_version='2023-01-01-preview').import_pipelines.list('rg', 'reg1'))
    assert sent[0].url.endswith('/importPipelines?api-version=2023-01-01-preview')


def test_create_waits_for_an_async_operation():
    operation = BASE + '/subscriptions/sub1/providers/Microsoft.ContainerRegistry/operations/op1'
    sent, patch = scripted([
        (201, {'Azure-AsyncOperation': operation, 'Retry-After': '0'},
         {'properties': {'provisioningState': 'Creating'}}),
        (200, {}, {'status': 'InProgress'}),
        (200, {}, {'status': 'Succeeded'}),
        (200, {}, {'name': 'run1', 'properties': {'provisioningState': 'Succeeded'}})])
    with patch:
        poller = client().pipeline_runs.begin_create_or_update('rg', 'reg1', 'run1', {'properties': {}},
                                                               polling_interval=0)
        assert poller.result()['properties']['provisioningState'] == 'Succeeded'
    assert [(r.method, r.url.split('?')[0]) for r in sent] == [
        ('PUT', BASE + RUNS + '/run1'), ('GET', operation), ('GET', operation), ('GET', BASE + RUNS + '/run1')]
    assert json.loads(sent[0].body) == {'properties': {}}


def test_delete_accepts_202_with_location():
    location = BASE + '/subscriptions/sub1/providers/Microsoft.ContainerRegistry/locations/x/operationResults/1'
    sent, patch = scripted([(202, {'Location': location, 'Retry-After': '0'}, ''), (204, {}, '')])
    with patch:
        client().export_pipelines.begin_delete('rg', 'reg1', 'pipe1', polling_interval=0).result()
    assert [r.method for r in sent] == ['DELETE', 'GET'] and sent[1].url == location
