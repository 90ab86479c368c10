"""The generated sample images the batch tests and benchmark push: many small images, each of its own digest."""
from acrtransfer_sandbox.transfer import RegistryClient, push_small_images
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
