"""The OCI layout tar writer and reader, on in-memory content (no servers)."""
import hashlib
import io
import json
import tarfile

import pytest

from acrtransfer_sandbox.transfer.oci_layout import (REF_NAME_ANNOTATION, REPOSITORY_ANNOTATION, LayoutBlob,
                                                     LayoutError, LayoutIndex, LayoutPlan, read_oci_layout,
                                                     write_oci_layout)
from acrtransfer_sandbox.transfer.registry import OCI_MANIFEST, Descriptor
from conftest import run


def _digest(content: bytes) -> str:
    return 'sha256:' + hashlib.sha256(content).hexdigest()


LAYER = bytes(range(256)) * 4000 + b'tail'          # not a multiple of 512: exercises padding
CONFIG = b'{"architecture":"amd64","os":"linux"}'
MANIFEST = json.dumps({'schemaVersion': 2, 'mediaType': OCI_MANIFEST,
                       'config': {'mediaType': 'application/vnd.oci.image.config.v1+json',
                                  'digest': _digest(CONFIG), 'size': len(CONFIG)},
                       'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar',
                                   'digest': _digest(LAYER), 'size': len(LAYER)}]}).encode()
CONTENT = {_digest(LAYER): LAYER, _digest(CONFIG): CONFIG}


def _plan() -> LayoutPlan:
    plan = LayoutPlan()
    plan.manifests[_digest(MANIFEST)] = MANIFEST
    for content in (CONFIG, LAYER):
        plan.blobs[_digest(content)] = (Descriptor('application/octet-stream', _digest(content), len(content)), 'app')
    descriptor = Descriptor(OCI_MANIFEST, _digest(MANIFEST), len(MANIFEST))
    plan.add_entry(descriptor, 'app:v1', 'app')
    plan.add_entry(descriptor, 'app@' + descriptor.digest, 'app')
    return plan


async def _open_blob(repository: str, digest: str):
    assert repository == 'app'
    content = CONTENT[digest]
    for start in range(0, len(content), 70000):   # chunks that do not line up with tar blocks
        yield content[start:start + 70000]


async def _write(plan: LayoutPlan, open_blob=_open_blob) -> bytes:
    return b''.join([chunk async for chunk in write_oci_layout(plan, open_blob)])


async def _chunked(data: bytes, size: int = 4096):
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def _read(data: bytes) -> tuple[list[dict], dict[str, bytes]]:
    entries, blobs = [], {}
    async for item in read_oci_layout(_chunked(data, 3000)):
        if isinstance(item, LayoutIndex):
            entries = item.entries()
        else:
            blobs[item.digest] = await item.read_all()
    return entries, blobs


def test_written_layout_is_a_plain_tar_with_the_oci_layout_files():
    archive = run(_write(_plan()))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
        index = json.loads(tar.extractfile('index.json').read())
        layer = tar.extractfile('blobs/sha256/' + _digest(LAYER)[7:]).read()
        layout = json.loads(tar.extractfile('oci-layout').read())
    assert layout == {'imageLayoutVersion': '1.0.0'}
    assert layer == LAYER
    # manifests precede the blobs they reference, so a streaming importer knows where each blob goes
    assert names.index('blobs/sha256/' + _digest(MANIFEST)[7:]) < names.index('blobs/sha256/' + _digest(LAYER)[7:])
    assert [entry['annotations'][REF_NAME_ANNOTATION] for entry in index['manifests']] == [
        'app:v1', 'app@' + _digest(MANIFEST)]
    assert {entry['annotations'][REPOSITORY_ANNOTATION] for entry in index['manifests']} == {'app'}
    assert len(archive) % 512 == 0


def test_layout_round_trips_through_the_streaming_reader():
    entries, blobs = run(_read(run(_write(_plan()))))
    assert [entry['digest'] for entry in entries] == [_digest(MANIFEST)] * 2
    assert blobs == {_digest(MANIFEST): MANIFEST, _digest(CONFIG): CONFIG, _digest(LAYER): LAYER}


def test_writer_refuses_a_source_blob_that_does_not_match_its_descriptor():
    async def corrupt(repository, digest):
        yield CONTENT[digest][:-1] + b'X'
    with pytest.raises(LayoutError, match='failed verification'):
        run(_write(_plan(), corrupt))


def test_reader_reports_a_tampered_blob_and_still_reads_the_rest():
    archive = bytearray(run(_write(_plan())))
    position = archive.index(LAYER[:1024])
    archive[position + 10] ^= 0xFF

    async def read_tampered():
        errors, seen = {}, []
        async for item in read_oci_layout(_chunked(bytes(archive))):
            if isinstance(item, LayoutBlob):
                seen.append(item.digest)
                if item.digest == _digest(LAYER):
                    with pytest.raises(LayoutError):
                        await item.read_all()
                    errors[item.digest] = item.error
        return errors, seen
    errors, seen = run(read_tampered())
    assert 'failed verification' in errors[_digest(LAYER)]
    assert len(seen) == 3


def test_reader_verifies_blobs_the_consumer_skips():
    archive = bytearray(run(_write(_plan())))
    archive[archive.index(LAYER[:1024]) + 5] ^= 0xFF

    async def skip_all():
        items = []
        async for item in read_oci_layout(_chunked(bytes(archive))):
            items.append(item)
        return [item for item in items if isinstance(item, LayoutBlob) and item.error]
    bad = run(skip_all())
    assert [blob.digest for blob in bad] == [_digest(LAYER)]


def test_reader_rejects_a_truncated_archive():
    archive = run(_write(_plan()))
    with pytest.raises(LayoutError, match='ends in the middle'):
        run(_read(archive[:len(archive) // 2]))


def test_reader_rejects_an_archive_without_oci_layout_file():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        info = tarfile.TarInfo('index.json')
        content = b'{"schemaVersion":2,"manifests":[]}'
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    with pytest.raises(LayoutError, match='oci-layout file is missing'):
        run(_read(buffer.getvalue()))


def test_reader_understands_pax_headers_written_by_other_tools():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name, content in (('./oci-layout', b'{"imageLayoutVersion":"1.0.0"}'),
                              ('./blobs/sha256/' + _digest(CONFIG)[7:], CONFIG)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.pax_headers = {'comment': 'x' * 300}   # forces a PAX extended header before the entry
            tar.addfile(info, io.BytesIO(content))
    _, blobs = run(_read(buffer.getvalue()))
    assert blobs == {_digest(CONFIG): CONFIG}


def test_reader_skips_the_rest_of_a_blob_whose_consumer_gave_up():
    async def give_up_early():
        seen = {}
        async for item in read_oci_layout(_chunked(run_archive, 1000)):
            if isinstance(item, LayoutBlob):
                if item.digest == _digest(LAYER):
                    async for _ in item.chunks():
                        break   # e.g. the registry upload failed after the first chunk
                    seen[item.digest] = None
                else:
                    seen[item.digest] = await item.read_all()
        return seen
    run_archive = run(_write(_plan()))
    seen = run(give_up_early())
    assert seen == {_digest(MANIFEST): MANIFEST, _digest(CONFIG): CONFIG, _digest(LAYER): None}


def test_reader_refuses_an_oversized_index():
    async def oversized():
        info = tarfile.TarInfo('index.json')
        info.size = 5 * 1024 * 1024
        yield info.tobuf(format=tarfile.USTAR_FORMAT)
        yield b' ' * info.size
    with pytest.raises(LayoutError, match='index.json is 5242880 bytes, over'):
        run(_consume(oversized()))


async def _consume(chunks):
    async for item in read_oci_layout(chunks):
        if isinstance(item, LayoutBlob):
            await item.read_all()
