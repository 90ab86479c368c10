# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The container read with a SAS token over plain HTTPS: lists, pages, blob properties, refusals, never the token."""

import base64
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from azext_acrtransfer._blob_rest import BlobRequestError, SasContainer

TOKEN = 'sv=2021-08-06&ss=b&srt=sco&sp=rl&se=2030-01-01&sig=c2VjcmV0'
MD5 = base64.b64encode(b'0123456789abcdef').decode()
PAGE = ('<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs><Blob><Name>b1</Name><Properties>'
        '<Last-Modified>Mon, 01 Jun 2026 12:00:00 GMT</Last-Modified><Content-MD5>{}</Content-MD5></Properties>'
        '<Metadata><category>acr-transfer-blob</category></Metadata></Blob></Blobs><NextMarker>{}</NextMarker>'
        '</EnumerationResults>')
LAST = ('<EnumerationResults><Blobs><Blob><Name>b2</Name><Properties/></Blob></Blobs><NextMarker/>'
        '</EnumerationResults>')


class Session:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.urls = []

    def request(self, method, url, **_):
        self.urls.append(url)
        status, body, headers = self.responses.pop(0)
        return SimpleNamespace(status_code=status, content=body.encode(), headers=headers, reason='Reason',
                               request=SimpleNamespace(method=method))


def container(*responses):
    session = Session(*responses)
    return SasContainer('https://acct.blob.core.windows.net/transfer/', TOKEN, session), session


def test_every_page_of_blobs_with_their_facts():
    sas, session = container((200, PAGE.format(MD5, 'm2'), {}), (200, LAST, {}))
    blobs = sas.blobs_with_metadata()
    assert [b.name for b in blobs] == ['b1', 'b2']
    assert blobs[0].metadata == {'category': 'acr-transfer-blob'} and blobs[0].content_md5 == b'0123456789abcdef'
    assert blobs[0].last_modified == datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert blobs[1].content_md5 is None and blobs[1].last_modified is None
    assert 'marker=m2' in session.urls[1] and all(url.endswith(TOKEN) for url in session.urls)


def test_one_blobs_properties_and_a_missing_blob():
    headers = {'Content-MD5': MD5, 'Last-Modified': 'Mon, 01 Jun 2026 12:00:00 GMT', 'x-ms-meta-category': 'x'}
    sas, _ = container((200, '', headers), (404, '', {'x-ms-error-code': 'BlobNotFound'}))
    blob = sas.blob_facts('dir/b 1')
    assert blob.metadata == {'category': 'x'} and blob.content_md5 == b'0123456789abcdef'
    assert sas.blob_facts('gone') is None


def test_a_refusal_says_storages_code_and_never_the_token(monkeypatch):
    monkeypatch.setattr('azext_acrtransfer._blob_rest.time.sleep', lambda _seconds: None)
    body = ("<Error><Code>AuthorizationFailure</Code><Message>This request is not authorized.\nRequestId:1"
            "</Message></Error>")
    sas, _ = container((403, body, {'x-ms-error-code': 'AuthorizationFailure'}))
    assert sas.first_page_error() == (403, 'AuthorizationFailure', 'This request is not authorized.')
    sas, _ = container((500, 'not xml', {}), (500, 'not xml', {}), (500, 'not xml', {}))
    with pytest.raises(BlobRequestError) as error:
        sas.blobs_with_metadata()
    assert error.value.status_code == 500 and TOKEN not in str(error.value) and 'c2VjcmV0' not in str(error.value)


def test_a_list_answer_that_is_not_xml():
    sas, _ = container((200, '<html>proxy', {}))
    assert sas.first_page_error()[1] == 'NotXml'


def test_a_prefetched_blob_is_asked_once():
    from concurrent.futures import ThreadPoolExecutor
    sas, session = container((404, '', {'x-ms-error-code': 'BlobNotFound'}))
    with ThreadPoolExecutor(max_workers=1) as pool:
        sas.prefetch(pool, 'b1')
        assert sas.blob_facts('b1') is None
    assert len(session.urls) == 1 and '/transfer/b1?' in session.urls[0]
