# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A blob container read with a SAS token over plain HTTPS (List Blobs, Get Blob Properties): what `check` asks
storage in SasToken mode. The blob SDK of az takes longer to import than these requests take, so a token's checks
do without it; the caller's own login (ManagedIdentity mode) still goes through the SDK (see _sdk).

The token is part of every URL here: no URL is ever logged or put in an error.
"""

import base64
import time
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree

from azure.core.exceptions import AzureError

from ._blob_rules import BlobFacts

STORAGE_VERSION = '2021-08-06'
TIMEOUT = (10, 60)
ATTEMPTS = 3
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_LIST_PAGES = 1000
META_PREFIX = 'x-ms-meta-'

NOT_XML = 'storage answered the blob list with a body that is not XML'
UNREACHABLE = 'storage cannot be reached: {}'


class BlobRequestError(AzureError):
    """Storage refused or failed a request: its status and x-ms-error-code, never the URL."""

    def __init__(self, status_code, error_code, message):
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code


class SasContainer:
    """One container, with the token."""

    def __init__(self, container_uri, sas_token, session=None):
        import requests
        from azure.cli.core.util import should_disable_connection_verify
        self._base = container_uri.rstrip('/')
        self._token = sas_token.strip().lstrip('?')
        self._session = session or requests.Session()
        self._verify = not should_disable_connection_verify()
        self._prefetched = {}

    def prefetch(self, pool, name):
        """Ask for one blob's facts now, in `pool`; blob_facts(name) then gives that answer."""
        self._prefetched[name] = pool.submit(self._blob_facts, name)

    def first_page_error(self):
        """None when the container lists, else (status, storage error code, message)."""
        try:
            self._list_page({'maxresults': '1'})
            return None
        except BlobRequestError as error:
            return error.status_code, error.error_code, str(error)

    def blobs_with_metadata(self):
        """BlobFacts of every blob, page by page."""
        found, marker = [], None
        for _page in range(MAX_LIST_PAGES):
            params = {'include': 'metadata'}
            if marker:
                params['marker'] = marker
            root = self._list_page(params)
            found.extend(_blob_facts(blob) for blob in root.iter('Blob'))
            marker = root.findtext('NextMarker')
            if not marker:
                break
        return found

    def blob_facts(self, name):
        """BlobFacts of one blob, or None when it does not exist."""
        if name in self._prefetched:
            return self._prefetched.pop(name).result()
        return self._blob_facts(name)

    def _blob_facts(self, name):
        from urllib.parse import quote
        response = self._send('HEAD', '{}/{}'.format(self._base, quote(name)), {})
        if response.status_code == 404:
            return None
        _raise_for_status(response)
        headers = response.headers
        metadata = {k[len(META_PREFIX):]: v for k, v in headers.items() if k.lower().startswith(META_PREFIX)}
        return BlobFacts(name, metadata, _md5(headers.get('Content-MD5')), _http_date(headers.get('Last-Modified')))

    def _list_page(self, params):
        response = self._send('GET', self._base, dict(params, restype='container', comp='list'))
        _raise_for_status(response)
        try:
            return ElementTree.fromstring(response.content)
        except ElementTree.ParseError:
            raise BlobRequestError(response.status_code, 'NotXml', NOT_XML) from None

    def _send(self, method, url, params):
        """One request with the token appended to the query, retried on 429, 5xx and dropped connections."""
        import requests
        from urllib.parse import urlencode
        full = '{}?{}&{}'.format(url, urlencode(params), self._token) if params else '{}?{}'.format(url, self._token)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._session.request(method, full, headers={'x-ms-version': STORAGE_VERSION},
                                                 timeout=TIMEOUT, verify=self._verify, allow_redirects=False)
            except requests.exceptions.RequestException as error:
                if attempt == ATTEMPTS:
                    raise BlobRequestError(None, 'Unreachable', UNREACHABLE.format(type(error).__name__)) from None
            else:
                if response.status_code not in RETRY_STATUSES or attempt == ATTEMPTS:
                    return response
            time.sleep(0.5 * attempt)
        raise AssertionError('unreachable')  # the loop always returns or raises


def _raise_for_status(response):
    if response.status_code < 400:
        return
    code = response.headers.get('x-ms-error-code') or str(response.status_code)
    message = ''
    if response.content and response.request.method != 'HEAD':
        try:
            message = ElementTree.fromstring(response.content).findtext('Message') or ''
        except ElementTree.ParseError:
            message = ''
    raise BlobRequestError(response.status_code, code, (message.strip().splitlines() or [response.reason or code])[0])


def _md5(text):
    try:
        return base64.b64decode(text) if text else None
    except ValueError:
        return None


def _http_date(text):
    try:
        return parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None


def _blob_facts(blob):
    properties = blob.find('Properties')
    metadata = blob.find('Metadata')
    return BlobFacts(blob.findtext('Name') or '',
                     {child.tag: child.text or '' for child in metadata} if metadata is not None else {},
                     _md5(properties.findtext('Content-MD5') if properties is not None else None),
                     _http_date(properties.findtext('Last-Modified') if properties is not None else None))
