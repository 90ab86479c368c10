"""The two operations the service performs for a pipeline-run: export artifacts from a registry into one storage
blob, and import such a blob into a registry. Both stream: no layer and no blob is ever held whole in memory.

Manifests travel byte for byte, so a referrer keeps its `subject` (see the GUESS in `_plan_export`).

An import pushes layers as they arrive but manifests and tags only after the whole blob has been read and verified
(Content-MD5 and every digest), so a failed import leaves at most untagged blobs behind, never a tag that looks
imported.
"""
import asyncio
import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Optional

import aiohttp

from .errors import TransferError
from .oci_layout import (REF_NAME_ANNOTATION, REPOSITORY_ANNOTATION, LayoutBlob, LayoutError, LayoutIndex, LayoutPlan,
                         read_oci_layout, write_oci_layout)
from .registry import (MAX_MANIFEST_BYTES, Descriptor, ImageReference, Manifest, RegistryClient, RegistryError,
                       media_type_of)
from .storage import BlobContainer

__all__ = ['TransferOutcome', 'TransferError', 'export_to_blob', 'import_from_blob']

MAX_ARTIFACTS = 50
BLOB_METADATA = {'category': 'acr-transfer-blob'}
OVERWRITE_BLOBS = 'OverwriteBlobs'
CONTINUE_ON_ERRORS = 'ContinueOnErrors'
OVERWRITE_TAGS = 'OverwriteTags'
DELETE_SOURCE_BLOB_ON_SUCCESS = 'DeleteSourceBlobOnSuccess'
SPOOL_CHUNK = 1024 * 1024

TOO_MANY_ARTIFACTS = 'The pipeline run has {} artifacts; at most {} artifacts can be exported in one run.'
NO_ARTIFACTS = 'The pipeline run has no artifacts to export.'
BLOB_EXISTS = ("The storage blob '{}' already exists in the target container. Set the pipeline option "
               "'OverwriteBlobs' to overwrite it.")
ARTIFACT_INVALID = "Artifact '{}' is not a valid reference: expected '<repository>:<tag>' or '<repository>@<digest>'."
ARTIFACT_NOT_FOUND = "Artifact '{}' was not found in the source registry."
ARTIFACT_EXPORT_FAILED = "Artifact '{}' could not be read from the source registry: {}"
NOTHING_EXPORTED = 'None of the artifacts could be exported: {}'
EXPORT_FAILED = 'Export failed while writing the transfer blob: {}'
BLOB_MISSING_MD5 = "The storage blob '{}' has no Content-MD5 property; it cannot be verified and was not imported."
BLOB_MD5_MISMATCH = ("The storage blob '{}' failed verification: its content has MD5 {} but its Content-MD5 "
                     "property is {}. Nothing was tagged.")
IMPORT_FAILED = "Import of the storage blob '{}' failed: {}"
TAG_CONFLICT = ("Tag '{}' already exists in the target registry with digest {}. Set the pipeline option "
                "'OverwriteTags' to overwrite it.")
INDEX_MISSING = 'the transfer blob has no index.json: it is not an OCI image layout archive'
ENTRY_INVALID = 'index.json entry {} has no usable reference annotation'
MANIFEST_MISSING = 'manifest {} is missing from the transfer blob'
BLOB_MISSING = 'blob {} is missing from the transfer blob'
NOTHING_IMPORTED = 'None of the artifacts could be imported: {}'
REGISTRY_UNREACHABLE = 'the registry request failed ({})'


@dataclass
class TransferOutcome:
    imported_artifacts: list[str]   # references exported / imported, as the service lists them in importedArtifacts
    skipped_artifacts: list[str]    # with ContinueOnErrors: artifacts that were missing or failed, with a reason
    catalog_digest: str             # sha256 digest of the index.json written / read
    blob_size: int


ProgressCallback = Callable[[int], None]


class _Progress:
    """Maps bytes done onto a percent range and calls back only when the whole percent changes."""

    def __init__(self, callback: ProgressCallback, total: int, start: int, end: int):
        self._callback, self._total, self._start, self._end = callback, max(total, 1), start, end
        self._done = 0
        self._last = -1
        self.report(start)

    def advance(self, count: int) -> None:
        self._done += count
        self.report(self._start + (self._end - self._start) * min(self._done, self._total) // self._total)

    def report(self, percent: int) -> None:
        if percent != self._last:
            self._last = percent
            self._callback(percent)


def _skip_note(artifact: str, reason: str) -> str:
    return '{} ({})'.format(artifact, reason)


# ---- export ---------------------------------------------------------------------------------------------------

async def export_to_blob(registry: RegistryClient, container: BlobContainer, blob_name: str,
                         artifacts: list[str], options: set[str], progress: ProgressCallback) -> TransferOutcome:
    if len(artifacts) > MAX_ARTIFACTS:
        raise TransferError(TOO_MANY_ARTIFACTS.format(len(artifacts), MAX_ARTIFACTS))
    if not artifacts:
        raise TransferError(NO_ARTIFACTS)
    progress(0)
    try:
        if OVERWRITE_BLOBS not in options and await container.exists(blob_name):
            raise TransferError(BLOB_EXISTS.format(blob_name))
        plan, exported, skipped = await _plan_export(registry, artifacts, CONTINUE_ON_ERRORS in options)
        if not exported:
            raise TransferError(NOTHING_EXPORTED.format('; '.join(skipped)))
        tracker = _Progress(progress, plan.content_size, start=5, end=99)
        size, _ = await container.upload(blob_name, _counted(write_oci_layout(plan, registry.iter_blob), tracker),
                                         metadata=BLOB_METADATA, content_type='application/x-tar')
    except (LayoutError, RegistryError) as error:
        raise TransferError(EXPORT_FAILED.format(error)) from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise TransferError(EXPORT_FAILED.format(REGISTRY_UNREACHABLE.format(_describe(error)))) from None
    progress(100)
    return TransferOutcome(exported, skipped, 'sha256:' + hashlib.sha256(plan.index_json()).hexdigest(), size)


async def _plan_export(registry: RegistryClient, artifacts: list[str],
                       continue_on_errors: bool) -> tuple[LayoutPlan, list[str], list[str]]:
    """Resolve every artifact and everything under it; a missing or unreadable artifact fails the run unless the
    run continues on errors, in which case it is reported as skipped."""
    plan = LayoutPlan()
    exported: list[str] = []
    skipped: list[str] = []
    for artifact in dict.fromkeys(artifacts):
        try:
            reference = ImageReference.parse(artifact)
        except ValueError:
            _fail_or_skip(continue_on_errors, ARTIFACT_INVALID.format(artifact), skipped, artifact, 'invalid reference')
            continue
        try:
            root = await registry.get_manifest(reference.repository, reference.reference)
            manifests, blobs = await registry.walk(reference.repository, root)
        except RegistryError as error:
            if error.is_not_found:
                _fail_or_skip(continue_on_errors, ARTIFACT_NOT_FOUND.format(artifact), skipped, artifact, 'not found')
            else:
                _fail_or_skip(continue_on_errors, ARTIFACT_EXPORT_FAILED.format(artifact, error.message), skipped,
                              artifact, error.message)
            continue
        # A referrer (a signature, an SBOM: a manifest whose `subject` names an image) is carried like any other
        # manifest, its bytes and so its `subject` unchanged, so the target's referrers API lists it under the same
        # image. GUESS about the service (issue 17; no Azure document says either way): that ACR Transfer does the
        # same with a referrer exported by digest. `az acr pipeline-run verify` checks it after a transfer.
        for manifest in manifests:
            plan.manifests.setdefault(manifest.digest, manifest.content)
        for blob in blobs:
            if blob.digest not in plan.manifests:
                plan.blobs.setdefault(blob.digest, (blob, reference.repository))
        plan.add_entry(root.descriptor, str(reference), reference.repository)
        exported.append(str(reference))
    # Roots before the manifests they list, so that an importer reading front to back meets an index before its
    # children (each walk added children first).
    plan.manifests = dict(reversed(list(plan.manifests.items())))
    return plan, exported, skipped


def _fail_or_skip(continue_on_errors: bool, message: str, skipped: list[str], artifact: str, reason: str) -> None:
    if not continue_on_errors:
        raise TransferError(message)
    skipped.append(_skip_note(artifact, reason))


async def _counted(chunks: AsyncIterator[bytes], tracker: _Progress) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        tracker.advance(len(chunk))
        yield chunk


# ---- import ---------------------------------------------------------------------------------------------------

async def import_from_blob(container: BlobContainer, blob_name: str, registry: RegistryClient,
                           options: set[str], progress: ProgressCallback) -> TransferOutcome:
    progress(0)
    properties = await container.get_properties(blob_name)
    if not properties.content_md5:
        raise TransferError(BLOB_MISSING_MD5.format(blob_name))
    tracker = _Progress(progress, properties.size, start=1, end=90)
    md5 = hashlib.md5()

    async def verified_download() -> AsyncIterator[bytes]:
        async for chunk in container.download(blob_name):
            md5.update(chunk)
            tracker.advance(len(chunk))
            yield chunk

    with tempfile.TemporaryDirectory(prefix='acrtransfer-import-') as spool_dir:
        importer = _Importer(registry, options, spool_dir)
        try:
            async for item in read_oci_layout(verified_download()):
                if isinstance(item, LayoutIndex):
                    await importer.accept_index(item)
                else:
                    await importer.accept_blob(item)
            if not importer.catalog_digest:
                raise LayoutError(INDEX_MISSING)
            actual_md5 = base64.b64encode(md5.digest()).decode()
            if actual_md5 != properties.content_md5:
                raise TransferError(BLOB_MD5_MISMATCH.format(blob_name, actual_md5, properties.content_md5))
            imported, skipped = await importer.finish()
        except (LayoutError, RegistryError) as error:
            raise TransferError(IMPORT_FAILED.format(blob_name, error)) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise TransferError(IMPORT_FAILED.format(blob_name, REGISTRY_UNREACHABLE.format(_describe(error)))) \
                from None
    if DELETE_SOURCE_BLOB_ON_SUCCESS in options:
        await container.delete(blob_name)
    progress(100)
    return TransferOutcome(imported, skipped, importer.catalog_digest, properties.size)


class _ArtifactFailure(Exception):
    """One artifact cannot be imported; the run fails unless it continues on errors."""


@dataclass
class _Artifact:
    ref_name: str
    repository: str
    tag: Optional[str]
    descriptor: Descriptor
    failure: Optional[str] = None


@dataclass
class _Importer:  # pylint: disable=too-many-instance-attributes  # one import run's state
    """Routes the blobs of a layout stream into the target registry as they arrive, then pushes manifests and tags
    once everything has been verified."""
    registry: RegistryClient
    options: set[str]
    spool_dir: str
    catalog_digest: str = ''
    artifacts: list[_Artifact] = field(default_factory=list)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    expected_manifests: dict[str, str] = field(default_factory=dict)        # digest -> media type
    destinations: dict[str, set[str]] = field(default_factory=dict)        # blob digest -> repositories
    present: dict[str, set[str]] = field(default_factory=dict)             # blob digest -> repositories having it
    spooled: dict[str, str] = field(default_factory=dict)                  # blob digest -> spool file
    bad_blobs: dict[str, str] = field(default_factory=dict)                # blob digest -> reason

    @property
    def continue_on_errors(self) -> bool:
        return CONTINUE_ON_ERRORS in self.options

    async def accept_index(self, index: LayoutIndex) -> None:
        self.catalog_digest = index.digest
        for entry in index.entries():
            artifact = _artifact_from_entry(entry)
            self.artifacts.append(artifact)
            self.expected_manifests[artifact.descriptor.digest] = artifact.descriptor.media_type
            await self._check_tag(artifact)

    async def _check_tag(self, artifact: _Artifact) -> None:
        """Refuse to move an existing tag before any byte is pushed, unless tags may be overwritten."""
        if not artifact.tag or OVERWRITE_TAGS in self.options:
            return
        existing = await self.registry.tag_digest(artifact.repository, artifact.tag)
        if existing and existing != artifact.descriptor.digest:
            message = TAG_CONFLICT.format(artifact.ref_name, existing)
            if not self.continue_on_errors:
                raise TransferError(message)
            artifact.failure = message

    async def accept_blob(self, blob: LayoutBlob) -> None:
        if blob.digest in self.manifests or blob.digest in self.spooled or blob.digest in self.present:
            return   # a duplicate entry; the reader still verifies it
        if blob.digest in self.expected_manifests and blob.size <= MAX_MANIFEST_BYTES:
            content = await blob.read_all_checked()
            if content is not None:
                self._register_manifest(blob.digest, self.expected_manifests[blob.digest], content)
            else:
                self.bad_blobs[blob.digest] = blob.error
        elif self.destinations.get(blob.digest):
            await self._push_streamed(blob, sorted(self.destinations[blob.digest])[0])
        else:
            await self._spool(blob)   # its role is not known yet: keep it on disk, not in memory

    def _register_manifest(self, digest: str, media_type: str, content: bytes) -> None:
        manifest = Manifest(media_type or media_type_of(content), digest, content)
        self.manifests[digest] = manifest
        repositories = {artifact.repository for artifact in self.artifacts if artifact.descriptor.digest == digest}
        repositories |= self.destinations.get(digest, set())
        for child in manifest.children():
            self.expected_manifests.setdefault(child.digest, child.media_type)
            self.destinations.setdefault(child.digest, set()).update(repositories)
        for blob in manifest.blobs():
            self.destinations.setdefault(blob.digest, set()).update(repositories)

    async def _push_streamed(self, blob: LayoutBlob, repository: str) -> None:
        if await self.registry.blob_exists(repository, blob.digest):
            self.present.setdefault(blob.digest, set()).add(repository)
            return
        try:
            await self.registry.upload_blob(repository, blob.digest, blob.chunks())
        except (RegistryError, LayoutError, aiohttp.ClientError) as error:
            self.bad_blobs[blob.digest] = blob.error or str(error)
            return
        self.present.setdefault(blob.digest, set()).add(repository)

    async def _spool(self, blob: LayoutBlob) -> None:
        path = os.path.join(self.spool_dir, blob.digest.split(':', 1)[1])
        try:
            with open(path, 'wb') as spool:
                async for chunk in blob.chunks():
                    spool.write(chunk)
        except LayoutError:
            self.bad_blobs[blob.digest] = blob.error
            return
        self.spooled[blob.digest] = path

    async def finish(self) -> tuple[list[str], list[str]]:
        """With the whole stream verified: resolve spooled blobs, check every artifact is complete in its
        repository, then push manifests (children before indexes) and tags."""
        self._register_spooled_manifests()
        ready: list[tuple[_Artifact, list[Manifest]]] = []
        skipped: list[str] = []
        for artifact in self.artifacts:
            try:
                if artifact.failure:
                    raise _ArtifactFailure(artifact.failure)
                manifests = self._closure(artifact.descriptor.digest)
                for manifest in manifests:
                    for blob in manifest.blobs():
                        await self._ensure_blob(artifact.repository, blob.digest)
                ready.append((artifact, manifests))
            except _ArtifactFailure as failure:
                if not self.continue_on_errors:
                    raise TransferError(
                        "Artifact '{}' cannot be imported: {}".format(artifact.ref_name, failure)) from failure
                skipped.append(_skip_note(artifact.ref_name, str(failure)))
        if not ready:
            raise TransferError(NOTHING_IMPORTED.format('; '.join(skipped) or 'the transfer blob lists none'))
        for artifact, manifests in ready:
            await self._push_manifests(artifact, manifests)
        return [artifact.ref_name for artifact, _ in ready], skipped

    def _register_spooled_manifests(self) -> None:
        """Manifests that arrived before anything referenced them were spooled; parse them now (repeatedly, as each
        index can reveal more)."""
        progressed = True
        while progressed:
            progressed = False
            for digest in [d for d in self.spooled if d in self.expected_manifests and d not in self.manifests]:
                with open(self.spooled[digest], 'rb') as spool:
                    content = spool.read(MAX_MANIFEST_BYTES + 1)
                if len(content) <= MAX_MANIFEST_BYTES:
                    self._register_manifest(digest, self.expected_manifests[digest], content)
                    progressed = True

    def _closure(self, digest: str) -> list[Manifest]:
        """The manifests under ``digest``, children before the index that lists them, root last."""
        if digest in self.bad_blobs:
            raise _ArtifactFailure(self.bad_blobs[digest])
        manifest = self.manifests.get(digest)
        if manifest is None:
            raise _ArtifactFailure(MANIFEST_MISSING.format(digest))
        ordered: list[Manifest] = []
        for child in manifest.children():
            ordered.extend(m for m in self._closure(child.digest) if m not in ordered)
        ordered.append(manifest)
        return ordered

    async def _ensure_blob(self, repository: str, digest: str) -> None:
        """Make sure ``repository`` has the blob: already pushed there, already in the registry, mounted from the
        repository it was streamed into, or uploaded from the spool."""
        if digest in self.bad_blobs:
            raise _ArtifactFailure(self.bad_blobs[digest])
        if repository in self.present.get(digest, ()):
            return
        sources = sorted(self.present.get(digest, ()))
        if await self.registry.blob_exists(repository, digest):
            pass
        elif sources and await self.registry.mount_blob(repository, digest, sources[0]):
            pass
        elif digest in self.spooled:
            await self.registry.upload_blob(repository, digest, _read_file(self.spooled[digest]))
        else:
            raise _ArtifactFailure(BLOB_MISSING.format(digest))
        self.present.setdefault(digest, set()).add(repository)

    async def _push_manifests(self, artifact: _Artifact, manifests: list[Manifest]) -> None:
        for manifest in manifests[:-1]:
            await self.registry.put_manifest(artifact.repository, manifest.digest, manifest)
        root = manifests[-1]
        await self.registry.put_manifest(artifact.repository, artifact.tag or root.digest, root)


def _describe(error: BaseException) -> str:
    return '{}: {}'.format(type(error).__name__, error) if str(error) else type(error).__name__


def _artifact_from_entry(entry: dict) -> _Artifact:
    try:
        descriptor = Descriptor.from_json(entry)
    except ValueError as error:
        raise LayoutError(str(error)) from None
    annotations = entry.get('annotations') or {}
    ref_name = annotations.get(REF_NAME_ANNOTATION, '')
    try:
        reference = ImageReference.parse(ref_name)
    except ValueError:
        raise LayoutError(ENTRY_INVALID.format(descriptor.digest)) from None
    repository = annotations.get(REPOSITORY_ANNOTATION) or reference.repository
    if reference.digest and reference.digest != descriptor.digest:
        raise LayoutError(ENTRY_INVALID.format(descriptor.digest))
    return _Artifact(ref_name, repository, reference.tag, descriptor)


async def _read_file(path: str) -> AsyncIterator[bytes]:
    with open(path, 'rb') as spool:
        while chunk := spool.read(SPOOL_CHUNK):
            yield chunk
