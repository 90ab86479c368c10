"""The OCI 1.1 referrers API of the sandbox's registry front: computed from the stored manifests' `subject` (pure, in
transfer/referrers.py), served behind the same tokens as every /v2/ route, filtered by artifactType, switched off
with ACRSANDBOX_REFERRERS_API=off; and the transfer engine carrying referrers so the target's API finds them."""
import json
from pathlib import Path

import pytest
import requests

from acrtransfer_sandbox.plumbing.config import REFERRERS_API_SETTING, referrers_api_enabled
from acrtransfer_sandbox.transfer import (BlobContainer, RegistryClient, export_to_blob, import_from_blob,
                                          push_referrer, push_sample_images)
from acrtransfer_sandbox.transfer import referrers
from acrtransfer_sandbox.transfer.registry import OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from conftest import client_session, run
from test_registry_front import FrontServer, _access_token, _bearer

SIGNATURE = 'application/vnd.cncf.notary.signature'
SBOM = 'application/spdx+json'
ATTESTATION = 'application/vnd.in-toto+json'
SUBJECT = 'hello-world:latest'


def _manifest(data: dict, media_type: str = OCI_MANIFEST) -> Manifest:
    content = json.dumps(data).encode()
    return Manifest(media_type, sha256_digest(content), content)


SUBJECT_DIGEST = 'sha256:' + 'a' * 64
OTHER_DIGEST = 'sha256:' + 'b' * 64
CONFIG = {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': 'sha256:' + 'c' * 64, 'size': 2}


def _subject(digest=SUBJECT_DIGEST):
    return {'mediaType': OCI_MANIFEST, 'digest': digest, 'size': 100}


# ---- the computation (pure) ---------------------------------------------------------------------------------------

def test_the_index_lists_exactly_the_manifests_whose_subject_is_the_digest():
    signature = _manifest({'schemaVersion': 2, 'artifactType': SIGNATURE, 'config': CONFIG, 'layers': [],
                           'subject': _subject(), 'annotations': {'created': 'now'}})
    sbom_config = dict(CONFIG, mediaType='application/vnd.example.sbom.config')
    sbom = _manifest({'schemaVersion': 2, 'config': sbom_config, 'layers': [], 'subject': _subject()})
    elsewhere = _manifest({'schemaVersion': 2, 'artifactType': SIGNATURE, 'config': CONFIG, 'layers': [],
                           'subject': _subject(OTHER_DIGEST)})
    plain = _manifest({'schemaVersion': 2, 'config': CONFIG, 'layers': []})
    index_with_subject = _manifest({'schemaVersion': 2, 'manifests': [], 'subject': _subject()}, OCI_INDEX)

    index, filtered = referrers.referrers_index([plain, elsewhere, signature, sbom, index_with_subject],
                                                SUBJECT_DIGEST)

    assert not filtered and index['mediaType'] == OCI_INDEX and index['schemaVersion'] == 2
    expected = sorted([
        {'mediaType': OCI_MANIFEST, 'digest': signature.digest, 'size': len(signature.content),
         'artifactType': SIGNATURE, 'annotations': {'created': 'now'}},
        # no artifactType of its own: an image manifest's config media type stands in for it
        {'mediaType': OCI_MANIFEST, 'digest': sbom.digest, 'size': len(sbom.content),
         'artifactType': 'application/vnd.example.sbom.config'},
        # an index has no config: no artifactType at all
        {'mediaType': OCI_INDEX, 'digest': index_with_subject.digest, 'size': len(index_with_subject.content)},
    ], key=lambda item: item['digest'])
    assert index['manifests'] == expected


def test_the_artifact_type_filter_keeps_only_that_type_and_says_it_filtered():
    signature = _manifest({'schemaVersion': 2, 'artifactType': SIGNATURE, 'config': CONFIG, 'layers': [],
                           'subject': _subject()})
    sbom = _manifest({'schemaVersion': 2, 'artifactType': SBOM, 'config': CONFIG, 'layers': [],
                      'subject': _subject()})
    index, filtered = referrers.referrers_index([signature, sbom], SUBJECT_DIGEST, SBOM)
    assert filtered and [item['digest'] for item in index['manifests']] == [sbom.digest]
    assert referrers.referrers_index([signature], SUBJECT_DIGEST, 'application/none')[0]['manifests'] == []


def test_manifests_that_are_not_json_or_have_a_bad_subject_are_not_listed():
    broken = Manifest(OCI_MANIFEST, sha256_digest(b'not json'), b'not json')
    odd = _manifest({'schemaVersion': 2, 'subject': 'sha256:' + 'a' * 64})
    assert referrers.referrers_index([broken, odd], SUBJECT_DIGEST)[0]['manifests'] == []


@pytest.mark.parametrize('artifact_type, suffix', [
    (SIGNATURE, 'sig'), ('application/vnd.dev.cosign.artifact.sig.v1+json', 'sig'), (SBOM, 'sbom'),
    ('application/vnd.cyclonedx+json', 'sbom'), (ATTESTATION, 'att'), ('application/vnd.dsse.envelope.v1+json', 'att'),
])
def test_cosign_tags_by_artifact_type(artifact_type, suffix):
    assert referrers.cosign_tag(SUBJECT_DIGEST, artifact_type) == 'sha256-{}.{}'.format('a' * 64, suffix)


def test_an_artifact_type_cosign_has_no_tag_for_is_refused_with_the_words_it_knows():
    with pytest.raises(ValueError, match="'application/vnd.example.readme' is not a signature, an SBOM or an "
                                         "attestation.*spdx"):
        referrers.cosign_tag(SUBJECT_DIGEST, 'application/vnd.example.readme')


@pytest.mark.parametrize('value, enabled', [(None, True), ('on', True), ('off', False), (' OFF ', False)])
def test_the_switch(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv(REFERRERS_API_SETTING, raising=False)
    else:
        monkeypatch.setenv(REFERRERS_API_SETTING, value)
    assert referrers_api_enabled() is enabled


# ---- pushing referrers --------------------------------------------------------------------------------------------

async def _push_product(registry_url):
    """The samples, and for hello-world:latest a signature and an SBOM by the API, a signature of that SBOM, and a
    cosign signature; returns their references by name."""
    async with await client_session() as session:
        registry = RegistryClient(session, registry_url)
        digests = await push_sample_images(registry)
        pushed = {'subject': digests[SUBJECT],
                  'signature': await push_referrer(registry, SUBJECT, SIGNATURE),
                  'sbom': await push_referrer(registry, SUBJECT, SBOM)}
        pushed['sbom_signature'] = await push_referrer(registry, pushed['sbom'], SIGNATURE)
        pushed['cosign'] = await push_referrer(registry, SUBJECT, SIGNATURE, 'cosign')
        pushed['cosign_manifest'] = await registry.get_manifest('hello-world', pushed['cosign'].split('@')[1])
        pushed['cosign_tag'] = await registry.tag_digest('hello-world', referrers.cosign_tag(digests[SUBJECT],
                                                                                             SIGNATURE))
        pushed['signature_manifest'] = await registry.get_manifest('hello-world', pushed['signature'].split('@')[1])
        return pushed


@pytest.fixture(name='product')
def fixture_product(source_registry):
    return run(_push_product(source_registry.url))


def test_push_referrer_api_pushes_a_manifest_whose_subject_is_the_image(product):
    data = json.loads(product['signature_manifest'].content)
    assert product['signature'].startswith('hello-world@sha256:')
    assert data['artifactType'] == SIGNATURE and data['subject']['digest'] == product['subject']
    assert data['config']['mediaType'] == referrers.EMPTY_CONFIG_MEDIA_TYPE and len(data['layers']) == 1


def test_push_referrer_cosign_pushes_a_manifest_without_subject_under_the_cosign_tag(product):
    assert product['cosign_tag'] == product['cosign'].split('@')[1]
    assert 'subject' not in json.loads(product['cosign_manifest'].content)


def test_push_referrer_refuses_an_unknown_scheme_or_type_before_pushing(source_registry):
    async def attempt(artifact_type, scheme):
        async with await client_session() as session:
            registry = RegistryClient(session, source_registry.url)
            await push_sample_images(registry)
            with pytest.raises(ValueError) as raised:
                await push_referrer(registry, SUBJECT, artifact_type, scheme)
            return str(raised.value), await registry.list_tags('hello-world')
    message, tags = run(attempt(SIGNATURE, 'notation'))
    assert "unknown referrer scheme 'notation'" in message and sorted(tags) == ['latest', 'multiarch', 'v2']
    message, tags = run(attempt('signature', 'api'))
    assert "is not a media type" in message and sorted(tags) == ['latest', 'multiarch', 'v2']


# ---- the front ----------------------------------------------------------------------------------------------------

@pytest.fixture(name='front')
def fixture_front(source_registry, product):
    server = FrontServer(source_registry.url, storage_root=Path(source_registry.workdir, 'data')).start()
    yield server
    server.stop()


def _referrers(front, digest, token=None, repository='hello-world', query=''):
    token = token or _access_token(front, 'repository:{}:pull'.format(repository))
    return requests.get('{}/v2/{}/referrers/{}{}'.format(front.url, repository, digest, query),
                        headers=_bearer(token))


def test_the_front_lists_the_api_referrers_of_an_image_but_not_the_cosign_one(front, product):
    response = _referrers(front, product['subject'])
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'].startswith(OCI_INDEX)
    assert referrers.FILTER_HEADER not in response.headers
    listed = response.json()['manifests']
    expected = {product['signature'].split('@')[1]: SIGNATURE, product['sbom'].split('@')[1]: SBOM}
    assert {item['digest']: item['artifactType'] for item in listed} == expected
    signature = [item for item in listed if item['artifactType'] == SIGNATURE][0]
    assert signature == {'mediaType': OCI_MANIFEST, 'digest': product['signature_manifest'].digest,
                         'size': len(product['signature_manifest'].content), 'artifactType': SIGNATURE,
                         'annotations': {referrers.SANDBOX_ANNOTATION: SIGNATURE}}
    # the signature of the SBOM is the SBOM's referrer, not the image's
    of_sbom = _referrers(front, product['sbom'].split('@')[1]).json()['manifests']
    assert [item['digest'] for item in of_sbom] == [product['sbom_signature'].split('@')[1]]


def test_the_front_filters_by_artifact_type(front, product):
    response = _referrers(front, product['subject'], query='?artifactType=' + requests.utils.quote(SBOM, safe=''))
    assert response.status_code == 200
    assert response.headers[referrers.FILTER_HEADER] == 'artifactType'
    assert [item['digest'] for item in response.json()['manifests']] == [product['sbom'].split('@')[1]]


def test_a_digest_without_referrers_or_unknown_answers_an_empty_index(front):
    response = _referrers(front, 'sha256:' + '0' * 64)
    assert response.status_code == 200 and response.json()['manifests'] == []


def test_the_referrers_api_needs_a_pull_token_for_that_repository(front, product):
    anonymous = requests.get('{}/v2/hello-world/referrers/{}'.format(front.url, product['subject']))
    assert anonymous.status_code == 401 and 'Bearer realm=' in anonymous.headers['WWW-Authenticate']
    other = _access_token(front, 'repository:other:pull')
    refused = _referrers(front, product['subject'], token=other)
    assert refused.status_code == 401
    assert 'scope="repository:hello-world:pull"' in refused.headers['WWW-Authenticate']
    assert 'manifests' not in refused.text


def test_a_bad_digest_is_a_400_and_an_unknown_repository_a_404(front):
    assert _referrers(front, 'sha256:' + 'A' * 64).status_code == 400
    missing = _referrers(front, 'sha256:' + '0' * 64, repository='nothing-here')
    assert missing.status_code == 404 and missing.json()['errors'][0]['code'] == 'NAME_UNKNOWN'


def test_with_the_switch_off_the_referrers_api_is_a_404_behind_the_same_authentication(
        source_registry, product, monkeypatch):
    monkeypatch.setenv(REFERRERS_API_SETTING, 'off')
    server = FrontServer(source_registry.url, storage_root=Path(source_registry.workdir, 'data')).start()
    try:
        assert requests.get('{}/v2/hello-world/referrers/{}'.format(server.url, product['subject'])).status_code == 401
        response = _referrers(server, product['subject'])
        assert response.status_code == 404 and 'manifests' not in response.text
        # the rest of the registry is served as before
        manifest = requests.get('{}/v2/hello-world/manifests/latest'.format(server.url), headers={
            **_bearer(_access_token(server, 'repository:hello-world:pull')), 'Accept': OCI_MANIFEST})
        assert manifest.status_code == 200
    finally:
        server.stop()


# ---- the engine carries them ------------------------------------------------------------------------------------

def test_the_engine_carries_referrers_so_the_targets_api_finds_them(source_registry, target_registry, storage,
                                                                    product):
    artifacts = [SUBJECT, product['signature'], product['sbom'], product['sbom_signature'],
                 'hello-world:' + referrers.cosign_tag(product['subject'], SIGNATURE)]

    async def carry():
        async with await client_session() as session:
            container = BlobContainer.with_account_key(session, storage.url, storage.azurite.account_name,
                                                       storage.azurite.account_key)
            exported = await export_to_blob(RegistryClient(session, source_registry.url), container, 'refs.tar',
                                            artifacts, set(), lambda _percent: None)
            imported = await import_from_blob(container, 'refs.tar', RegistryClient(session, target_registry.url),
                                              set(), lambda _percent: None)
            target = RegistryClient(session, target_registry.url)
            signature = await target.get_manifest('hello-world', product['signature'].split('@')[1])
            cosign_tag = await target.tag_digest('hello-world', artifacts[-1].split(':', 1)[1])
            return exported, imported, signature, cosign_tag

    exported, imported, signature, cosign_tag = run(carry())
    assert exported.imported_artifacts == artifacts and imported.imported_artifacts == artifacts
    assert signature.content == product['signature_manifest'].content   # byte for byte: subject intact
    assert cosign_tag == product['cosign'].split('@')[1]
    server = FrontServer(target_registry.url, storage_root=Path(target_registry.workdir, 'data')).start()
    try:
        listed = _referrers(server, product['subject']).json()['manifests']
        assert sorted(item['digest'] for item in listed) == sorted(
            product[name].split('@')[1] for name in ('signature', 'sbom'))
        of_sbom = _referrers(server, product['sbom'].split('@')[1]).json()['manifests']
        assert [item['digest'] for item in of_sbom] == [product['sbom_signature'].split('@')[1]]
    finally:
        server.stop()


# ---- without the API: the referrers tag schema -------------------------------------------------------------------

def test_push_referrer_keeps_the_tag_schema_index_for_a_registry_without_the_api(source_registry):
    async def push():
        async with await client_session() as session:
            registry = RegistryClient(session, source_registry.url)
            subject = (await push_sample_images(registry))[SUBJECT]
            signature = await push_referrer(registry, SUBJECT, SIGNATURE, tag_schema=True)
            sbom = await push_referrer(registry, SUBJECT, SBOM, tag_schema=True)
            again = await push_referrer(registry, SUBJECT, SBOM, tag_schema=True)   # the same referrer once
            cosign = await push_referrer(registry, SUBJECT, SBOM, 'cosign', tag_schema=True)
            index = await registry.get_manifest('hello-world', referrers.schema_tag(subject))
            return subject, signature, sbom, again, cosign, index
    subject, signature, sbom, again, cosign, index = run(push())
    assert again == sbom and cosign != sbom
    data = json.loads(index.content)
    assert index.media_type == OCI_INDEX and data['mediaType'] == OCI_INDEX
    assert sorted((item['digest'], item['artifactType']) for item in data['manifests']) == sorted(
        [(signature.split('@')[1], SIGNATURE), (sbom.split('@')[1], SBOM)])   # the cosign one has no subject
    assert referrers.schema_tag(subject) == 'sha256-' + subject.split(':')[1]
