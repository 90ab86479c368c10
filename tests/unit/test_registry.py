# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The registry data-plane client against a scripted registry: the token flow, paging, retries, failures.
(The e2e tests drive it through az against the sandbox's registry front.)"""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.cli.core.azclierror import AzureResponseError, ResourceNotFoundError, UnauthorizedError
from urllib3.exceptions import NewConnectionError, ProtocolError

from azext_acrtransfer import _registry
from azext_acrtransfer._registry import RegistryDataClient, RegistryUnreachable

LOGIN_SERVER = 'myregistry.azurecr.io'
DIGEST = 'sha256:' + 'a' * 64


def response(status, body=None, headers=None):
    resp = requests.Response()
    resp.status_code = status
    resp._content = (body if isinstance(body, bytes) else json.dumps(body).encode()) if body is not None else b''
    resp.headers.update(headers or {})
    return resp


class ScriptedRegistry:
    """A requests.Session stand-in: answers by (method, path), records every request."""

    def __init__(self):
        self.requests = []
        self.routes = {}
        self.tags = {'hello-world': ['latest', 'v1', 'v2', 'v3', 'v4']}
        self.manifests = {('hello-world', 'latest'), ('hello-world', DIGEST)}
        self.failures = []          # responses or exceptions served before the routes answer
        self.exchange_status = 200

    def request(self, method, url, **kwargs):
        parts = urlsplit(url)
        self.requests.append((method, parts.path, parse_qs(parts.query), kwargs))
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        if parts.path == '/oauth2/exchange':
            return response(self.exchange_status, {'refresh_token': 'refresh-1'})
        if parts.path == '/oauth2/token':
            form = kwargs['data']
            assert form['refresh_token'] == 'refresh-1' and form['service'] == LOGIN_SERVER
            return response(200, {'access_token': 'access:' + form['scope']})
        assert kwargs['headers']['Authorization'].startswith('Bearer access:repository:')
        if parts.path.startswith('/v2/'):
            repository, _, reference = parts.path[4:].partition('/manifests/')
            return response(200 if (repository, reference) in self.manifests else 404)
        repository = parts.path[len('/acr/v1/'):-len('/_tags')]
        return self._tag_page(repository, parse_qs(parts.query))

    def _tag_page(self, repository, query):
        if repository not in self.tags:
            return response(404, {'errors': [{'code': 'NAME_UNKNOWN', 'message': 'repository name not known'}]})
        size = 2  # the client asks for more; a registry may answer with fewer and a Link
        names = [name for name in self.tags[repository] if name > query.get('last', [''])[0]]
        page = names[:size]
        headers = {}
        if len(names) > size:
            headers['Link'] = '</acr/v1/{}/_tags?last={}&n={}>; rel="next"'.format(repository, page[-1], size)
        return response(200, {'imageName': repository, 'tags': [{'name': name} for name in page]}, headers)

    def paths(self):
        return [path for _, path, _, _ in self.requests]


@pytest.fixture(name='registry')
def fixture_registry(monkeypatch):
    monkeypatch.setattr(_registry, '_arm_token', lambda cli_ctx: ('arm-token', 'tenant-1'))
    monkeypatch.setattr(_registry.time, 'sleep', lambda seconds: None)
    return ScriptedRegistry()


def client_for(registry):
    return RegistryDataClient(None, LOGIN_SERVER, session=registry)


def test_the_arm_token_is_exchanged_once_and_access_tokens_are_cached_per_scope(registry):
    client = client_for(registry)
    assert client.manifest_exists('hello-world', 'latest')
    assert client.manifest_exists('hello-world', DIGEST)
    assert client.list_tags('hello-world')
    assert registry.paths().count('/oauth2/exchange') == 1
    assert registry.paths().count('/oauth2/token') == 2
    exchange = next(kwargs['data'] for _, path, _, kwargs in registry.requests if path == '/oauth2/exchange')
    assert exchange == {'grant_type': 'access_token', 'service': LOGIN_SERVER, 'tenant': 'tenant-1',
                        'access_token': 'arm-token'}
    scopes = [kwargs['data']['scope'] for _, path, _, kwargs in registry.requests if path == '/oauth2/token']
    assert scopes == ['repository:hello-world:pull', 'repository:hello-world:metadata_read']


def test_manifest_exists_is_a_head_by_tag_or_digest(registry):
    client = client_for(registry)
    assert client.manifest_exists('hello-world', DIGEST) is True
    assert client.manifest_exists('hello-world', 'missing') is False
    heads = [(path, kwargs) for method, path, _, kwargs in registry.requests if method == 'HEAD']
    assert heads[0][0] == '/v2/hello-world/manifests/' + DIGEST
    assert 'application/vnd.oci.image.index.v1+json' in heads[0][1]['headers']['Accept']
    assert heads[0][1]['verify'] is True


def test_list_tags_follows_the_link_header_to_the_last_page(registry):
    assert client_for(registry).list_tags('hello-world') == ['latest', 'v1', 'v2', 'v3', 'v4']
    pages = [query for _, path, query, _ in registry.requests if path.endswith('/_tags')]
    assert len(pages) == 3 and pages[0]['n'] == [str(_registry.TAG_PAGE_SIZE)] and pages[2]['last'] == ['v3']


def test_a_missing_repository_is_named(registry):
    with pytest.raises(ResourceNotFoundError, match="Repository 'nope' was not found in registry 'myregistry"):
        client_for(registry).list_tags('nope')


def test_throttling_server_errors_and_resets_are_retried(registry):
    registry.failures = [response(429, headers={'Retry-After': '1'}), response(503),
                         requests.exceptions.ConnectionError(ProtocolError('Connection aborted.'))]
    assert client_for(registry).manifest_exists('hello-world', 'latest')
    assert registry.paths()[:4] == ['/oauth2/exchange'] * 4


def test_server_errors_that_persist_are_reported_with_the_registrys_message(registry):
    client = client_for(registry)
    client.manifest_exists('hello-world', 'latest')   # tokens in hand
    registry.failures = [response(500, {'errors': [{'message': 'backend down'}]})] * _registry.ATTEMPTS
    with pytest.raises(AzureResponseError, match='HTTP 500: backend down'):
        client.manifest_exists('hello-world', 'latest')


def test_an_expired_access_token_is_renewed_once(registry):
    client = client_for(registry)
    client.manifest_exists('hello-world', 'latest')
    registry.failures = [response(401)]
    assert client.manifest_exists('hello-world', 'latest')
    assert registry.paths().count('/oauth2/exchange') == 2


def test_denied_access_and_a_refused_exchange_say_what_to_do(registry):
    client = client_for(registry)
    client.manifest_exists('hello-world', 'latest')
    registry.failures = [response(403)]
    with pytest.raises(UnauthorizedError, match='AcrPull'):
        client.manifest_exists('hello-world', 'latest')
    registry.exchange_status = 401
    with pytest.raises(UnauthorizedError, match='/oauth2/exchange .*az login'):
        client_for(registry).manifest_exists('hello-world', 'latest')


def test_a_body_that_is_not_json_is_reported(registry):
    client = client_for(registry)
    client.list_tags('hello-world')
    registry.failures = [response(200, b'<html>proxy</html>')]
    with pytest.raises(AzureResponseError, match='not JSON'):
        client.list_tags('hello-world')


def test_dns_refusal_and_tls_failures_mean_unreachable(registry):
    refused = requests.exceptions.ConnectionError(NewConnectionError(None, 'Failed to establish a new connection'))
    registry.failures = [refused, refused]
    with pytest.raises(RegistryUnreachable, match="Cannot reach registry 'myregistry.azurecr.io'"):
        client_for(registry).manifest_exists('hello-world', 'latest')
    assert len(registry.requests) == _registry.CONNECT_ATTEMPTS

    registry.requests, registry.failures = [], [requests.exceptions.SSLError('certificate verify failed')]
    with pytest.raises(RegistryUnreachable, match='certificate verify failed'):
        client_for(registry).manifest_exists('hello-world', 'latest')
    assert len(registry.requests) == 1


def test_the_login_server_comes_from_the_registry_resource(monkeypatch):
    sent = []

    class FakeTransferClient:
        subscription_id = 'sub-1'

        @staticmethod
        def send(method, url):
            sent.append((method, url))
            http = type('Http', (), {'json': lambda self: {'properties': {'loginServer': 'reg.azurecr.us'}}})()
            return type('PipelineResponse', (), {'http_response': http})()

    import azext_acrtransfer._client_factory as factory
    monkeypatch.setattr(factory, 'cf_acrtransfer', lambda cli_ctx: FakeTransferClient())
    cmd = type('Cmd', (), {'cli_ctx': None})()
    assert _registry.registry_login_server(cmd, 'rg', 'reg') == 'reg.azurecr.us'
    assert sent == [('GET', '/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/'
                            'registries/reg')]
