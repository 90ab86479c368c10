"""The ACR-compatible registry front, driven with ``requests`` the way azure-cli's acr module drives a registry
(challenge, /oauth2/exchange, /oauth2/token, /acr/v1/... with paging), in front of a real docker-registry.

The front runs over plain http here (the sandbox serves it over HTTPS with its CA); the realm it advertises says
https, so the client below swaps the scheme, nothing else.
"""
import asyncio
import base64
import hashlib
import json
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import requests
from aiohttp import web

from acrtransfer_sandbox.fronts.registry import EMPTY_GUID, make_registry_front_app, stored_manifest_digests
from acrtransfer_sandbox.transfer import RegistryClient, push_sample_images
from acrtransfer_sandbox.transfer.registry import Manifest, sha256_digest
from conftest import client_session, run
from servers import free_port

ARM_TOKEN = 'arm-token-issued-by-the-sandbox'
ARM_CLAIMS = {'oid': '11111111-2222-3333-4444-555555555555', 'tid': 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'}


def verify_aad_token(token):
    return ARM_CLAIMS if token == ARM_TOKEN else None


class FrontServer:
    """The front app on its own event loop in a thread, so the test can use blocking ``requests`` like az."""

    def __init__(self, upstream_url, ssl_context=None, storage_root=None):
        self.port = free_port()
        self._ssl_context = ssl_context
        self.login_server = '127.0.0.1:{}'.format(self.port)
        self.url = 'http://' + self.login_server
        self._app = make_registry_front_app(upstream_url, 'sourceregistry', self.login_server, verify_aad_token,
                                            storage_root)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self._app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, '127.0.0.1', self.port, ssl_context=self._ssl_context)
        self._loop.run_until_complete(site.start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self):
        self._thread.start()
        assert self._started.wait(10)
        return self

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def http(self, url):
        """The front's https URLs (realm, Location) as reachable in this test."""
        return url.replace('https://', 'http://', 1)


@pytest.fixture
def sample_digests(source_registry):
    async def push():
        async with await client_session() as session:
            return await push_sample_images(RegistryClient(session, source_registry.url))
    return run(push())


@pytest.fixture
def front(source_registry, sample_digests):
    server = FrontServer(source_registry.url, storage_root=Path(source_registry.workdir, 'data')).start()
    yield server
    server.stop()


def _challenge(front):
    response = requests.get(front.url + '/v2/')
    assert response.status_code == 401
    scheme, _, params = response.headers['WWW-Authenticate'].partition(' ')
    assert scheme == 'Bearer'
    return {key: value.strip('"') for key, value in (part.split('=', 1) for part in params.split(','))}


def _refresh_token(front, arm_token=ARM_TOKEN):
    params = _challenge(front)
    exchange = front.http('{0.scheme}://{0.netloc}/oauth2/exchange'.format(urlparse(params['realm'])))
    return requests.post(exchange, data={'grant_type': 'access_token', 'service': params['service'],
                                         'tenant': ARM_CLAIMS['tid'], 'access_token': arm_token})


def _access_token(front, scope, refresh_token=None):
    refresh_token = refresh_token or _refresh_token(front).json()['refresh_token']
    response = requests.post(front.url + '/oauth2/token', data={
        'grant_type': 'refresh_token', 'service': front.login_server, 'scope': scope, 'refresh_token': refresh_token})
    assert response.status_code == 200, response.text
    return response.json()['access_token']


def _claims(token):
    payload = token.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))


def _bearer(token):
    return {'Authorization': 'Bearer ' + token}


def test_challenge_names_the_token_realm_and_service(front):
    params = _challenge(front)
    assert params == {'realm': 'https://{}/oauth2/token'.format(front.login_server), 'service': front.login_server}


def test_exchange_turns_a_sandbox_arm_token_into_a_refresh_token(front):
    response = _refresh_token(front)
    assert response.status_code == 200
    assert _claims(response.json()['refresh_token'])['sub'] == ARM_CLAIMS['oid']
    assert _refresh_token(front, arm_token='forged').status_code == 401


def test_access_token_lists_the_granted_scope(front):
    token = _access_token(front, 'repository:hello-world:metadata_read')
    assert _claims(token)['access'] == [{'type': 'repository', 'name': 'hello-world', 'actions': ['metadata_read']}]
    bad = requests.post(front.url + '/oauth2/token', data={
        'grant_type': 'refresh_token', 'scope': 'x:y:z', 'service': front.login_server, 'refresh_token': 'nope'})
    assert bad.status_code == 401


def test_show_tags_flow_returns_acr_tag_attributes(front, sample_digests):
    token = _access_token(front, 'repository:hello-world:metadata_read')
    response = requests.get(front.url + '/acr/v1/hello-world/_tags', params={'n': 100}, headers=_bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body['registry'] == front.login_server and body['imageName'] == 'hello-world'
    assert [tag['name'] for tag in body['tags']] == ['latest', 'multiarch', 'v2']
    for tag in body['tags']:
        assert tag['digest'] == sample_digests['hello-world:' + tag['name']]
        assert tag['signed'] is False and tag['changeableAttributes']['readEnabled'] is True
        assert tag['createdTime'].endswith('Z') and tag['lastUpdateTime'].endswith('Z')


def test_tags_page_with_a_link_header_that_az_can_follow(front):
    token = _access_token(front, 'repository:hello-world:metadata_read')
    params, names = {'n': 2}, []
    while params is not None:
        response = requests.get(front.url + '/acr/v1/hello-world/_tags', params=params, headers=_bearer(token))
        names += [tag['name'] for tag in response.json()['tags']]
        link = response.headers.get('link')
        if link:   # parsed exactly as azure-cli's repository.py does
            path = link[link.index('<') + 1:link.index('>')]
            pairs = (item.split('=', 1) for item in path.split('?', 1)[1].split('&'))
            params = {key: unquote(value) for key, value in pairs}
        else:
            params = None
    assert names == ['latest', 'multiarch', 'v2']


def test_tags_ordered_by_time_and_single_tag_lookup(front, sample_digests):
    token = _access_token(front, 'repository:hello-world:metadata_read')
    ordered = requests.get(front.url + '/acr/v1/hello-world/_tags', params={'orderby': 'timedesc'},
                           headers=_bearer(token))
    assert sorted(tag['name'] for tag in ordered.json()['tags']) == ['latest', 'multiarch', 'v2']
    single = requests.get(front.url + '/acr/v1/hello-world/_tags/v2', headers=_bearer(token))
    assert single.json()['tag']['digest'] == sample_digests['hello-world:v2']
    missing = requests.get(front.url + '/acr/v1/hello-world/_tags/nope', headers=_bearer(token))
    assert missing.status_code == 404 and missing.json()['errors'][0]['code'] == 'TAG_UNKNOWN'


def test_a_token_for_one_repository_does_not_read_another(front):
    token = _access_token(front, 'repository:other:pull')
    response = requests.get(front.url + '/acr/v1/hello-world/_tags', headers=_bearer(token))
    assert response.status_code == 401
    assert 'scope="repository:hello-world:metadata_read"' in response.headers['WWW-Authenticate']
    assert requests.get(front.url + '/acr/v1/hello-world/_tags').status_code == 401


def test_catalog_needs_the_registry_scope(front):
    token = _access_token(front, 'registry:catalog:*')
    response = requests.get(front.url + '/acr/v1/_catalog', headers=_bearer(token))
    assert response.json() == {'repositories': ['hello-world']}
    assert requests.get(front.url + '/v2/_catalog', headers=_bearer(token)).json() == {
        'repositories': ['hello-world']}
    wrong = _access_token(front, 'repository:hello-world:pull')
    assert requests.get(front.url + '/acr/v1/_catalog', headers=_bearer(wrong)).status_code == 401


def test_docker_login_style_basic_auth_gets_an_access_token(front):
    refresh_token = _refresh_token(front).json()['refresh_token']
    response = requests.get(front.url + '/oauth2/token', params={
        'service': front.login_server, 'scope': 'repository:hello-world:pull'}, auth=(EMPTY_GUID, refresh_token))
    assert response.status_code == 200
    assert _claims(response.json()['access_token'])['access'][0]['actions'] == ['pull']
    password_grant = requests.post(front.url + '/oauth2/token', data={
        'grant_type': 'password', 'service': front.login_server, 'username': EMPTY_GUID, 'password': refresh_token,
        'scope': 'repository:hello-world:pull'})
    assert password_grant.status_code == 200


def test_v2_proxy_streams_manifests_and_ranged_blobs(front, sample_digests):
    token = _access_token(front, 'repository:hello-world:pull')
    manifest = requests.get(front.url + '/v2/hello-world/manifests/latest', headers=dict(
        _bearer(token), Accept='application/vnd.oci.image.manifest.v1+json'))
    assert manifest.status_code == 200
    assert manifest.headers['Docker-Content-Digest'] == sample_digests['hello-world:latest']
    assert 'sha256:' + hashlib.sha256(manifest.content).hexdigest() == sample_digests['hello-world:latest']
    layer = manifest.json()['layers'][0]
    whole = requests.get(front.url + '/v2/hello-world/blobs/' + layer['digest'], headers=_bearer(token))
    assert 'sha256:' + hashlib.sha256(whole.content).hexdigest() == layer['digest']
    part = requests.get(front.url + '/v2/hello-world/blobs/' + layer['digest'],
                        headers=dict(_bearer(token), Range='bytes=0-9'))
    assert part.status_code == 206 and part.content == whole.content[:10]
    head = requests.head(front.url + '/v2/hello-world/manifests/v2', headers=dict(
        _bearer(token), Accept='application/vnd.docker.distribution.manifest.v2+json'))
    assert head.status_code == 200 and head.headers['Docker-Content-Digest'] == sample_digests['hello-world:v2']


def test_v2_proxy_uploads_through_the_front_with_locations_pointing_at_it(front):
    pull_only = _access_token(front, 'repository:pushed:pull')
    assert requests.post(front.url + '/v2/pushed/blobs/uploads/', headers=_bearer(pull_only)).status_code == 401
    token = _access_token(front, 'repository:pushed:pull,push')
    started = requests.post(front.url + '/v2/pushed/blobs/uploads/', headers=_bearer(token))
    assert started.status_code == 202
    location = started.headers['Location']
    assert location.startswith('https://{}/v2/pushed/blobs/uploads/'.format(front.login_server)) or \
        location.startswith('/v2/pushed/blobs/uploads/')
    content = b'uploaded through the front\n'
    digest = 'sha256:' + hashlib.sha256(content).hexdigest()
    target = front.http(location if location.startswith('http') else front.url + location)
    separator = '&' if '?' in target else '?'
    committed = requests.put(target + separator + 'digest=' + digest, data=content,
                             headers=dict(_bearer(token), **{'Content-Type': 'application/octet-stream'}))
    assert committed.status_code == 201, committed.text
    fetched = requests.get(front.url + '/v2/pushed/blobs/' + digest, headers=_bearer(token))
    assert fetched.content == content


def _self_signed_context(directory):
    """A throw-away certificate for 127.0.0.1 (the sandbox uses its own CA; skopeo here skips verification)."""
    import datetime
    import ipaddress
    import ssl
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / 'front.crt', directory / 'front.key'
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def test_skopeo_pulls_and_pushes_through_the_front_with_acr_style_credentials(source_registry, sample_digests,
                                                                              tmp_path):
    """A real OCI client: challenge, Basic-auth token request with the empty-GUID user and a refresh token, then
    pulls and chunked pushes through the proxy (uploads follow the Location headers the front rewrote)."""
    import subprocess
    import urllib3
    from servers import SKOPEO_INSTALL, MissingBinary, find_binary
    try:
        skopeo = find_binary('skopeo', SKOPEO_INSTALL)
    except MissingBinary as error:
        pytest.fail(str(error), pytrace=False)
    server = FrontServer(source_registry.url, _self_signed_context(tmp_path)).start()
    try:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        refresh_token = requests.post('https://{}/oauth2/exchange'.format(server.login_server), verify=False, data={
            'grant_type': 'access_token', 'service': server.login_server, 'access_token': ARM_TOKEN}).json()[
            'refresh_token']
        creds = '{}:{}'.format(EMPTY_GUID, refresh_token)
        copied = tmp_path / 'copied'
        subprocess.run([skopeo, 'copy', '--quiet', '--src-tls-verify=false', '--src-creds', creds,
                        'docker://{}/hello-world:latest'.format(server.login_server), 'dir:{}'.format(copied)],
                       check=True, capture_output=True, timeout=120, text=True)
        manifest = (copied / 'manifest.json').read_bytes()
        assert 'sha256:' + hashlib.sha256(manifest).hexdigest() == sample_digests['hello-world:latest']
        subprocess.run([skopeo, 'copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', creds,
                        'dir:{}'.format(copied), 'docker://{}/pushed/hello:copy'.format(server.login_server)],
                       check=True, capture_output=True, timeout=120, text=True)
        denied = subprocess.run([skopeo, 'inspect', '--tls-verify=false', '--creds', EMPTY_GUID + ':forged',
                                 'docker://{}/hello-world:latest'.format(server.login_server)],
                                capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert denied.returncode != 0

    async def pushed_digest():
        async with await client_session() as session:
            return await RegistryClient(session, source_registry.url).tag_digest('pushed/hello', 'copy')
    assert run(pushed_digest()) == sample_digests['hello-world:latest']


def test_manifest_metadata_lists_tagged_manifests_and_index_children(front, sample_digests):
    token = _access_token(front, 'repository:hello-world:metadata_read')
    listed = requests.get(front.url + '/acr/v1/hello-world/_manifests', params={'n': 100}, headers=_bearer(token))
    assert listed.status_code == 200
    manifests = {item['digest']: item for item in listed.json()['manifests']}
    assert len(manifests) == 5   # latest, v2, the index and its two platform manifests
    latest = manifests[sample_digests['hello-world:latest']]
    assert latest['tags'] == ['latest'] and latest['architecture'] == 'amd64' and latest['os'] == 'linux'
    assert latest['mediaType'] == 'application/vnd.oci.image.manifest.v1+json' and latest['imageSize'] > 0
    index = manifests[sample_digests['hello-world:multiarch']]
    assert sorted(reference['architecture'] for reference in index['references']) == ['amd64', 'arm64']
    assert all(manifests[reference['digest']]['tags'] == [] for reference in index['references'])

    one = requests.get(front.url + '/acr/v1/hello-world/_manifests/' + sample_digests['hello-world:v2'],
                       headers=_bearer(token))
    assert one.json()['manifest']['tags'] == ['v2']
    assert one.json()['manifest']['configMediaType'] == 'application/vnd.docker.container.image.v1+json'
    paged = requests.get(front.url + '/acr/v1/hello-world/_manifests', params={'n': 2}, headers=_bearer(token))
    assert len(paged.json()['manifests']) == 2 and 'rel="next"' in paged.headers['Link']


def test_repository_attributes(front):
    token = _access_token(front, 'repository:hello-world:metadata_read')
    attributes = requests.get(front.url + '/acr/v1/hello-world', headers=_bearer(token)).json()
    assert attributes['imageName'] == 'hello-world' and attributes['tagCount'] == 3
    assert attributes['manifestCount'] == 5
    missing_token = _access_token(front, 'repository:nothing:metadata_read')
    missing = requests.get(front.url + '/acr/v1/nothing', headers=_bearer(missing_token))
    assert missing.status_code == 404 and missing.json()['errors'][0]['code'] == 'NAME_UNKNOWN'


def _push_untagged(registry_url, tagged_reference):
    """A new manifest (the tagged one with an annotation) pushed by digest only; returns its digest."""
    async def push():
        async with await client_session() as session:
            registry = RegistryClient(session, registry_url)
            repository, _, tag = tagged_reference.partition(':')
            original = await registry.get_manifest(repository, tag)
            content = json.loads(original.content)
            content['annotations'] = {'org.example.untagged': 'yes'}
            data = json.dumps(content).encode()
            digest = sha256_digest(data)
            await registry.put_manifest(repository, digest, Manifest(original.media_type, digest, data))
            return digest
    return run(push())


def test_untagged_manifests_are_listed_and_shown_by_digest(front, source_registry, sample_digests):
    digest = _push_untagged(source_registry.url, 'hello-world:latest')
    token = _access_token(front, 'repository:hello-world:metadata_read')
    listed = requests.get(front.url + '/acr/v1/hello-world/_manifests', params={'n': 100}, headers=_bearer(token))
    manifests = {item['digest']: item for item in listed.json()['manifests']}
    assert len(manifests) == 6 and manifests[digest]['tags'] == []
    assert manifests[digest]['architecture'] == 'amd64' and manifests[digest]['imageSize'] > 0
    assert manifests[sample_digests['hello-world:latest']]['tags'] == ['latest']
    shown = requests.get(front.url + '/acr/v1/hello-world/_manifests/' + digest, headers=_bearer(token))
    assert shown.status_code == 200 and shown.json()['manifest']['digest'] == digest
    assert requests.get(front.url + '/acr/v1/hello-world', headers=_bearer(token)).json()['manifestCount'] == 6
    unknown = requests.get(front.url + '/acr/v1/hello-world/_manifests/sha256:' + 'f' * 64, headers=_bearer(token))
    assert unknown.status_code == 404 and unknown.json()['errors'][0]['code'] == 'MANIFEST_UNKNOWN'


def test_without_the_storage_an_untagged_manifest_is_still_shown_by_digest(source_registry, sample_digests):
    digest = _push_untagged(source_registry.url, 'hello-world:v2')
    server = FrontServer(source_registry.url).start()
    try:
        token = _access_token(server, 'repository:hello-world:metadata_read')
        shown = requests.get(server.url + '/acr/v1/hello-world/_manifests/' + digest, headers=_bearer(token))
        assert shown.status_code == 200 and shown.json()['manifest']['tags'] == []
    finally:
        server.stop()


def test_stored_manifests_stay_inside_the_storage(tmp_path):
    link = tmp_path / 'docker/registry/v2/repositories/a/b/_manifests/revisions/sha256' / ('e' * 64) / 'link'
    link.parent.mkdir(parents=True)
    link.write_text('sha256:' + 'e' * 64)
    assert list(stored_manifest_digests(tmp_path, 'a/b')) == ['sha256:' + 'e' * 64]
    assert stored_manifest_digests(tmp_path, 'a/../a/b') == {} and stored_manifest_digests(tmp_path, 'nothing') == {}
    assert stored_manifest_digests(None, 'a/b') == {}
