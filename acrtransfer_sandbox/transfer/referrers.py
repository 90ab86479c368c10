"""Referrers, computed from stored manifests: what the OCI 1.1 referrers API answers, and how a referrer is made.

Pure: manifests in, an OCI image index out. The registry front (``fronts/registry.py``) reads the repository's
manifests from its backend and serves this index at ``GET /v2/<repo>/referrers/<digest>``, as ACR does; the
sandbox's command line builds referrer manifests with ``referrer_manifest`` and ``cosign_tag`` (pushed by
``samples.push_referrer``).

The rules (OCI distribution spec 1.1, "Listing Referrers"): the index lists a descriptor for every manifest of the
repository whose ``subject`` is the digest; its ``artifactType`` is the manifest's own, or for an image manifest
without one, its config's media type; its ``annotations`` are the manifest's. ``?artifactType=`` keeps only that type,
and the answer then says so in the ``OCI-Filters-Applied: artifactType`` header. A cosign signature (tag
``sha256-<hex>.sig``) has no ``subject``: the API never lists it, cosign finds it by its tag alone.
"""
import json
import re
from typing import Iterable, Optional

from .registry import OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest

FILTER_HEADER = 'OCI-Filters-Applied'
FILTER_ARTIFACT_TYPE = 'artifactType'
EMPTY_CONFIG_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json'
EMPTY_CONFIG = b'{}'
OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
SANDBOX_ANNOTATION = 'io.acrtransfer.sandbox.artifact-type'
# The layer media types cosign writes for each of its tags.
COSIGN_LAYERS = {'sig': 'application/vnd.dev.cosign.simplesigning.v1+json',
                 'att': 'application/vnd.dsse.envelope.v1+json',
                 'sbom': 'text/spdx+json'}
# Which cosign tag an artifact type goes under: the first kind whose word the type contains (an SBOM type is checked
# before a signature type, so that "sbom-signature" is not taken for a signature).
COSIGN_KINDS = (('sbom', ('sbom', 'spdx', 'cyclonedx')),
                ('att', ('attest', 'in-toto', 'intoto', 'dsse', 'provenance')),
                ('sig', ('sig', 'notary')))
_ARTIFACT_TYPE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$')

UNKNOWN_COSIGN_KIND = ("artifact type '{}' is not a signature, an SBOM or an attestation: cosign's tag scheme has a "
                       "tag for those only (.sig, .sbom, .att). Name it with one of: {}.")
INVALID_ARTIFACT_TYPE = "artifact type '{}' is not a media type (type/subtype, e.g. application/spdx+json)"


def subject_of(manifest: Manifest) -> Optional[str]:
    """The digest a manifest's ``subject`` names, or None (no subject, or not a manifest we can read)."""
    data = _json(manifest.content)
    subject = data.get('subject') if isinstance(data, dict) else None
    digest = subject.get('digest') if isinstance(subject, dict) else None
    return digest if isinstance(digest, str) else None


def referrer_descriptor(manifest: Manifest) -> dict:
    """The descriptor the referrers API lists for a manifest."""
    data = _json(manifest.content)
    descriptor = {'mediaType': manifest.media_type, 'digest': manifest.digest, 'size': len(manifest.content)}
    artifact_type = data.get('artifactType')
    if not artifact_type and manifest.media_type == OCI_MANIFEST:
        artifact_type = (data.get('config') or {}).get('mediaType')
    if isinstance(artifact_type, str) and artifact_type:
        descriptor['artifactType'] = artifact_type
    if isinstance(data.get('annotations'), dict) and data['annotations']:
        descriptor['annotations'] = data['annotations']
    return descriptor


def referrers_index(manifests: Iterable[Manifest], subject: str,
                    artifact_type: Optional[str] = None) -> tuple[dict, bool]:
    """(the OCI image index the referrers API answers for ``subject``, whether a filter was applied), the
    descriptors sorted by digest so that the same repository always gives the same answer."""
    descriptors = [referrer_descriptor(manifest) for manifest in manifests if subject_of(manifest) == subject]
    if artifact_type:
        descriptors = [item for item in descriptors if item.get('artifactType') == artifact_type]
    descriptors.sort(key=lambda item: item['digest'])
    return {'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': descriptors}, bool(artifact_type)


def tag_schema_index(existing: Optional[Manifest], referrer: Manifest) -> Manifest:
    """The referrers tag schema's index (tag ``sha256-<hex>`` of the subject) with ``referrer`` added: what an OCI
    1.1 client keeps for a registry without the referrers API."""
    data = _json(existing.content) if existing is not None else {}
    listed = [item for item in (data.get('manifests') or []) if isinstance(item, dict)
              and item.get('digest') != referrer.digest]
    listed.append(referrer_descriptor(referrer))
    content = _json_bytes({'schemaVersion': 2, 'mediaType': OCI_INDEX,
                           'manifests': sorted(listed, key=lambda item: str(item.get('digest')))})
    return Manifest(OCI_INDEX, sha256_digest(content), content)


def schema_tag(digest: str) -> str:
    """The tag the referrers tag schema and cosign derive from a digest: sha256:<hex> -> sha256-<hex>."""
    return digest.replace(':', '-', 1)


# ---- making referrers ---------------------------------------------------------------------------------------------

def check_artifact_type(artifact_type: str) -> None:
    if not _ARTIFACT_TYPE.match(artifact_type or ''):
        raise ValueError(INVALID_ARTIFACT_TYPE.format(artifact_type))


def cosign_kind(artifact_type: str) -> str:
    """'sig', 'att' or 'sbom': the cosign tag suffix for an artifact type; ValueError when it is none of them."""
    lowered = artifact_type.lower()
    for kind, words in COSIGN_KINDS:
        if any(word in lowered for word in words):
            return kind
    raise ValueError(UNKNOWN_COSIGN_KIND.format(artifact_type, ', '.join(
        word for _, words in COSIGN_KINDS for word in words)))


def cosign_tag(subject_digest: str, artifact_type: str) -> str:
    """cosign's tag for a subject: sha256:<hex> -> sha256-<hex>.sig (or .att, .sbom)."""
    return '{}.{}'.format(schema_tag(subject_digest), cosign_kind(artifact_type))


def payload(artifact_type: str, subject_digest: str) -> bytes:
    """The referrer's one small blob: deterministic, so the same referrer pushed twice has one digest."""
    return _json_bytes({'artifactType': artifact_type, 'subject': subject_digest, 'by': 'acrtransfer sandbox'})


def referrer_manifest(subject: Manifest, artifact_type: str, layer: dict) -> Manifest:
    """An OCI 1.1 artifact manifest referring to ``subject``: the empty config, one layer, ``artifactType``."""
    content = _json_bytes({
        'schemaVersion': 2, 'mediaType': OCI_MANIFEST, 'artifactType': artifact_type,
        'config': {'mediaType': EMPTY_CONFIG_MEDIA_TYPE, 'digest': sha256_digest(EMPTY_CONFIG),
                   'size': len(EMPTY_CONFIG)},
        'layers': [layer], 'subject': subject.descriptor.to_json(),
        'annotations': {SANDBOX_ANNOTATION: artifact_type}})
    return Manifest(OCI_MANIFEST, sha256_digest(content), content)


def cosign_manifest(config: dict, layer: dict, artifact_type: str) -> Manifest:
    """A manifest as cosign writes one under its tag: an image manifest with no ``subject``."""
    content = _json_bytes({'schemaVersion': 2, 'mediaType': OCI_MANIFEST, 'config': config, 'layers': [layer],
                           'annotations': {SANDBOX_ANNOTATION: artifact_type}})
    return Manifest(OCI_MANIFEST, sha256_digest(content), content)


def cosign_config() -> bytes:
    """The config of a cosign manifest: an image config of no layers."""
    return _json_bytes({'architecture': '', 'os': '', 'config': {}, 'rootfs': {'type': 'layers', 'diff_ids': []}})


def _json(content: bytes):
    try:
        return json.loads(content)
    except ValueError:
        return {}


def _json_bytes(data: dict) -> bytes:
    return json.dumps(data, separators=(',', ':'), sort_keys=True).encode()
