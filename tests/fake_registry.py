# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""An in-memory registry with the reads of _registry.RegistryDataClient (manifest_digest, manifest, referrers), for
tests of referrer discovery, export selection and verify. Its referrers API lists the manifests whose `subject` is
the digest, as ACR's does; with `api=False` it has none (the client's None)."""

import hashlib
import json

IMAGE = 'application/vnd.oci.image.manifest.v1+json'
INDEX = 'application/vnd.oci.image.index.v1+json'


def digest_of(body):
    return 'sha256:' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class FakeRegistry:
    def __init__(self, api=True):
        self.api = api
        self.manifests = {}     # (repository, digest) -> body
        self.tags = {}          # (repository, tag) -> digest
        self.calls = []

    # ---- building it ----------------------------------------------------------------------------------------

    def push(self, repository, body, tag=None):
        digest = digest_of(body)
        self.manifests[(repository, digest)] = body
        if tag:
            self.tags[(repository, tag)] = digest
        return digest

    def push_image(self, repository, tag, content='image'):
        return self.push(repository, {'mediaType': IMAGE, 'config': {'digest': digest_of(content)}}, tag)

    def push_referrer(self, repository, subject, artifact_type, content='x'):
        """An OCI 1.1 referrer: a manifest whose `subject` is the image (found by the referrers API)."""
        return self.push(repository, {'mediaType': IMAGE, 'artifactType': artifact_type, 'note': content,
                                      'subject': {'mediaType': IMAGE, 'digest': subject}})

    def push_cosign(self, repository, subject, suffix='sig', content='sig'):
        """A cosign tag-scheme referrer: no subject, tagged sha256-<hex>.<suffix>."""
        return self.push(repository, {'mediaType': IMAGE, 'cosign': content},
                         '{}.{}'.format(subject.replace(':', '-'), suffix))

    def index_referrers_by_tag(self, repository, subject):
        """The referrers tag schema: an index tagged sha256-<hex> listing the subject's referrers."""
        listed = [{'mediaType': IMAGE, 'digest': digest, 'artifactType': body.get('artifactType')}
                  for (repo, digest), body in self.manifests.items()
                  if repo == repository and (body.get('subject') or {}).get('digest') == subject]
        return self.push(repository, {'mediaType': INDEX, 'manifests': listed}, subject.replace(':', '-'))

    # ---- the client's reads ---------------------------------------------------------------------------------

    def _digest(self, repository, reference):
        if reference.startswith('sha256:'):
            return reference if (repository, reference) in self.manifests else None
        return self.tags.get((repository, reference))

    def manifest_digest(self, repository, reference):
        self.calls.append(('HEAD', repository, reference))
        return self._digest(repository, reference)

    def manifest(self, repository, reference):
        self.calls.append(('GET', repository, reference))
        digest = self._digest(repository, reference)
        return (digest, self.manifests[(repository, digest)]) if digest else None

    def referrers(self, repository, digest):
        self.calls.append(('REFERRERS', repository, digest))
        if not self.api:
            return None
        return [{'mediaType': IMAGE, 'digest': found, 'artifactType': body.get('artifactType')}
                for (repo, found), body in self.manifests.items()
                if repo == repository and (body.get('subject') or {}).get('digest') == digest]


class AnyImage(FakeRegistry):
    """Every tag is an image (its digest derived from the reference), except the sha256-<hex> tags of the
    referrers tag schema and cosign, which exist only when pushed: for runner tests."""

    def _digest(self, repository, reference):
        if reference.startswith('sha256:'):
            return reference
        if reference.startswith('sha256-'):
            return self.tags.get((repository, reference))
        return self.tags.get((repository, reference)) or digest_of('{}:{}'.format(repository, reference))
