"""The registry and storage clients against real docker-registry and Azurite."""
import base64
import hashlib
import logging

import pytest

from acrtransfer_sandbox.transfer import BlobContainer, ImageReference, RegistryClient, RegistryError, TransferError
from acrtransfer_sandbox.transfer.registry import sha256_digest
from acrtransfer_sandbox.transfer.samples import push_sample_images
from acrtransfer_sandbox.transfer.storage import scrub_url
from conftest import client_session, run


async def _chunks(data: bytes, size: int = 100_000):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize('text, expected', [
    ('hello-world:latest', ImageReference('hello-world', 'latest', None)),
    ('hello-world', ImageReference('hello-world', 'latest', None)),
    ('team/app:1.0', ImageReference('team/app', '1.0', None)),
    ('app@sha256:' + 'a' * 64, ImageReference('app', None, 'sha256:' + 'a' * 64)),
])
def test_image_references_parse_like_docker(text, expected):
    assert ImageReference.parse(text) == expected
    assert str(expected) in (text, text + ':latest')


@pytest.mark.parametrize('text', ['Upper:tag', 'app@sha256:short', 'app:bad tag', 'app:'])
def test_invalid_image_references_are_refused(text):
    with pytest.raises(ValueError, match='Invalid artifact reference'):
        ImageReference.parse(text)


def test_registry_client_resolves_walks_and_lists(source_registry):
    async def scenario():
        async with await client_session() as session:
            registry = RegistryClient(session, source_registry.url)
            digests = await push_sample_images(registry)
            index = await registry.resolve('hello-world:multiarch')
            manifests, blobs = await registry.walk('hello-world', index)
            by_digest = await registry.resolve('hello-world@' + digests['hello-world:v2'])
            return digests, index, manifests, blobs, by_digest, await registry.list_tags('hello-world'), \
                await registry.list_repositories(), await registry.tag_digest('hello-world', 'nope')
    digests, index, manifests, blobs, by_digest, tags, repositories, missing = run(scenario())
    assert index.is_index and index.digest == digests['hello-world:multiarch']
    assert [manifest.digest for manifest in manifests][-1] == index.digest and len(manifests) == 3
    assert len(blobs) == 2 * (1 + 2)   # two platforms, each a config and two layers
    assert by_digest.media_type == 'application/vnd.docker.distribution.manifest.v2+json'
    assert sorted(tags) == ['latest', 'multiarch', 'v2'] and repositories == ['hello-world']
    assert missing is None


def test_blob_upload_streams_and_the_registry_checks_the_digest(source_registry):
    content = bytes(range(256)) * 5000

    async def scenario():
        async with await client_session() as session:
            registry = RegistryClient(session, source_registry.url)
            digest = sha256_digest(content)
            await registry.upload_blob('app', digest, _chunks(content))
            downloaded = b''.join([chunk async for chunk in registry.iter_blob('app', digest)])
            mounted = await registry.mount_blob('other', digest, 'app')
            with pytest.raises(RegistryError) as raised:
                await registry.upload_blob('app', 'sha256:' + 'f' * 64, _chunks(b'not that'))
            return downloaded, mounted, await registry.blob_exists('other', digest), raised.value
    downloaded, mounted, exists_in_other, error = run(scenario())
    assert downloaded == content and mounted and exists_in_other
    assert error.code == 'DIGEST_INVALID' and error.status == 400


def test_missing_manifest_is_a_not_found_registry_error(source_registry):
    async def scenario():
        async with await client_session() as session:
            return await RegistryClient(session, source_registry.url).resolve('nothing:here')
    with pytest.raises(RegistryError) as raised:
        run(scenario())
    assert raised.value.is_not_found and raised.value.code in ('NAME_UNKNOWN', 'MANIFEST_UNKNOWN')


def _both_containers(session, storage):
    return (BlobContainer.with_sas(session, storage.url, storage.sas()),
            BlobContainer.with_account_key(session, storage.url, storage.azurite.account_name,
                                           storage.azurite.account_key))


@pytest.mark.parametrize('authentication', ['sas', 'account key'])
def test_storage_round_trip(storage, authentication):
    content = b'0123456789abcdef' * 700_000   # ~11 MiB: several blocks

    async def scenario():
        async with await client_session() as session:
            container = _both_containers(session, storage)[authentication == 'account key']
            size, md5 = await container.upload('dir/blob.tar', _chunks(content), {'category': 'acr-transfer-blob'})
            properties = await container.get_properties('dir/blob.tar')
            downloaded = b''.join([chunk async for chunk in container.download('dir/blob.tar')])
            listed = await container.list_blobs()
            existed = await container.exists('dir/blob.tar')
            await container.delete('dir/blob.tar')
            return size, md5, properties, downloaded, listed, existed, await container.exists('dir/blob.tar')
    size, md5, properties, downloaded, listed, existed, exists_after = run(scenario())
    assert downloaded == content and size == len(content) == properties.size
    assert md5 == properties.content_md5 == base64.b64encode(hashlib.md5(content).digest()).decode()
    assert properties.metadata == {'category': 'acr-transfer-blob'} and properties.last_modified
    assert [(blob.name, blob.metadata, blob.content_md5) for blob in listed] == [
        ('dir/blob.tar', {'category': 'acr-transfer-blob'}, md5)]
    assert existed and not exists_after


def test_storage_errors_are_service_like_and_never_carry_secrets(storage, caplog):
    sas = storage.sas(permissions='r')
    signature = sas.split('sig=')[1].split('&')[0]

    async def scenario():
        async with await client_session() as session:
            container = BlobContainer.with_sas(session, storage.url, sas)
            wrong_key = BlobContainer.with_account_key(session, storage.url, storage.azurite.account_name,
                                                       base64.b64encode(b'k' * 64).decode())
            errors = []
            for attempt in (container.upload('x', _chunks(b'data'), {}), container.delete('x'),
                            wrong_key.get_properties('x'), container.get_properties('absent')):
                try:
                    await attempt
                except TransferError as error:
                    errors.append(error.message)
            return errors
    with caplog.at_level(logging.DEBUG, logger='acrtransfer_sandbox'):
        messages = run(scenario())
    assert messages[0].startswith('Storage request failed: 403 AuthorizationPermissionMismatch (')
    assert messages[1].startswith('Storage request failed: 403 ')
    assert messages[2].startswith('Storage request failed: 403 ')
    assert messages[3].startswith('Storage request failed: 404 ')
    assert all(signature not in message and storage.azurite.account_key not in message for message in messages)
    assert signature not in caplog.text and 'sig=REDACTED' in caplog.text


def test_unreachable_storage_is_reported_without_the_sas():
    async def scenario():
        async with await client_session() as session:
            container = BlobContainer.with_sas(session, 'http://127.0.0.1:9/account/container', 'sv=x&sig=SECRET')
            await container.exists('blob')
    with pytest.raises(TransferError, match='could not reach http://127.0.0.1:9/account/container/blob') as raised:
        run(scenario())
    assert 'SECRET' not in raised.value.message


def test_scrub_url_hides_only_the_signature():
    assert scrub_url('https://a.blob/c/b?sv=2023&sig=abc%2Fdef&se=x') == 'https://a.blob/c/b?sv=2023&sig=REDACTED&se=x'


def test_foreign_layers_are_not_blobs_to_transfer():
    import json
    from acrtransfer_sandbox.transfer.registry import DOCKER_MANIFEST, Manifest
    local = {'mediaType': 'application/vnd.docker.image.rootfs.diff.tar.gzip', 'digest': 'sha256:' + 'b' * 64,
             'size': 10}
    foreign = {'mediaType': 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
               'digest': 'sha256:' + 'c' * 64, 'size': 20, 'urls': ['https://example.invalid/layer']}
    config = {'mediaType': 'application/vnd.docker.container.image.v1+json', 'digest': 'sha256:' + 'a' * 64,
              'size': 5}
    content = json.dumps({'schemaVersion': 2, 'mediaType': DOCKER_MANIFEST, 'config': config,
                          'layers': [foreign, local]}).encode()
    manifest = Manifest(DOCKER_MANIFEST, sha256_digest(content), content)
    assert [blob.digest for blob in manifest.blobs()] == [config['digest'], local['digest']]
