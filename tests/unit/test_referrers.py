# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Referrer discovery: the referrers API, its tag-schema fallback, cosign's tags, recursion, cycles and the caps;
and the registry client's reads behind it, against a scripted registry."""

import pytest

from fake_registry import IMAGE, FakeRegistry
from test_registry import LOGIN_SERVER, ScriptedRegistry, response  # pylint: disable=import-error

from azext_acrtransfer import _referrers, _registry
from azext_acrtransfer._referrers import (API, COSIGN, TAG_SCHEMA, ReferrerLimitError, find_referrers,
                                          is_found_from_subject)
from azext_acrtransfer._registry import RegistryDataClient

SIGNATURE = 'application/vnd.cncf.notary.signature'
SBOM = 'application/spdx+json'


@pytest.fixture(name='registry')
def fixture_registry():
    registry = FakeRegistry()
    registry.image = registry.push_image('app', 'v1')
    return registry


def test_the_referrers_api_finds_a_signature_and_an_sbom(registry):
    signature = registry.push_referrer('app', registry.image, SIGNATURE)
    sbom = registry.push_referrer('app', registry.image, SBOM)
    found = find_referrers(registry, 'app', registry.image)
    assert {(r.digest, r.artifact_type, r.scheme) for r in found} == {(signature, SIGNATURE, API), (sbom, SBOM, API)}
    assert all(r.reference == 'app@' + r.digest and r.subject == registry.image for r in found)
    assert not any(call[0] == 'GET' for call in registry.calls)   # the API answered: no tag-schema index read


def test_cosign_tags_are_found_beside_the_api_and_carried_by_their_tag(registry):
    signature = registry.push_cosign('app', registry.image, 'sig')
    attestation = registry.push_cosign('app', registry.image, 'att', 'att')
    found = find_referrers(registry, 'app', registry.image)
    tag = registry.image.replace(':', '-')
    assert [(r.reference, r.digest, r.scheme) for r in found] == [
        ('app:{}.sig'.format(tag), signature, COSIGN), ('app:{}.att'.format(tag), attestation, COSIGN)]


def test_without_the_api_the_referrers_tag_schema_is_read_and_its_index_carried_by_its_tag():
    registry = FakeRegistry(api=False)
    image = registry.push_image('app', 'v1')
    signature = registry.push_referrer('app', image, SIGNATURE)
    index = registry.index_referrers_by_tag('app', image)
    found = find_referrers(registry, 'app', image)
    tag = image.replace(':', '-')
    assert [(r.reference, r.digest, r.artifact_type, r.scheme) for r in found] == [
        ('app@' + signature, signature, SIGNATURE, TAG_SCHEMA),
        ('app:' + tag, index, _referrers.TAG_SCHEMA_INDEX_TYPE, _referrers.TAG_SCHEMA_INDEX)]
    assert ('REFERRERS', 'app', index) not in registry.calls   # the index is a list of referrers: not searched
    assert find_referrers(FakeRegistry(api=False), 'app', image) == []   # no index either: none, no error


def test_without_the_api_the_target_finds_referrers_only_through_the_carried_index():
    source = FakeRegistry(api=False)
    image = source.push_image('app', 'v1')
    source.push_referrer('app', image, SIGNATURE)
    source.index_referrers_by_tag('app', image)
    by_index, the_index = find_referrers(source, 'app', image)
    target = FakeRegistry(api=False)
    target.manifests = {key: body for key, body in source.manifests.items() if key[1] != the_index.digest}
    assert not is_found_from_subject(target, by_index.to_dict())
    assert not is_found_from_subject(target, the_index.to_dict())
    target.push('app', source.manifests[('app', the_index.digest)], the_index.tag)   # the index arrives by its tag
    assert is_found_from_subject(target, by_index.to_dict()) and is_found_from_subject(target, the_index.to_dict())


def test_referrers_of_referrers_are_found_breadth_first(registry):
    sbom = registry.push_referrer('app', registry.image, SBOM)
    sbom_signature = registry.push_referrer('app', sbom, SIGNATURE, 'sbom-sig')
    cosign_of_sbom = registry.push_cosign('app', sbom)
    found = find_referrers(registry, 'app', registry.image)
    assert [r.digest for r in found] == [sbom, sbom_signature, cosign_of_sbom]
    assert found[1].subject == sbom


def test_a_cycle_ends_and_each_digest_is_listed_once(registry):
    signature = registry.push_referrer('app', registry.image, SIGNATURE)
    registry.manifests[('app', registry.image)]['subject'] = {'mediaType': IMAGE, 'digest': signature}
    registry.push_cosign('app', signature, 'sig', 'a')
    registry.tags[('app', signature.replace(':', '-') + '.att')] = registry.image   # points back at the image
    found = find_referrers(registry, 'app', registry.image)
    assert [r.digest for r in found].count(signature) == 1 and registry.image not in [r.digest for r in found]
    assert len(found) == 2


def test_too_many_or_too_deep_referrers_are_refused_with_what_to_do(registry, monkeypatch):
    for number in range(_referrers.MAX_REFERRERS + 1):
        registry.push_referrer('app', registry.image, SIGNATURE, str(number))
    with pytest.raises(ReferrerLimitError, match='more than 49 referrers.*without --include-referrers'):
        find_referrers(registry, 'app', registry.image, 'app:v1')

    chain = FakeRegistry()
    subject = chain.push_image('app', 'v1')
    for level in range(4):
        subject = chain.push_referrer('app', subject, SIGNATURE, str(level))
    monkeypatch.setattr(_referrers, 'MAX_DEPTH', 3)
    with pytest.raises(ReferrerLimitError, match='more than 3 levels deep'):
        find_referrers(chain, 'app', digest_of_tag(chain, 'v1'))


def digest_of_tag(registry, tag):
    return registry.tags[('app', tag)]


def test_a_referrer_is_found_from_its_subject_only_where_it_is_listed_or_tagged(registry):
    signature = registry.push_referrer('app', registry.image, SIGNATURE)
    cosign = registry.push_cosign('app', registry.image)
    by_api, by_tag = find_referrers(registry, 'app', registry.image)
    assert is_found_from_subject(registry, by_api.to_dict()) and is_found_from_subject(registry, by_tag.to_dict())
    elsewhere = dict(by_api.to_dict(), subject=registry.push_image('app', 'v2', 'other'))
    assert not is_found_from_subject(registry, elsewhere)
    registry.tags[('app', by_tag.tag)] = signature   # the cosign tag moved
    assert not is_found_from_subject(registry, by_tag.to_dict()) and cosign != signature


# ---- the registry client's reads ------------------------------------------------------------------------------

DIGEST = 'sha256:' + 'c' * 64


class ReferrersRegistry(ScriptedRegistry):
    """ScriptedRegistry with digests on manifests and a referrers API (or none: status 404)."""

    def __init__(self, referrers_status=200):
        super().__init__()
        self.referrers_status = referrers_status
        self.pages = [[{'digest': 'sha256:' + '1' * 64, 'artifactType': SIGNATURE}],
                      [{'digest': 'sha256:' + '2' * 64, 'artifactType': SBOM}, 'junk']]

    def request(self, method, url, **kwargs):
        if '/referrers/' not in url and '/manifests/' not in url:
            return super().request(method, url, **kwargs)
        self.requests.append((method, url.split('?')[0].split(LOGIN_SERVER)[-1], {}, kwargs))
        if '/manifests/' in url:
            if url.endswith('/missing'):
                return response(404)
            return response(200, {'schemaVersion': 2}, {'Docker-Content-Digest': DIGEST}
                            if 'nodigest' not in url else None)
        if self.referrers_status != 200:
            return response(self.referrers_status)
        page = 1 if 'last=' in url else 0
        headers = {'Link': '</v2/app/referrers/{}?last=1>; rel="next"'.format(DIGEST)} if page == 0 else {}
        return response(200, {'schemaVersion': 2, 'mediaType': _registry.OCI_INDEX, 'manifests': self.pages[page]},
                        headers)


@pytest.fixture(name='scripted')
def fixture_scripted(monkeypatch):
    monkeypatch.setattr(_registry, '_arm_token', lambda cli_ctx: ('arm-token', 'tenant-1'))
    monkeypatch.setattr(_registry.time, 'sleep', lambda seconds: None)


def test_the_client_reads_digests_manifests_and_every_referrers_page(scripted):  # pylint: disable=unused-argument
    registry = ReferrersRegistry()
    client = RegistryDataClient(None, LOGIN_SERVER, session=registry)
    assert client.manifest_digest('app', 'v1') == DIGEST
    assert client.manifest_digest('app', 'missing') is None
    assert client.manifest('app', 'v1') == (DIGEST, {'schemaVersion': 2})
    digest, body = client.manifest('app', 'nodigest')   # no header: the digest of the bytes served
    assert digest.startswith('sha256:') and digest != DIGEST and body == {'schemaVersion': 2}
    listed = client.referrers('app', DIGEST)
    assert [entry['artifactType'] for entry in listed] == [SIGNATURE, SBOM]
    referrer_requests = [kwargs for _, path, _, kwargs in registry.requests if '/referrers/' in path]
    assert len(referrer_requests) == 2 and referrer_requests[0]['headers']['Accept'] == _registry.OCI_INDEX


@pytest.mark.parametrize('status', [404, 405])
def test_a_registry_without_the_referrers_api_answers_none(scripted, status):  # pylint: disable=unused-argument
    client = RegistryDataClient(None, LOGIN_SERVER, session=ReferrersRegistry(referrers_status=status))
    assert client.referrers('app', DIGEST) is None
