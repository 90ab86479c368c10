"""Async client of the OCI distribution API, as the transfer engine needs it against the sandbox's registries.

The sandbox's registries are CNCF distribution instances on plain http, 127.0.0.1, without authentication; the
ACR-compatible front (``fronts/registry.py``) sits in front of them for clients that expect ACR.
"""
import hashlib
import json
import re
from dataclasses import dataclass
from typing import AsyncIterator, Optional
from urllib.parse import urljoin

import aiohttp

OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
MANIFEST_ACCEPT = ', '.join(MANIFEST_MEDIA_TYPES)

# Distribution refuses manifests above 4 MiB; the same bound keeps a hostile manifest from filling memory.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
BLOB_READ_CHUNK = 1024 * 1024

_REPOSITORY_RE = re.compile(r'^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$')
_TAG_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')
_DIGEST_RE = re.compile(r'^sha256:[a-f0-9]{64}$')

INVALID_REFERENCE = "Invalid artifact reference '{}': expected '<repository>:<tag>' or '<repository>@sha256:<digest>'."


class RegistryError(Exception):
    """A registry call failed; ``code`` is the distribution error code (e.g. MANIFEST_UNKNOWN) when there is one."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def is_not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class ImageReference:
    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    @classmethod
    def parse(cls, text: str) -> 'ImageReference':
        """Parse ``repo:tag`` or ``repo@sha256:...``; a bare repository means ``:latest``, as docker reads it."""
        repository, digest, tag = text, None, None
        if '@' in text:
            repository, digest = text.split('@', 1)
            if not _DIGEST_RE.match(digest):
                raise ValueError(INVALID_REFERENCE.format(text))
        else:
            name, _, maybe_tag = text.rpartition(':')
            if name and '/' not in maybe_tag:
                repository, tag = name, maybe_tag
            else:
                tag = 'latest'
            if not _TAG_RE.match(tag):
                raise ValueError(INVALID_REFERENCE.format(text))
        if not _REPOSITORY_RE.match(repository):
            raise ValueError(INVALID_REFERENCE.format(text))
        return cls(repository, tag, digest)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/`` in a distribution URL."""
        return self.digest or self.tag

    def __str__(self) -> str:
        if self.digest:
            return '{}@{}'.format(self.repository, self.digest)
        return '{}:{}'.format(self.repository, self.tag)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def from_json(cls, data: dict) -> 'Descriptor':
        digest, size = data.get('digest'), data.get('size')
        if not isinstance(digest, str) or not _DIGEST_RE.match(digest) or not isinstance(size, int) or size < 0:
            raise ValueError('Invalid descriptor: {}'.format(json.dumps(data)[:200]))
        return cls(data.get('mediaType', ''), digest, size)

    def to_json(self) -> dict:
        return {'mediaType': self.media_type, 'digest': self.digest, 'size': self.size}


@dataclass(frozen=True)
class Manifest:
    """A manifest or index with its exact bytes, since its digest is the digest of those bytes."""
    media_type: str
    digest: str
    content: bytes

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.content))

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    def children(self) -> list[Descriptor]:
        """The manifests an index lists."""
        return [Descriptor.from_json(item) for item in self._json().get('manifests', [])] if self.is_index else []

    def blobs(self) -> list[Descriptor]:
        """The config and layers a single-platform manifest references, less foreign (non-distributable) layers:
        registries do not hold those, clients fetch them from their URLs."""
        if self.is_index:
            return []
        data = self._json()
        layers = [Descriptor.from_json(item) for item in data.get('layers', [])
                  if not _is_foreign(item.get('mediaType', ''))]
        return ([Descriptor.from_json(data['config'])] if 'config' in data else []) + layers

    def _json(self) -> dict:
        return json.loads(self.content)


def _is_foreign(media_type: str) -> bool:
    return 'foreign' in media_type or 'nondistributable' in media_type


def sha256_digest(content: bytes) -> str:
    return 'sha256:' + hashlib.sha256(content).hexdigest()


def media_type_of(content: bytes) -> str:
    """The media type a manifest declares; docker schema2 and OCI manifests both carry it (OCI optionally)."""
    data = json.loads(content)
    declared = data.get('mediaType')
    if declared:
        return declared
    return OCI_INDEX if 'manifests' in data else OCI_MANIFEST


class RegistryClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str):
        self._session = session
        self.base_url = base_url.rstrip('/')

    def _url(self, path: str) -> str:
        return self.base_url + path

    async def resolve(self, reference: str) -> Manifest:
        """Resolve ``repo:tag`` or ``repo@sha256:...`` to its manifest (media type, digest and bytes)."""
        ref = ImageReference.parse(reference)
        return await self.get_manifest(ref.repository, ref.reference)

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        url = self._url('/v2/{}/manifests/{}'.format(repository, reference))
        async with self._session.get(url, headers={'Accept': MANIFEST_ACCEPT}) as response:
            await _raise_for_status(response, 'manifest {}:{}'.format(repository, reference))
            content = await _read_bounded(response, MAX_MANIFEST_BYTES)
            digest = sha256_digest(content)
            if reference.startswith('sha256:') and digest != reference:
                raise RegistryError(400, 'DIGEST_INVALID', 'Manifest {}@{} has digest {}'.format(
                    repository, reference, digest))
            media_type = response.headers.get('Content-Type', '').split(';')[0].strip()
            if media_type not in MANIFEST_MEDIA_TYPES:
                media_type = media_type_of(content)
            return Manifest(media_type, digest, content)

    async def walk(self, repository: str, root: Manifest) -> tuple[list[Manifest], list[Descriptor]]:
        """All manifests under ``root`` (children before the index that lists them, root last) and the
        config and layer blobs they reference, each once."""
        manifests: list[Manifest] = []
        blobs: dict[str, Descriptor] = {}
        for child in root.children():
            child_manifest = await self.get_manifest(repository, child.digest)
            child_manifests, child_blobs = await self.walk(repository, child_manifest)
            manifests.extend(child_manifests)
            blobs.update((blob.digest, blob) for blob in child_blobs)
        blobs.update((blob.digest, blob) for blob in root.blobs())
        manifests.append(root)
        return manifests, list(blobs.values())

    async def iter_blob(self, repository: str, digest: str, chunk_size: int = BLOB_READ_CHUNK) -> AsyncIterator[bytes]:
        """Stream a blob's content in chunks; the caller verifies the digest if it needs to."""
        url = self._url('/v2/{}/blobs/{}'.format(repository, digest))
        async with self._session.get(url) as response:
            await _raise_for_status(response, 'blob {}@{}'.format(repository, digest))
            async for chunk in response.content.iter_chunked(chunk_size):
                yield chunk

    async def blob_exists(self, repository: str, digest: str) -> bool:
        url = self._url('/v2/{}/blobs/{}'.format(repository, digest))
        async with self._session.head(url) as response:
            if response.status == 404:
                return False
            await _raise_for_status(response, 'blob {}@{}'.format(repository, digest))
            return True

    async def upload_blob(self, repository: str, digest: str, chunks: AsyncIterator[bytes]) -> None:
        """Upload a blob from an async byte iterator in one streamed PATCH, then commit it with its digest; the
        registry refuses the commit if the bytes do not hash to ``digest``."""
        location = await self._start_upload(repository)
        async with self._session.patch(location, data=chunks,
                                       headers={'Content-Type': 'application/octet-stream'}) as response:
            await _raise_for_status(response, 'blob upload {}@{}'.format(repository, digest))
            location = self._absolute(response.headers['Location'])
        await self._commit_upload(repository, digest, location)

    async def upload_small_blob(self, repository: str, content: bytes) -> str:
        digest = sha256_digest(content)
        location = await self._start_upload(repository)
        async with self._session.put(_with_query(location, digest=digest), data=content,
                                     headers={'Content-Type': 'application/octet-stream'}) as response:
            await _raise_for_status(response, 'blob upload {}@{}'.format(repository, digest))
        return digest

    async def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Link a blob that ``from_repository`` has into ``repository`` without copying bytes; False if the
        registry declined (it then opened an upload session, which is left to expire)."""
        url = self._url('/v2/{}/blobs/uploads/?mount={}&from={}'.format(repository, digest, from_repository))
        async with self._session.post(url) as response:
            await _raise_for_status(response, 'blob mount {}@{}'.format(repository, digest))
            return response.status == 201

    async def _start_upload(self, repository: str) -> str:
        async with self._session.post(self._url('/v2/{}/blobs/uploads/'.format(repository))) as response:
            await _raise_for_status(response, 'blob upload in {}'.format(repository))
            return self._absolute(response.headers['Location'])

    async def _commit_upload(self, repository: str, digest: str, location: str) -> None:
        async with self._session.put(_with_query(location, digest=digest)) as response:
            await _raise_for_status(response, 'blob upload {}@{}'.format(repository, digest))

    def _absolute(self, location: str) -> str:
        return urljoin(self.base_url + '/', location)

    async def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Put a manifest by tag or by digest; returns the digest the registry computed."""
        url = self._url('/v2/{}/manifests/{}'.format(repository, reference))
        async with self._session.put(url, data=manifest.content,
                                     headers={'Content-Type': manifest.media_type}) as response:
            await _raise_for_status(response, 'manifest {}:{}'.format(repository, reference))
            return response.headers.get('Docker-Content-Digest', manifest.digest)

    async def tag_digest(self, repository: str, tag: str) -> Optional[str]:
        """The digest a tag points at, or None if the tag (or repository) does not exist."""
        url = self._url('/v2/{}/manifests/{}'.format(repository, tag))
        async with self._session.head(url, headers={'Accept': MANIFEST_ACCEPT}) as response:
            if response.status == 404:
                return None
            await _raise_for_status(response, 'manifest {}:{}'.format(repository, tag))
            return response.headers.get('Docker-Content-Digest')

    async def list_tags(self, repository: str) -> list[str]:
        return await self._paginated('/v2/{}/tags/list'.format(repository), 'tags', 'repository ' + repository)

    async def list_repositories(self) -> list[str]:
        return await self._paginated('/v2/_catalog', 'repositories', 'catalog')

    async def _paginated(self, path: str, key: str, what: str) -> list[str]:
        items: list[str] = []
        url: Optional[str] = self._url(path + '?n=1000')
        while url:
            async with self._session.get(url) as response:
                await _raise_for_status(response, what)
                items.extend((await response.json()).get(key) or [])
                url = _next_link(response.headers.get('Link'), self.base_url)
        return items


def _next_link(header: Optional[str], base_url: str) -> Optional[str]:
    if not header or 'rel="next"' not in header:
        return None
    target = header[header.index('<') + 1:header.index('>')]
    return urljoin(base_url + '/', target)


def _with_query(url: str, **params: str) -> str:
    separator = '&' if '?' in url else '?'
    return url + separator + '&'.join('{}={}'.format(key, value) for key, value in params.items())


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    content = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        content += chunk
        if len(content) > limit:
            raise RegistryError(413, 'SIZE_INVALID', 'Manifest larger than {} bytes'.format(limit))
    return bytes(content)


async def _raise_for_status(response: aiohttp.ClientResponse, what: str) -> None:
    """Turn a distribution error response into RegistryError with its first error code and message."""
    if response.status < 400:
        return
    code, detail = 'UNKNOWN', response.reason or ''
    if response.method != 'HEAD':
        try:
            errors = json.loads(await response.read()).get('errors') or []
            if errors:
                code, detail = errors[0].get('code', code), errors[0].get('message', detail)
        except (ValueError, AttributeError):
            pass
    elif response.status == 404:
        code, detail = 'NOT_FOUND', 'not found'
    raise RegistryError(response.status, code, '{}: {} {} ({})'.format(what, response.status, code, detail))
