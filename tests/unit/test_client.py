# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The management client's behaviour on faults, paging and errors, against a scripted HTTP peer."""

import json
from unittest import mock

import pytest
import requests
from azure.cli.core.azclierror import AzureResponseError
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from azext_acrtransfer._client import AsyncOperationFailed, ContainerRegistryTransferClient
from replay import _response, started_threads

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


def test_on_status_runs_after_each_check_that_finds_the_operation_going_in_order_with_the_checks():
    operation = BASE + '/subscriptions/sub1/providers/Microsoft.ContainerRegistry/operations/op1'
    sent, patch = scripted([
        (201, {'Azure-AsyncOperation': operation, 'Retry-After': '0'},
         {'properties': {'provisioningState': 'Creating'}}),
        (200, {}, {'status': 'InProgress'}),
        (200, {}, {'status': 'InProgress'}),
        (200, {}, {'status': 'Succeeded'}),
        (200, {}, {'name': 'run1', 'properties': {'provisioningState': 'Succeeded'}})])
    checks = []
    with patch:
        poller = client().pipeline_runs.begin_create_or_update(
            'rg', 'reg1', 'run1', {'properties': {}}, polling_interval=0,
            on_status=lambda: checks.append(len(sent)))
        poller.result()
    assert checks == [2, 3]  # after the first and second InProgress, never after Succeeded


def test_delete_accepts_202_with_location():
    location = BASE + '/subscriptions/sub1/providers/Microsoft.ContainerRegistry/locations/x/operationResults/1'
    sent, patch = scripted([(202, {'Location': location, 'Retry-After': '0'}, ''), (204, {}, '')])
    with patch:
        client().export_pipelines.begin_delete('rg', 'reg1', 'pipe1', polling_interval=0).result()
    assert [r.method for r in sent] == ['DELETE', 'GET'] and sent[1].url == location


# ---- answers that are not what ARM sends ----

OPERATION = BASE + '/subscriptions/sub1/providers/Microsoft.ContainerRegistry/operations/op1'


@pytest.mark.parametrize('content_type, body', [
    ('text/html', '<html><body>502 Bad Gateway</body></html>'),
    ('application/json', '<html>gateway</html>'),
    ('application/json', '[1, 2]'),
    ('application/json', '"a string"'),
    (None, 'plain text'),
])
def test_a_get_answered_with_something_else_than_a_json_object_is_a_clear_error(content_type, body):
    headers = {'Content-Type': content_type} if content_type else {}
    _, patch = scripted([(200, headers, body)])
    with patch, pytest.raises(AzureResponseError) as error:
        client().pipeline_runs.get('rg', 'reg1', 'run1')
    assert 'GET pipelineRuns/run1 (HTTP 200) is not the JSON document' in str(error.value)


def test_a_list_page_that_is_not_json_is_a_clear_error():
    _, patch = scripted([(200, {'Content-Type': 'text/html'}, '<html/>')])
    with patch, pytest.raises(AzureResponseError, match=r'GET exportPipelines \(HTTP 200\)'):
        list(client().export_pipelines.list('rg', 'reg1'))
    _, patch = scripted([(200, {}, {'value': 'not a list'})])
    with patch, pytest.raises(AzureResponseError, match='not the JSON document'):
        list(client().export_pipelines.list('rg', 'reg1'))


def test_a_next_link_pointing_back_ends_the_list_with_an_error():
    loop = BASE + RUNS + '?api-version=2025-06-01-preview&$skipToken=1'
    sent, patch = scripted([(200, {}, {'value': [{'name': 'a'}], 'nextLink': loop})] * 3)
    with patch, pytest.raises(AzureResponseError, match='same nextLink twice'):
        list(client().pipeline_runs.list('rg', 'reg1'))
    assert len(sent) == 2


def test_a_list_that_never_ends_stops_at_the_page_bound():
    pages = [(200, {}, {'value': [], 'nextLink': BASE + RUNS + '?$skipToken={}'.format(i)}) for i in range(10)]
    sent, patch = scripted(pages)
    with patch, mock.patch('azext_acrtransfer._client.MAX_LIST_PAGES', 4), \
            pytest.raises(AzureResponseError, match='stopped after 4 pages'):
        list(client().pipeline_runs.list('rg', 'reg1'))
    assert len(sent) == 4


def test_an_operation_status_that_is_not_json_is_a_clear_error():
    _, patch = scripted([(201, {'Azure-AsyncOperation': OPERATION, 'Retry-After': '0'}, {'properties': {}}),
                         (200, {'Content-Type': 'text/html'}, '<html>proxy</html>')])
    with patch, pytest.raises(AzureResponseError, match=r'PUT pipelineRuns/run1 \(its status\) \(HTTP 200\)'):
        client().pipeline_runs.begin_create_or_update('rg', 'reg1', 'run1', {}, polling_interval=0).result()


def test_a_failed_operation_carries_the_services_code_and_message():
    failed = {'status': 'Failed', 'error': {'code': 'BlobAlreadyExists', 'message': 'The blob b exists.'}}
    _, patch = scripted([(201, {'Azure-AsyncOperation': OPERATION, 'Retry-After': '0'}, {'properties': {}}),
                         (200, {}, failed)])
    with patch, pytest.raises(AsyncOperationFailed) as error:
        client().pipeline_runs.begin_create_or_update('rg', 'reg1', 'run1', {}, polling_interval=0).result()
    assert (error.value.code, error.value.service_message, error.value.status) == \
        ('BlobAlreadyExists', 'The blob b exists.', 'Failed')
    assert 'invalid status' not in str(error.value)


def test_a_failed_operation_without_a_reason_says_so():
    _, patch = scripted([(201, {'Azure-AsyncOperation': OPERATION, 'Retry-After': '0'}, {'properties': {}}),
                         (200, {}, {'status': 'Canceled'})])
    with patch, pytest.raises(AsyncOperationFailed) as error:
        client().pipeline_runs.begin_create_or_update('rg', 'reg1', 'run1', {}, polling_interval=0).result()
    assert error.value.service_message is None and error.value.status == 'Canceled'


def test_no_wait_sends_nothing_after_the_put():
    sent, patch = scripted([(201, {'Azure-AsyncOperation': OPERATION, 'Retry-After': '0'},
                             {'name': 'run1', 'properties': {'provisioningState': 'Creating'}})] +
                           [(200, {}, {'status': 'InProgress'})] * 20)
    with patch, started_threads() as threads:
        poller = client().pipeline_runs.begin_create_or_update('rg', 'reg1', 'run1', {}, polling_interval=0,
                                                               no_wait=True)
        assert poller.result()['name'] == 'run1'
    assert threads == [] and [r.method for r in sent] == ['PUT']


def test_a_hostile_resource_group_cannot_rewrite_the_request_url():
    sent, patch = scripted([(200, {}, {'name': 'run1'})])
    with patch:
        client().pipeline_runs.get('rg1/../../../rg2?x=1', 'reg1', 'run1')
    assert sent[0].url == (BASE + RUNS.replace('/rg/', '/rg1%2F..%2F..%2F..%2Frg2%3Fx%3D1/') +
                           '/run1?api-version=2025-06-01-preview')
