# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""An image's referrers (signatures, SBOMs, attestations), and theirs, found in the registry.

Three ways a referrer is attached to its subject, all looked for:
- the OCI 1.1 referrers API, `GET /v2/<repo>/referrers/<digest>` (ACR serves it), which lists every manifest whose
  `subject` is the digest;
- where the registry has no such API, the OCI referrers tag schema: an image index tagged `sha256-<hex>` listing
  the referrers. That index is carried too, by its tag: a target without the API finds the referrers only through
  it (with the API, the target lists them by their `subject` anyway);
- cosign's own tag scheme, `sha256-<hex>.sig`, `.att` and `.sbom`: manifests without a `subject`, found only by the
  tag, so they are carried by that tag (a digest alone would arrive where cosign cannot find it).

The search is breadth first (a signature of an SBOM is a referrer of the SBOM), each digest visited once (a cycle
ends), and stops with an error past MAX_DEPTH levels or MAX_REFERRERS referrers: a run carries at most 50 artifacts
and an image travels with all its referrers, so more could not be carried anyway.

Why the fallback matters here: Microsoft's ORAS article lists OCI 1.1 artifact support as not yet available in
government clouds and Azure operated by 21Vianet, the clouds this extension is for, so a registry there may answer
the referrers API with 404.

GUESS about the service (issue 17; no Azure document says either way): ACR Transfer exports a manifest named
`repo@digest` byte for byte, `subject` included, and the import stores it as is, so the target's referrers API lists
it under the same subject. `pipeline-run verify` checks exactly that after every transfer and says Mismatch if not.

`reader` is anything with the three reads of _registry.RegistryDataClient: referrers(repo, digest) (None when the
API is absent), manifest(repo, reference) and manifest_digest(repo, reference) (None when missing).
"""

from collections import deque
from dataclasses import dataclass
from typing import Optional

MAX_REFERRERS = 49   # with its image, one run's 50 artifacts
MAX_DEPTH = 8        # a signature of an attestation of an SBOM ... is 3; 8 is plenty and still bounded
COSIGN_SUFFIXES = ('sig', 'att', 'sbom')
COSIGN_TYPES = {'sig': 'cosign signature', 'att': 'cosign attestation', 'sbom': 'cosign SBOM'}

API = 'api'
TAG_SCHEMA = 'tag-schema'
TAG_SCHEMA_INDEX = 'tag-schema-index'   # the index of the referrers tag schema itself, carried by its tag
COSIGN = 'cosign'
TAG_SCHEMA_INDEX_TYPE = 'referrers tag schema index'

TOO_MANY = ("'{subject}' has more than {limit} referrers (signatures, SBOMs, attestations and theirs): an image and "
            "its referrers travel in one run of at most 50 artifacts. Export it without --include-referrers and list "
            "the referrers to carry with --artifacts.")
TOO_DEEP = ("'{subject}' has referrers more than {limit} levels deep (a referrer of a referrer of ...): that is not "
            "a signature or an SBOM chain this command carries. Export it without --include-referrers.")


class ReferrerLimitError(ValueError):
    """Too many or too deep referrers to carry with their image; the message says what to do."""


@dataclass(frozen=True)
class Referrer:
    repository: str
    digest: str
    artifact_type: str
    scheme: str                     # API, TAG_SCHEMA, TAG_SCHEMA_INDEX or COSIGN: how it was found, how the target
    subject: str                    # finds it; the digest it refers to
    tag: Optional[str] = None       # cosign, tag-schema index: the tag it is found by

    @property
    def reference(self):
        """What the export run lists: a cosign referrer by its tag, the others by digest."""
        if self.tag:
            return '{}:{}'.format(self.repository, self.tag)
        return '{}@{}'.format(self.repository, self.digest)

    def to_dict(self):
        return {'reference': self.reference, 'digest': self.digest, 'artifactType': self.artifact_type,
                'scheme': self.scheme, 'subject': self.subject}


def schema_tag(digest):
    """The tag both the referrers tag schema and cosign derive from a digest: sha256:<hex> -> sha256-<hex>."""
    return digest.replace(':', '-', 1)


def _descriptor_type(descriptor):
    return descriptor.get('artifactType') or descriptor.get('mediaType') or 'unknown'


def _listed(reader, repository, digest):
    """(scheme, descriptors, digest of the tag-schema index or None) of the referrers the registry lists for a
    digest: by the referrers API, or by the referrers tag schema where the API is absent."""
    descriptors = reader.referrers(repository, digest)
    if descriptors is not None:
        return API, descriptors, None
    index = reader.manifest(repository, schema_tag(digest))
    if not index:
        return TAG_SCHEMA, [], None
    return TAG_SCHEMA, [entry for entry in (index[1].get('manifests') or []) if isinstance(entry, dict)
                        and isinstance(entry.get('digest'), str)], index[0]


def listed_referrers(reader, repository, digest):
    """(scheme, descriptors) of the referrers the registry lists for a digest (see _listed)."""
    scheme, descriptors, _ = _listed(reader, repository, digest)
    return scheme, descriptors


def direct_referrers(reader, repository, digest):
    """The referrers of one manifest: those the registry lists (and the tag-schema index that lists them, when it
    is by that index), and those cosign's tags name (the API never lists them: they have no subject)."""
    scheme, descriptors, index_digest = _listed(reader, repository, digest)
    found = [Referrer(repository, entry['digest'], _descriptor_type(entry), scheme, digest) for entry in descriptors]
    if index_digest and descriptors:
        found.append(Referrer(repository, index_digest, TAG_SCHEMA_INDEX_TYPE, TAG_SCHEMA_INDEX, digest,
                              schema_tag(digest)))
    for suffix in COSIGN_SUFFIXES:
        tag = '{}.{}'.format(schema_tag(digest), suffix)
        tagged = reader.manifest_digest(repository, tag)
        if tagged:
            found.append(Referrer(repository, tagged, COSIGN_TYPES[suffix], COSIGN, digest, tag))
    return found


def find_referrers(reader, repository, digest, subject_label=None):
    """Every referrer of `digest` and of its referrers, breadth first, each digest once (the subject excluded)."""
    label = subject_label or '{}@{}'.format(repository, digest)
    seen = {digest}
    found = []
    queue = deque([(digest, 0)])
    while queue:
        current, depth = queue.popleft()
        for referrer in direct_referrers(reader, repository, current):
            if referrer.digest in seen:
                continue
            if depth + 1 > MAX_DEPTH:
                raise ReferrerLimitError(TOO_DEEP.format(subject=label, limit=MAX_DEPTH))
            seen.add(referrer.digest)
            found.append(referrer)
            if len(found) > MAX_REFERRERS:
                raise ReferrerLimitError(TOO_MANY.format(subject=label, limit=MAX_REFERRERS))
            if referrer.scheme != TAG_SCHEMA_INDEX:   # a list of referrers, not one: nothing refers to it
                queue.append((referrer.digest, depth + 1))
    return found


def is_found_from_subject(reader, referrer):
    """Whether the target finds the referrer from its subject the way it was found in the source: listed by the
    referrers API (or the tag schema's index), or, for cosign and the tag schema's index itself, its tag points at
    it."""
    if referrer['scheme'] in (COSIGN, TAG_SCHEMA_INDEX):
        repository, _, tag = referrer['reference'].rpartition(':')
        return reader.manifest_digest(repository, tag) == referrer['digest']
    repository = referrer['reference'].rpartition('@')[0]
    _, descriptors = listed_referrers(reader, repository, referrer['subject'])
    return any(entry['digest'] == referrer['digest'] for entry in descriptors)
