"""Sample images generated in code (no downloads), deterministic so that every sandbox gets the same digests.

``hello-world:latest`` is an OCI image of three small gzip layers, ``hello-world:v2`` a docker schema2 image with
other content (skopeo's oci-archive transport resolves only OCI-typed index entries by name, so the image users look
at first is OCI), ``hello-world:multiarch`` an OCI index of a linux/amd64 and a linux/arm64 image. The large image for
the benchmark is made of incompressible pseudo-random layers that are generated twice (once to learn the digest,
once to upload) instead of being held in memory. ``push_referrer`` adds a signature, an SBOM or an attestation to an
image, by the referrers API's ``subject`` or by cosign's tag (see ``referrers.py``).
"""
import gzip
import hashlib
import io
import json
import random
import tarfile
from typing import AsyncIterator

from . import referrers
from .registry import (DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, ImageReference, Manifest, RegistryClient,
                       RegistryError, sha256_digest)

SAMPLE_REPOSITORY = 'hello-world'
DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'
DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip'
OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip'
OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar'
CREATED = '2025-01-01T00:00:00Z'
GENERATE_CHUNK = 1024 * 1024
REFERRERS_API_SCHEME = 'api'
COSIGN_SCHEME = 'cosign'
REFERRER_SCHEMES = (REFERRERS_API_SCHEME, COSIGN_SCHEME)
UNKNOWN_SCHEME = "unknown referrer scheme '{}': expected one of {}"


async def push_sample_images(registry: RegistryClient) -> dict[str, str]:
    """Push the sample images into ``hello-world``; returns reference -> manifest digest."""
    latest = await _push_image(registry, SAMPLE_REPOSITORY, 'latest', 'amd64', 'hello from the source cloud',
                               layer_count=3, manifest_type=OCI_MANIFEST)
    v2 = await _push_image(registry, SAMPLE_REPOSITORY, 'v2', 'amd64', 'hello again, version 2',
                           layer_count=3, manifest_type=DOCKER_MANIFEST)
    platforms = []
    for architecture in ('amd64', 'arm64'):
        manifest = await _push_image(registry, SAMPLE_REPOSITORY, None, architecture,
                                     'hello from linux/' + architecture, layer_count=2, manifest_type=OCI_MANIFEST)
        platforms.append((manifest, architecture))
    index = _json_bytes({'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': [
        dict(manifest.descriptor.to_json(), platform={'architecture': architecture, 'os': 'linux'})
        for manifest, architecture in platforms]})
    multiarch = Manifest(OCI_INDEX, sha256_digest(index), index)
    await registry.put_manifest(SAMPLE_REPOSITORY, 'multiarch', multiarch)
    return {'{}:latest'.format(SAMPLE_REPOSITORY): latest.digest, '{}:v2'.format(SAMPLE_REPOSITORY): v2.digest,
            '{}:multiarch'.format(SAMPLE_REPOSITORY): multiarch.digest}


async def _push_image(registry: RegistryClient, repository: str, tag, architecture: str, greeting: str,
                      layer_count: int, manifest_type: str) -> Manifest:
    """Push a small image whose layers each add one file; pushed by tag if given, else by digest only."""
    layers, diff_ids = [], []
    for number in range(layer_count):
        tar_bytes = _tar_of({'hello/{}.txt'.format(number): '{} (layer {} of {})\n'.format(
            greeting, number + 1, layer_count).encode()})
        diff_ids.append(sha256_digest(tar_bytes))
        layers.append(gzip.compress(tar_bytes, mtime=0))
    config = _json_bytes({'architecture': architecture, 'os': 'linux', 'created': CREATED,
                          'config': {'Cmd': ['/hello'], 'Env': ['GREETING=' + greeting]},
                          'rootfs': {'type': 'layers', 'diff_ids': diff_ids}})
    docker = manifest_type == DOCKER_MANIFEST
    config_descriptor = {'mediaType': DOCKER_CONFIG if docker else OCI_CONFIG,
                         'digest': await registry.upload_small_blob(repository, config), 'size': len(config)}
    layer_descriptors = [{'mediaType': DOCKER_LAYER if docker else OCI_LAYER_GZIP,
                          'digest': await registry.upload_small_blob(repository, layer), 'size': len(layer)}
                         for layer in layers]
    content = _json_bytes({'schemaVersion': 2, 'mediaType': manifest_type, 'config': config_descriptor,
                           'layers': layer_descriptors})
    manifest = Manifest(manifest_type, sha256_digest(content), content)
    await registry.put_manifest(repository, tag or manifest.digest, manifest)
    return manifest


def _tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w', format=tarfile.USTAR_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _json_bytes(data: dict) -> bytes:
    return json.dumps(data, separators=(',', ':')).encode()


# ---- many small images, for batches of runs ------------------------------------------------------------------------

async def push_small_images(registry: RegistryClient, repository: str, count: int, tag_prefix: str = 'v',
                            start: int = 1) -> dict[str, str]:
    """Push ``count`` one-layer images tagged ``<tag_prefix><n>`` (n from ``start``), each with a config of its own
    so every tag has a digest of its own; the layer is shared. Returns reference -> manifest digest."""
    layer = gzip.compress(_tar_of({'hello/small.txt': b'one small layer, shared by every small image\n'}), mtime=0)
    diff_id = sha256_digest(gzip.decompress(layer))
    layer_descriptor = {'mediaType': OCI_LAYER_GZIP, 'size': len(layer),
                        'digest': await registry.upload_small_blob(repository, layer)}
    pushed = {}
    for number in range(start, start + count):
        tag = '{}{}'.format(tag_prefix, number)
        config = _json_bytes({'architecture': 'amd64', 'os': 'linux', 'created': CREATED,
                              'config': {'Labels': {'image': '{}:{}'.format(repository, tag)}},
                              'rootfs': {'type': 'layers', 'diff_ids': [diff_id]}})
        config_descriptor = {'mediaType': OCI_CONFIG, 'size': len(config),
                             'digest': await registry.upload_small_blob(repository, config)}
        content = _json_bytes({'schemaVersion': 2, 'mediaType': OCI_MANIFEST, 'config': config_descriptor,
                               'layers': [layer_descriptor]})
        manifest = Manifest(OCI_MANIFEST, sha256_digest(content), content)
        await registry.put_manifest(repository, tag, manifest)
        pushed['{}:{}'.format(repository, tag)] = manifest.digest
    return pushed


# ---- a large image for the benchmark ------------------------------------------------------------------------------

async def push_large_image(registry: RegistryClient, repository: str, tag: str, total_bytes: int,
                           layer_count: int = 8, seed: int = 1) -> str:
    """Push an image of ``layer_count`` uncompressed tar layers of incompressible data adding up to about
    ``total_bytes``; returns its manifest digest. Memory stays at one chunk whatever the size."""
    layer_descriptors, diff_ids = [], []
    for number in range(layer_count):
        payload_size = total_bytes // layer_count
        layer_seed = seed * 1000 + number
        digest, size = await _digest_of(_random_layer(layer_seed, payload_size))
        if not await registry.blob_exists(repository, digest):
            await registry.upload_blob(repository, digest, _random_layer(layer_seed, payload_size))
        layer_descriptors.append({'mediaType': OCI_LAYER_TAR, 'digest': digest, 'size': size})
        diff_ids.append(digest)   # uncompressed layers: the diff id is the digest
    config = _json_bytes({'architecture': 'amd64', 'os': 'linux', 'created': CREATED,
                          'rootfs': {'type': 'layers', 'diff_ids': diff_ids}})
    config_descriptor = {'mediaType': OCI_CONFIG, 'digest': await registry.upload_small_blob(repository, config),
                         'size': len(config)}
    content = _json_bytes({'schemaVersion': 2, 'mediaType': OCI_MANIFEST, 'config': config_descriptor,
                           'layers': layer_descriptors})
    manifest = Manifest(OCI_MANIFEST, sha256_digest(content), content)
    await registry.put_manifest(repository, tag, manifest)
    return manifest.digest


async def _random_layer(seed: int, payload_size: int) -> AsyncIterator[bytes]:
    """A tar holding one file of ``payload_size`` pseudo-random bytes, generated chunk by chunk."""
    info = tarfile.TarInfo('data/blob-{}.bin'.format(seed))
    info.size, info.mode, info.mtime = payload_size, 0o644, 0
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    generator = random.Random(seed)
    remaining = payload_size
    while remaining:
        count = min(remaining, GENERATE_CHUNK)
        remaining -= count
        yield generator.randbytes(count)
    yield b'\0' * (-payload_size % 512 + 1024)


async def _digest_of(chunks: AsyncIterator[bytes]) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    async for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return 'sha256:' + hasher.hexdigest(), size


# ---- a signature, an SBOM or an attestation for an image -------------------------------------------------------------

async def push_referrer(registry: RegistryClient, subject_reference: str, artifact_type: str,
                        scheme: str = REFERRERS_API_SCHEME, tag_schema: bool = False) -> str:
    """Push a referrer of ``subject_reference`` (``repo:tag`` or ``repo@digest``) into the subject's repository;
    returns it as ``repo@sha256:...``. ``api``: an OCI 1.1 manifest whose ``subject`` is the image, pushed by digest
    (the registry's referrers API lists it; with ``tag_schema``, for a registry without that API, it is also added
    to the referrers tag schema's index, tag ``sha256-<hex>``); ``cosign``: a manifest without subject under
    cosign's tag ``sha256-<hex>.sig`` (``.sbom``, ``.att`` by the artifact type)."""
    referrers.check_artifact_type(artifact_type)
    if scheme not in REFERRER_SCHEMES:
        raise ValueError(UNKNOWN_SCHEME.format(scheme, ', '.join(REFERRER_SCHEMES)))
    reference = ImageReference.parse(subject_reference)
    subject = await registry.get_manifest(reference.repository, reference.reference)
    content = referrers.payload(artifact_type, subject.digest)
    if scheme == REFERRERS_API_SCHEME:
        layer = {'mediaType': artifact_type, 'size': len(content),
                 'digest': await registry.upload_small_blob(reference.repository, content)}
        await registry.upload_small_blob(reference.repository, referrers.EMPTY_CONFIG)
        manifest = referrers.referrer_manifest(subject, artifact_type, layer)
        tag = manifest.digest
    else:
        tag = referrers.cosign_tag(subject.digest, artifact_type)   # raises before anything is pushed
        config = referrers.cosign_config()
        config_descriptor = {'mediaType': referrers.OCI_CONFIG, 'size': len(config),
                             'digest': await registry.upload_small_blob(reference.repository, config)}
        layer = {'mediaType': referrers.COSIGN_LAYERS[referrers.cosign_kind(artifact_type)], 'size': len(content),
                 'digest': await registry.upload_small_blob(reference.repository, content)}
        manifest = referrers.cosign_manifest(config_descriptor, layer, artifact_type)
    await registry.put_manifest(reference.repository, tag, manifest)
    if tag_schema and scheme == REFERRERS_API_SCHEME:
        await _add_to_tag_schema_index(registry, reference.repository, subject.digest, manifest)
    return '{}@{}'.format(reference.repository, manifest.digest)


async def _add_to_tag_schema_index(registry: RegistryClient, repository: str, subject_digest: str,
                                   referrer: Manifest) -> None:
    tag = referrers.schema_tag(subject_digest)
    try:
        existing = await registry.get_manifest(repository, tag)
    except RegistryError as error:
        if not error.is_not_found:
            raise
        existing = None
    await registry.put_manifest(repository, tag, referrers.tag_schema_index(existing, referrer))
# ---- images that `check --artifacts` must warn about ---------------------------------------------------------------

DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'
# Where a Windows base layer lives (clients fetch a foreign layer from its URL; nothing is fetched here).
FOREIGN_LAYER_URL = 'https://mcr.microsoft.com/v2/windows/servercore/blobs/{}'
GIB = 1024 ** 3


async def push_special_image(registry: RegistryClient, repository: str, tag: str, foreign_layer: bool = False,
                             declared_layer_gib: int = 0) -> str:
    """Push a docker schema2 image with one small stored layer plus either a foreign layer (mediaType foreign, with
    `urls`, its bytes nowhere in the registry) or, with ``declared_layer_gib``, whose stored layer's descriptor
    declares that many GiB. docker-registry checks only that a layer's digest exists (and skips foreign layers),
    never its declared size, so neither needs the bytes. Returns the manifest digest."""
    if foreign_layer == bool(declared_layer_gib):
        raise ValueError('Give either foreign_layer or declared_layer_gib.')
    layer = gzip.compress(_tar_of({'special/readme.txt': f'{repository}:{tag}\n'.encode()}), mtime=0)
    digest = await registry.upload_small_blob(repository, layer)
    layers = [{'mediaType': DOCKER_LAYER, 'size': declared_layer_gib * GIB if declared_layer_gib else len(layer),
               'digest': digest}]
    diff_ids = [sha256_digest(gzip.decompress(layer))]
    if foreign_layer:
        foreign = sha256_digest(f'foreign layer of {repository}:{tag}'.encode())
        layers.insert(0, {'mediaType': DOCKER_FOREIGN_LAYER, 'size': 1024 * 1024 * 1024, 'digest': foreign,
                          'urls': [FOREIGN_LAYER_URL.format(foreign)]})
        diff_ids.insert(0, foreign)
    config = _json_bytes({'architecture': 'amd64', 'os': 'windows' if foreign_layer else 'linux',
                          'created': CREATED, 'rootfs': {'type': 'layers', 'diff_ids': diff_ids}})
    config_descriptor = {'mediaType': DOCKER_CONFIG, 'size': len(config),
                         'digest': await registry.upload_small_blob(repository, config)}
    content = _json_bytes({'schemaVersion': 2, 'mediaType': DOCKER_MANIFEST, 'config': config_descriptor,
                           'layers': layers})
    return await registry.put_manifest(repository, tag, Manifest(DOCKER_MANIFEST, sha256_digest(content), content))
