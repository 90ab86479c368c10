"""The transfer blob's format: an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``) as a tar
stream, written and read without ever holding a layer in memory.

The writer puts ``oci-layout``, ``index.json`` and every manifest before the config and layer blobs, so that an
importer reading the stream front to back knows where each layer goes when it arrives. Any tar reader (skopeo's
``oci-archive:`` transport included) is indifferent to the order.
"""
import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Optional, Union

from .registry import Descriptor

REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'
# Our own annotation: the repository an entry came from and goes to (a digest reference has no tag to carry it
# in ref.name's short form, and import must know where to push).
REPOSITORY_ANNOTATION = 'io.acrtransfer.repository'
OCI_LAYOUT_CONTENT = b'{"imageLayoutVersion":"1.0.0"}'
OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json'
TAR_BLOCK = 512
MAX_METADATA_BYTES = 4 * 1024 * 1024   # index.json and oci-layout are read whole: bound them
_BLOB_PREFIX = 'blobs/sha256/'

MALFORMED_ARCHIVE = 'The transfer blob is not a valid OCI image layout archive: {}'
BLOB_ABANDONED = 'Blob {} was not completely read from the transfer blob'
DIGEST_MISMATCH = 'Blob {} failed verification: its content has digest {} and size {} (expected size {})'


class LayoutError(Exception):
    pass


@dataclass
class LayoutPlan:
    """What one export writes: the index entries, the manifests (small, held) and the blobs to stream."""
    entries: list[dict] = field(default_factory=list)
    manifests: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, tuple[Descriptor, str]] = field(default_factory=dict)   # digest -> (descriptor, repository)

    def add_entry(self, descriptor: Descriptor, ref_name: str, repository: str) -> None:
        entry = descriptor.to_json()
        entry['annotations'] = {REF_NAME_ANNOTATION: ref_name, REPOSITORY_ANNOTATION: repository}
        self.entries.append(entry)

    def index_json(self) -> bytes:
        return json.dumps({'schemaVersion': 2, 'mediaType': OCI_INDEX_MEDIA_TYPE, 'manifests': self.entries},
                          separators=(',', ':'), sort_keys=True).encode()

    @property
    def content_size(self) -> int:
        return sum(len(content) for content in self.manifests.values()) + sum(
            descriptor.size for descriptor, _ in self.blobs.values())


OpenBlob = Callable[[str, str], AsyncIterator[bytes]]   # (repository, digest) -> chunks


async def write_oci_layout(plan: LayoutPlan, open_blob: OpenBlob) -> AsyncIterator[bytes]:
    """Yield the tar stream of the layout; each streamed blob is checked against its descriptor on the way."""
    for directory in ('blobs/', _BLOB_PREFIX):
        yield _tar_header(directory, 0, tarfile.DIRTYPE)
    yield _tar_file('oci-layout', OCI_LAYOUT_CONTENT)
    yield _tar_file('index.json', plan.index_json())
    for digest, content in plan.manifests.items():
        yield _tar_file(_blob_path(digest), content)
    for descriptor, repository in plan.blobs.values():
        yield _tar_header(_blob_path(descriptor.digest), descriptor.size, tarfile.REGTYPE)
        hasher, written = hashlib.sha256(), 0
        async for chunk in open_blob(repository, descriptor.digest):
            written += len(chunk)
            if written > descriptor.size:
                break
            hasher.update(chunk)
            yield chunk
        if written != descriptor.size or 'sha256:' + hasher.hexdigest() != descriptor.digest:
            raise LayoutError(DIGEST_MISMATCH.format(descriptor.digest, 'sha256:' + hasher.hexdigest(), written,
                                                     descriptor.size))
        yield _padding(descriptor.size)
    yield b'\0' * (2 * TAR_BLOCK)


def _blob_path(digest: str) -> str:
    return _BLOB_PREFIX + digest.split(':', 1)[1]


def _tar_header(name: str, size: int, kind: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 0   # deterministic archives: the same artifacts give the same bytes
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _tar_file(name: str, content: bytes) -> bytes:
    return _tar_header(name, len(content), tarfile.REGTYPE) + content + _padding(len(content))


def _padding(size: int) -> bytes:
    return b'\0' * (-size % TAR_BLOCK)


# ---- reading --------------------------------------------------------------------------------------------------

@dataclass
class LayoutIndex:
    content: bytes

    @property
    def digest(self) -> str:
        return 'sha256:' + hashlib.sha256(self.content).hexdigest()

    def entries(self) -> list[dict]:
        try:
            data = json.loads(self.content)
        except ValueError:
            raise LayoutError(MALFORMED_ARCHIVE.format('index.json is not JSON')) from None
        manifests = data.get('manifests') if isinstance(data, dict) else None
        if not isinstance(manifests, list):
            raise LayoutError(MALFORMED_ARCHIVE.format('index.json has no manifests list'))
        return manifests


class LayoutBlob:  # pylint: disable=too-many-instance-attributes  # a stream position and its digest state
    """One ``blobs/sha256/<hex>`` entry. Its chunks are hashed as they pass; ``error`` says whether the content
    matched the digest once they have all passed (the reader drains whatever the consumer did not read)."""

    def __init__(self, digest: str, size: int, stream: '_TarStream'):
        self.digest = digest
        self.size = size
        self._stream = stream
        self._hasher = hashlib.sha256()
        self._read = 0
        self._started = False
        self._finished = False
        self.error: Optional[str] = None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._started:
            raise LayoutError('Blob {} was already read'.format(self.digest))
        self._started = True
        async for chunk in self._stream.iter_exactly(self.size):
            self._hasher.update(chunk)
            self._read += len(chunk)
            yield chunk
        self._finished = True
        actual = 'sha256:' + self._hasher.hexdigest()
        if actual != self.digest:
            self.error = DIGEST_MISMATCH.format(self.digest, actual, self._read, self.size)
            raise LayoutError(self.error)

    async def read_all(self) -> bytes:
        return b''.join([chunk async for chunk in self.chunks()])

    async def read_all_checked(self) -> Optional[bytes]:
        """The whole (small) content, or None if it does not match its digest (see ``error``)."""
        try:
            return await self.read_all()
        except LayoutError:
            return None

    async def drain(self) -> None:
        """Move the stream past this entry: verify it if nobody read it, skip the rest if a consumer gave up."""
        if not self._started:
            try:
                async for _ in self.chunks():
                    pass
            except LayoutError:
                pass   # recorded in self.error; the consumer decides what a bad blob means
        elif not self._finished:
            await self._stream.skip(self.size - self._read)
            self.error = self.error or BLOB_ABANDONED.format(self.digest)


LayoutItem = Union[LayoutIndex, LayoutBlob]


async def read_oci_layout(chunks: AsyncIterator[bytes]) -> AsyncIterator[LayoutItem]:
    """Yield the index and each blob of a layout tar, in archive order. A yielded LayoutBlob must be consumed (or
    left alone: it is then read and verified anyway) before the next item arrives."""
    stream = _TarStream(chunks)
    saw_layout = False
    async for name, size in stream.entries():
        name = name[2:] if name.startswith('./') else name
        if name in ('oci-layout', 'index.json') and size > MAX_METADATA_BYTES:
            raise LayoutError(MALFORMED_ARCHIVE.format('{} is {} bytes, over the {} bytes allowed'.format(
                name, size, MAX_METADATA_BYTES)))
        if name == 'oci-layout':
            _check_layout_version(await stream.read_exactly(size))
            saw_layout = True
        elif name == 'index.json':
            yield LayoutIndex(await stream.read_exactly(size))
        elif name.startswith(_BLOB_PREFIX) and len(name) == len(_BLOB_PREFIX) + 64:
            blob = LayoutBlob('sha256:' + name[len(_BLOB_PREFIX):], size, stream)
            yield blob
            await blob.drain()
        else:
            await stream.skip(size)
    await stream.drain()   # trailing zero blocks: the caller may be hashing the whole stream
    if not saw_layout:
        raise LayoutError(MALFORMED_ARCHIVE.format('the oci-layout file is missing'))


def _check_layout_version(content: bytes) -> None:
    try:
        version = json.loads(content).get('imageLayoutVersion')
    except (ValueError, AttributeError):
        version = None
    if version != '1.0.0':
        raise LayoutError(MALFORMED_ARCHIVE.format('unsupported oci-layout version {!r}'.format(version)))


class _TarStream:
    """A forward-only tar parser over an async byte iterator: headers are parsed with tarfile's own TarInfo,
    member contents are handed out as chunks without copying them into one buffer."""

    def __init__(self, chunks: AsyncIterator[bytes]):
        self._chunks = chunks.__aiter__()
        self._head = b''
        self._offset = 0

    async def entries(self) -> AsyncIterator[tuple[str, int]]:
        """Yield (name, size) of each regular file; the caller reads or skips exactly ``size`` bytes."""
        long_name: Optional[str] = None
        pax: dict[str, str] = {}
        while True:
            block = await self.read_exactly(TAR_BLOCK, allow_eof=True)
            if not block or block == b'\0' * TAR_BLOCK:
                return
            try:
                info = tarfile.TarInfo.frombuf(block, 'utf-8', 'surrogateescape')
            except tarfile.HeaderError as error:
                raise LayoutError(MALFORMED_ARCHIVE.format('bad tar header ({})'.format(error))) from None
            if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE):
                records = _parse_pax(await self._read_member(info.size))
                if info.type == tarfile.XHDTYPE:
                    pax = records
                continue
            if info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = (await self._read_member(info.size)).rstrip(b'\0').decode('utf-8', 'surrogateescape')
                continue
            name = pax.get('path') or long_name or info.name
            size = int(pax['size']) if 'size' in pax else info.size
            long_name, pax = None, {}
            if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                yield name, size
                await self.skip(-size % TAR_BLOCK)
            elif info.type != tarfile.DIRTYPE:
                await self.skip(size + (-size % TAR_BLOCK))

    async def _read_member(self, size: int) -> bytes:
        content = await self.read_exactly(size)
        await self.skip(-size % TAR_BLOCK)
        return content

    async def read_exactly(self, size: int, allow_eof: bool = False) -> bytes:
        parts = [chunk async for chunk in self.iter_exactly(size, allow_eof)]
        return b''.join(parts)

    async def skip(self, size: int) -> None:
        async for _ in self.iter_exactly(size):
            pass

    async def drain(self) -> None:
        async for _ in self._chunks:
            pass

    async def iter_exactly(self, size: int, allow_eof: bool = False) -> AsyncIterator[bytes]:
        remaining = size
        while remaining:
            if self._offset >= len(self._head):
                try:
                    self._head, self._offset = await anext(self._chunks), 0
                except StopAsyncIteration:
                    if allow_eof and remaining == size:
                        return
                    raise LayoutError(MALFORMED_ARCHIVE.format('the archive ends in the middle of a file')) from None
                continue
            take = min(remaining, len(self._head) - self._offset)
            if self._offset == 0 and take == len(self._head):
                piece = self._head
            else:
                piece = self._head[self._offset:self._offset + take]
            self._offset += take
            remaining -= take
            yield piece


def _parse_pax(content: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    while position < len(content):
        length_text, _, _ = content[position:position + 20].partition(b' ')
        if not length_text.isdigit():
            break
        length = int(length_text)
        record = content[position:position + length].decode('utf-8', 'surrogateescape')
        key, _, value = record.split(' ', 1)[1].rstrip('\n').partition('=')
        records[key] = value
        position += length
    return records
