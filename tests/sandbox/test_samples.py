"""The generated sample images the batch tests and benchmark push: many small images, each of its own digest."""
import json

from acrtransfer_sandbox.transfer import RegistryClient, push_small_images, push_special_image
from acrtransfer_sandbox.transfer.samples import DOCKER_FOREIGN_LAYER
from conftest import client_session, run


async def _push_and_read_back(registry_url):
    async with await client_session() as session:
        registry = RegistryClient(session, registry_url)
        pushed = await push_small_images(registry, 'team/app', 12, tag_prefix='r')
        more = await push_small_images(registry, 'team/app', 2, tag_prefix='r', start=13)
        tags = await registry.list_tags('team/app')
        digests = {f'team/app:{tag}': await registry.tag_digest('team/app', tag) for tag in tags}
        return pushed, more, digests


def test_small_images_have_distinct_digests_and_are_tagged_from_start(source_registry):
    pushed, more, digests = run(_push_and_read_back(source_registry.url))
    assert list(pushed) == [f'team/app:r{number}' for number in range(1, 13)]
    assert list(more) == ['team/app:r13', 'team/app:r14']
    assert digests == {**pushed, **more}
    assert len(set(digests.values())) == 14


async def _push_special(registry_url, **kind):
    async with await client_session() as session:
        registry = RegistryClient(session, registry_url)
        digest = await push_special_image(registry, 'special/app', 'v1', **kind)
        manifest = await registry.get_manifest('special/app', 'v1')
        return digest, manifest, json.loads(manifest.content)['layers']


def test_an_image_with_a_foreign_layer_is_accepted_without_its_bytes(source_registry):
    digest, manifest, layers = run(_push_special(source_registry.url, foreign_layer=True))
    assert manifest.digest == digest
    foreign = [layer for layer in layers if layer['mediaType'] == DOCKER_FOREIGN_LAYER]
    assert len(foreign) == 1 and foreign[0]['urls'][0].startswith('https://')
    # The registry holds every blob the manifest lists but the foreign one.
    assert [blob.digest for blob in manifest.blobs()] == [json.loads(manifest.content)['config']['digest'],
                                                          layers[1]['digest']]


def test_an_image_can_declare_a_layer_of_many_gib_that_is_not_stored(source_registry):
    _, manifest, layers = run(_push_special(source_registry.url, declared_layer_gib=9))
    assert [layer['size'] for layer in layers] == [9 * 1024 ** 3]
    assert manifest.media_type == 'application/vnd.docker.distribution.manifest.v2+json'
