"""Export and import through the engine against real servers: docker-registry (source and target) and Azurite."""
import base64
import hashlib
import subprocess
import tracemalloc

import pytest

from acrtransfer_sandbox.transfer import (BlobContainer, RegistryClient, TransferError, export_to_blob,
                                          import_from_blob, push_large_image, push_sample_images)
from conftest import client_session, run
from servers import SKOPEO_INSTALL, MissingBinary, find_binary

BLOB = 'export-1.tar'
SAMPLE_TAGS = ('hello-world:latest', 'hello-world:v2', 'hello-world:multiarch')


class Recorder:
    """The progress callback: every percent reported, to check it only goes up and ends at 100."""

    def __init__(self):
        self.reports: list[int] = []

    def __call__(self, percent: int) -> None:
        self.reports.append(percent)

    def assert_complete(self):
        assert self.reports == sorted(self.reports) and self.reports[-1] == 100


async def _export(source_url, storage, artifacts, options=(), blob=BLOB, sas=None):
    async with await client_session() as session:
        registry = RegistryClient(session, source_url)
        digests = await push_sample_images(registry)
        container = BlobContainer.with_sas(session, storage.url, sas or storage.sas())
        progress = Recorder()
        artifacts = [artifact.format(**{key.replace('hello-world:', ''): value for key, value in digests.items()})
                     for artifact in artifacts]
        outcome = await export_to_blob(registry, container, blob, artifacts, set(options), progress)
        progress.assert_complete()
        return outcome, digests


async def _import(target_url, storage, options=(), blob=BLOB):
    async with await client_session() as session:
        container = BlobContainer.with_account_key(session, storage.url, storage.azurite.account_name,
                                                   storage.azurite.account_key)
        progress = Recorder()
        outcome = await import_from_blob(container, blob, RegistryClient(session, target_url), set(options), progress)
        progress.assert_complete()
        return outcome


async def _tag_digests(registry_url, references=SAMPLE_TAGS):
    async with await client_session() as session:
        registry = RegistryClient(session, registry_url)
        return {reference: await registry.tag_digest(*reference.split(':')) for reference in references}


async def _has_manifest(registry_url, repository, digest):
    async with await client_session() as session:
        registry = RegistryClient(session, registry_url)
        try:
            await registry.get_manifest(repository, digest)
            return True
        except Exception:
            return False


def test_export_then_import_moves_tags_digests_and_every_platform(source_registry, target_registry, storage):
    artifacts = ['hello-world:latest', 'hello-world@{v2}', 'hello-world:multiarch']
    exported, digests = run(_export(source_registry.url, storage, artifacts))
    assert exported.imported_artifacts == ['hello-world:latest', 'hello-world@' + digests['hello-world:v2'],
                                           'hello-world:multiarch']
    assert exported.skipped_artifacts == []
    assert exported.catalog_digest.startswith('sha256:')

    properties = storage.blob_client(BLOB).get_blob_properties()
    content = storage.blob_client(BLOB).download_blob().readall()
    assert properties.metadata == {'category': 'acr-transfer-blob'}
    assert bytes(properties.content_settings.content_md5) == hashlib.md5(content).digest()
    assert properties.size == exported.blob_size == len(content)

    imported = run(_import(target_registry.url, storage))
    assert imported.imported_artifacts == exported.imported_artifacts
    assert imported.catalog_digest == exported.catalog_digest
    target = run(_tag_digests(target_registry.url))
    assert target['hello-world:latest'] == digests['hello-world:latest']
    assert target['hello-world:multiarch'] == digests['hello-world:multiarch']
    assert target['hello-world:v2'] is None   # exported by digest: imported by digest, no tag
    assert run(_has_manifest(target_registry.url, 'hello-world', digests['hello-world:v2']))
    assert storage.blob_client(BLOB).exists()   # not deleted without DeleteSourceBlobOnSuccess


def test_import_pushes_every_child_manifest_of_a_multi_arch_index(source_registry, target_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:multiarch']))
    run(_import(target_registry.url, storage))

    async def children():
        async with await client_session() as session:
            index = await RegistryClient(session, target_registry.url).get_manifest('hello-world', 'multiarch')
            return index.children()
    platforms = run(children())
    assert len(platforms) == 2
    assert all(run(_has_manifest(target_registry.url, 'hello-world', child.digest)) for child in platforms)


def test_exported_blob_is_readable_by_skopeo(source_registry, storage, tmp_path):
    try:
        skopeo = find_binary('skopeo', SKOPEO_INSTALL)
    except MissingBinary as error:
        pytest.fail(str(error), pytrace=False)
    _, digests = run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:multiarch']))
    archive = tmp_path / 'transfer.tar'
    archive.write_bytes(storage.blob_client(BLOB).download_blob().readall())
    for reference, extra in (('hello-world:latest', []), ('hello-world:multiarch', ['--all'])):
        destination = tmp_path / reference.replace(':', '-')
        subprocess.run([skopeo, 'copy', '--quiet', *extra, 'oci-archive:{}:{}'.format(archive, reference),
                        'dir:{}'.format(destination)], check=True, capture_output=True)
        manifest = (destination / 'manifest.json').read_bytes()
        assert 'sha256:' + hashlib.sha256(manifest).hexdigest() == digests[reference]


def test_export_refuses_to_overwrite_a_blob_unless_asked(source_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:latest']))
    with pytest.raises(TransferError, match="'export-1.tar' already exists.*OverwriteBlobs"):
        run(_export(source_registry.url, storage, ['hello-world:v2']))
    outcome, _ = run(_export(source_registry.url, storage, ['hello-world:v2'], options={'OverwriteBlobs'}))
    assert outcome.imported_artifacts == ['hello-world:v2']


def test_export_fails_on_a_missing_artifact_unless_continuing_on_errors(source_registry, storage):
    with pytest.raises(TransferError, match="Artifact 'hello-world:nope' was not found in the source registry"):
        run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:nope']))
    assert not storage.blob_client(BLOB).exists()
    outcome, _ = run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:nope', 'absent:1'],
                             options={'ContinueOnErrors'}))
    assert outcome.imported_artifacts == ['hello-world:latest']
    assert outcome.skipped_artifacts == ['hello-world:nope (not found)', 'absent:1 (not found)']


def test_export_accepts_at_most_fifty_artifacts(source_registry, storage):
    with pytest.raises(TransferError, match='51 artifacts; at most 50'):
        run(_export(source_registry.url, storage, ['hello-world:t{}'.format(n) for n in range(51)]))


def test_export_with_a_read_only_sas_fails_as_a_storage_403_without_leaking_the_token(source_registry, storage):
    sas = storage.sas(permissions='rl')
    with pytest.raises(TransferError) as raised:
        run(_export(source_registry.url, storage, ['hello-world:latest'], sas=sas))
    assert raised.value.message.startswith('Storage request failed: 403 AuthorizationPermissionMismatch')
    assert sas.split('sig=')[1][:20] not in raised.value.message


def test_export_with_an_expired_sas_fails_as_a_storage_403(source_registry, storage):
    from datetime import timedelta
    sas = storage.sas(expiry=timedelta(hours=-1))
    with pytest.raises(TransferError, match=r'^Storage request failed: 403 Authori[sz]ation\w+ \(.+\)$') as raised:
        run(_export(source_registry.url, storage, ['hello-world:latest'], sas=sas))
    assert sas.split('sig=')[1][:20] not in raised.value.message


def test_import_refuses_to_move_an_existing_tag_unless_asked(source_registry, target_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:multiarch']))

    async def tag_v2_as_latest_in_target():
        async with await client_session() as session:
            target = RegistryClient(session, target_registry.url)
            digests = await push_sample_images(target)
            v2 = await target.get_manifest('hello-world', 'v2')
            await target.put_manifest('hello-world', 'latest', v2)
            await target.put_manifest('hello-world', 'multiarch', v2)
            return digests
    target_digests = run(tag_v2_as_latest_in_target())
    with pytest.raises(TransferError, match="Tag 'hello-world:latest' already exists in the target registry with "
                                            "digest sha256:.*OverwriteTags"):
        run(_import(target_registry.url, storage))
    assert run(_tag_digests(target_registry.url))['hello-world:latest'] == target_digests['hello-world:v2']

    outcome = run(_import(target_registry.url, storage, options={'OverwriteTags'}))
    assert outcome.imported_artifacts == ['hello-world:latest', 'hello-world:multiarch']
    source = run(_tag_digests(source_registry.url))
    assert run(_tag_digests(target_registry.url))['hello-world:latest'] == source['hello-world:latest']


def test_import_continuing_on_errors_skips_the_conflicting_tag_only(source_registry, target_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:multiarch']))

    async def occupy_latest():
        async with await client_session() as session:
            target = RegistryClient(session, target_registry.url)
            await push_sample_images(target)
            await target.put_manifest('hello-world', 'latest', await target.get_manifest('hello-world', 'v2'))
    run(occupy_latest())
    outcome = run(_import(target_registry.url, storage, options={'ContinueOnErrors'}))
    assert outcome.imported_artifacts == ['hello-world:multiarch']
    assert len(outcome.skipped_artifacts) == 1 and outcome.skipped_artifacts[0].startswith('hello-world:latest (Tag')


def test_import_deletes_the_source_blob_on_success_when_asked(source_registry, target_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:latest']))
    run(_import(target_registry.url, storage, options={'DeleteSourceBlobOnSuccess'}))
    assert not storage.blob_client(BLOB).exists()


def test_import_of_a_tampered_blob_fails_and_tags_nothing(source_registry, target_registry, storage):
    from azure.storage.blob import ContentSettings
    run(_export(source_registry.url, storage, ['hello-world:latest']))
    client = storage.blob_client(BLOB)
    content = bytearray(client.download_blob().readall())
    original_md5 = client.get_blob_properties().content_settings.content_md5
    content[-2048] ^= 0x01   # inside the last layer's data, before the tar trailer
    client.upload_blob(bytes(content), overwrite=True, metadata={'category': 'acr-transfer-blob'})
    client.set_http_headers(ContentSettings(content_md5=original_md5))
    with pytest.raises(TransferError, match="Import of the storage blob 'export-1.tar' failed|failed verification"):
        run(_import(target_registry.url, storage))
    assert run(_tag_digests(target_registry.url))['hello-world:latest'] is None


def test_import_with_a_wrong_content_md5_fails_and_tags_nothing(source_registry, target_registry, storage):
    from azure.storage.blob import ContentSettings
    run(_export(source_registry.url, storage, ['hello-world:latest']))
    storage.blob_client(BLOB).set_http_headers(ContentSettings(content_md5=hashlib.md5(b'other').digest()))
    with pytest.raises(TransferError, match="'export-1.tar' failed verification: its content has MD5 .* Nothing "
                                            "was tagged"):
        run(_import(target_registry.url, storage))
    assert run(_tag_digests(target_registry.url))['hello-world:latest'] is None


def test_import_requires_a_content_md5(source_registry, target_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:latest']))
    client = storage.blob_client(BLOB)
    from azure.storage.blob import BlobBlock
    content = client.download_blob().readall()
    client.stage_block('block-1', content)   # re-committed from blocks: storage computes no Content-MD5 then
    client.commit_block_list([BlobBlock('block-1')], metadata={'category': 'acr-transfer-blob'})
    assert client.get_blob_properties().content_settings.content_md5 is None
    with pytest.raises(TransferError, match='has no Content-MD5 property'):
        run(_import(target_registry.url, storage))


def test_import_of_a_missing_blob_fails_as_a_storage_404(target_registry, storage):
    with pytest.raises(TransferError, match='Storage request failed: 404 BlobNotFound'):
        run(_import(target_registry.url, storage, blob='absent.tar'))


def test_export_and_import_stream_instead_of_buffering(source_registry, target_registry, storage):
    """A 96 MiB image goes through with Python allocations bounded by a few storage blocks, not by its size."""
    image_size = 96 * 1024 * 1024

    async def round_trip():
        async with await client_session() as session:
            source, target = RegistryClient(session, source_registry.url), RegistryClient(session,
                                                                                          target_registry.url)
            digest = await push_large_image(source, 'big', 'v1', image_size, layer_count=3)
            container = BlobContainer.with_account_key(session, storage.url, storage.azurite.account_name,
                                                       storage.azurite.account_key)
            tracemalloc.start()
            try:
                await export_to_blob(source, container, 'big.tar', ['big:v1'], set(), lambda percent: None)
                await import_from_blob(container, 'big.tar', target, set(), lambda percent: None)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            return digest, await target.tag_digest('big', 'v1'), peak
    source_digest, target_digest, peak = run(round_trip())
    assert target_digest == source_digest
    assert peak < 32 * 1024 * 1024, 'peak Python allocations {} MiB'.format(peak >> 20)


def test_export_sets_the_content_md5_that_storage_returns(source_registry, storage):
    run(_export(source_registry.url, storage, ['hello-world:latest']))

    async def properties():
        async with await client_session() as session:
            container = BlobContainer.with_sas(session, storage.url, storage.sas())
            return await container.get_properties(BLOB)
    props = run(properties())
    content = storage.blob_client(BLOB).download_blob().readall()
    assert props.content_md5 == base64.b64encode(hashlib.md5(content).digest()).decode()
    assert props.metadata == {'category': 'acr-transfer-blob'}


def test_import_does_not_depend_on_the_order_of_the_archive(source_registry, target_registry, storage, tmp_path):
    """Layers before the manifests that reference them (as another tool may write): they are spooled to disk and
    pushed once their destination is known."""
    import io
    import tarfile
    from azure.storage.blob import ContentSettings
    _, digests = run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:multiarch']))
    original = tarfile.open(fileobj=io.BytesIO(storage.blob_client(BLOB).download_blob().readall()))
    members = [member for member in original.getmembers() if member.isfile()]
    reordered = io.BytesIO()
    with tarfile.open(fileobj=reordered, mode='w', format=tarfile.PAX_FORMAT) as archive:
        for member in reversed(members):   # blobs first (layers before manifests), index.json and oci-layout last
            archive.addfile(member, original.extractfile(member))
    content = reordered.getvalue()
    storage.blob_client('reordered.tar').upload_blob(content, metadata={'category': 'acr-transfer-blob'},
                                                     content_settings=ContentSettings(
                                                         content_md5=hashlib.md5(content).digest()))
    outcome = run(_import(target_registry.url, storage, blob='reordered.tar'))
    assert outcome.imported_artifacts == ['hello-world:latest', 'hello-world:multiarch']
    target = run(_tag_digests(target_registry.url, ('hello-world:latest', 'hello-world:multiarch')))
    assert target == {reference: digests[reference] for reference in target}


def test_export_from_an_unreachable_registry_fails_the_run(storage):
    async def scenario():
        async with await client_session() as session:
            registry = RegistryClient(session, 'http://127.0.0.1:9')
            container = BlobContainer.with_sas(session, storage.url, storage.sas())
            await export_to_blob(registry, container, BLOB, ['hello-world:latest'], set(), lambda percent: None)
    with pytest.raises(TransferError, match=r'^Export failed while writing the transfer blob: the registry request '
                                            r'failed \(ClientConnectorError'):
        run(scenario())
    assert not storage.blob_client(BLOB).exists()


def _upload_with_md5(storage, blob_name, content):
    from azure.storage.blob import ContentSettings
    storage.blob_client(blob_name).upload_blob(content, overwrite=True, metadata={'category': 'acr-transfer-blob'},
                                               content_settings=ContentSettings(
                                                   content_md5=hashlib.md5(content).digest()))


def _tamper_layer_of(storage, reference_digest):
    """Flip a byte in the first layer of the manifest ``reference_digest`` and re-upload the blob with a Content-MD5
    that matches the tampered bytes, so that only the per-blob digest check can notice."""
    import io
    import json
    import tarfile
    content = bytearray(storage.blob_client(BLOB).download_blob().readall())
    archive = tarfile.open(fileobj=io.BytesIO(bytes(content)))
    manifest = json.loads(archive.extractfile('blobs/sha256/' + reference_digest[7:]).read())
    layer = archive.getmember('blobs/sha256/' + manifest['layers'][0]['digest'][7:])
    content[layer.offset_data + 3] ^= 0xFF
    _upload_with_md5(storage, BLOB, bytes(content))


def test_a_corrupt_layer_fails_the_import_even_with_a_matching_content_md5(source_registry, target_registry, storage):
    _, digests = run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:v2']))
    _tamper_layer_of(storage, digests['hello-world:latest'])
    with pytest.raises(TransferError, match="Artifact 'hello-world:latest' cannot be imported: Blob sha256:.* failed "
                                            "verification"):
        run(_import(target_registry.url, storage))
    assert run(_tag_digests(target_registry.url)) == {reference: None for reference in SAMPLE_TAGS}


def test_a_corrupt_layer_skips_only_its_artifact_when_continuing_on_errors(source_registry, target_registry, storage):
    _, digests = run(_export(source_registry.url, storage, ['hello-world:latest', 'hello-world:v2']))
    _tamper_layer_of(storage, digests['hello-world:latest'])
    outcome = run(_import(target_registry.url, storage, options={'ContinueOnErrors'}))
    assert outcome.imported_artifacts == ['hello-world:v2']
    assert outcome.skipped_artifacts[0].startswith('hello-world:latest (Blob sha256:')
    target = run(_tag_digests(target_registry.url))
    assert target['hello-world:v2'] == digests['hello-world:v2'] and target['hello-world:latest'] is None


def test_import_into_several_repositories_sharing_layers(source_registry, target_registry, storage):
    """The same image under two repositories: its layers travel once and are mounted into the second one."""
    async def push_copy():
        async with await client_session() as session:
            registry = RegistryClient(session, source_registry.url)
            await push_sample_images(registry)
            latest = await registry.get_manifest('hello-world', 'latest')
            for blob in latest.blobs():
                await registry.mount_blob('team/hello', blob.digest, 'hello-world')
            await registry.put_manifest('team/hello', 'copy', latest)
            return latest.digest
    digest = run(push_copy())
    outcome, _ = run(_export(source_registry.url, storage, ['hello-world:latest', 'team/hello:copy']))
    content = storage.blob_client(BLOB).download_blob().readall()
    run(_import(target_registry.url, storage))
    target = run(_tag_digests(target_registry.url, ('hello-world:latest', 'team/hello:copy')))
    assert target == {'hello-world:latest': digest, 'team/hello:copy': digest}
    import io
    import tarfile
    names = [member.name for member in tarfile.open(fileobj=io.BytesIO(content)).getmembers() if member.isfile()]
    assert len(names) == len(set(names)) == 2 + 1 + 1 + 3   # oci-layout, index.json, manifest, config, 3 layers
    assert outcome.blob_size == len(content)


def test_import_of_a_blob_that_is_not_an_oci_layout_fails(target_registry, storage):
    import io
    import tarfile
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        info = tarfile.TarInfo('oci-layout')
        info.size = len(b'{"imageLayoutVersion":"1.0.0"}')
        archive.addfile(info, io.BytesIO(b'{"imageLayoutVersion":"1.0.0"}'))
    _upload_with_md5(storage, BLOB, buffer.getvalue())
    with pytest.raises(TransferError, match="Import of the storage blob 'export-1.tar' failed: the transfer blob has "
                                            "no index.json"):
        run(_import(target_registry.url, storage))
    _upload_with_md5(storage, BLOB, b'not a tar at all' * 64)
    with pytest.raises(TransferError, match='not a valid OCI image layout archive'):
        run(_import(target_registry.url, storage))


def test_importing_the_same_blob_twice_succeeds_without_overwrite_tags(source_registry, target_registry, storage):
    """A re-run (e.g. a force-redeployed import) finds its tags already at the same digests: nothing to refuse."""
    exported, digests = run(_export(source_registry.url, storage, list(SAMPLE_TAGS)))
    first = run(_import(target_registry.url, storage))
    second = run(_import(target_registry.url, storage))
    assert first.imported_artifacts == second.imported_artifacts == exported.imported_artifacts
    assert run(_tag_digests(target_registry.url)) == digests
