"""One storage container (Azurite, or anything speaking the Blob REST API), authenticated by a SAS token or by the
account key, with the streaming operations a pipeline-run needs.

Plain REST over aiohttp rather than the SDK: every byte stays under our control (blocks are bounded, nothing is
buffered whole) and errors are worded once, here, without ever carrying the SAS or the key.
"""
import asyncio
import base64
import hashlib
import hmac
import logging
import re
from xml.etree import ElementTree
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import AsyncIterator, Optional
from urllib.parse import quote, unquote, urlsplit

import aiohttp

from .errors import TransferError

logger = logging.getLogger(__name__)

API_VERSION = '2023-11-03'
BLOCK_SIZE = 4 * 1024 * 1024
BLOCKS_IN_FLIGHT = 4
DOWNLOAD_CHUNK = 1024 * 1024

STORAGE_FAILED = 'Storage request failed: {status} {code} ({detail})'
STORAGE_INTERRUPTED = "Storage request failed: the download of '{name}' was interrupted ({detail})"
STORAGE_UNREACHABLE = 'Storage request failed: could not reach {url} ({detail})'

_SECRET_QUERY_RE = re.compile(r'(sig=)[^&]*', re.IGNORECASE)


def scrub_url(url: str) -> str:
    """A URL fit for logs and messages: the SAS signature replaced."""
    return _SECRET_QUERY_RE.sub(r'\1REDACTED', url)


@dataclass
class BlobProperties:
    name: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    content_md5: Optional[str] = None   # base64, as the service returns it
    last_modified: Optional[str] = None  # RFC 1123, as the service returns it


class BlobContainer:
    """A container addressed by its URL (``https://<account>.blob.../<container>`` or Azurite's path-style
    ``http://127.0.0.1:<port>/<account>/<container>``)."""

    def __init__(self, session: aiohttp.ClientSession, container_url: str, *, sas_token: Optional[str] = None,
                 account_name: Optional[str] = None, account_key: Optional[str] = None):
        if bool(sas_token) == bool(account_key):
            raise ValueError('Give either a SAS token or an account key.')
        self._session = session
        self.container_url = container_url.split('?', 1)[0].rstrip('/')
        self._sas_query = sas_token.lstrip('?') if sas_token else None
        self._account_name = account_name or _account_from_url(self.container_url)
        self._account_key = base64.b64decode(account_key) if account_key else None

    @classmethod
    def with_sas(cls, session: aiohttp.ClientSession, container_url: str, sas_token: str) -> 'BlobContainer':
        return cls(session, container_url, sas_token=sas_token)

    @classmethod
    def with_account_key(cls, session: aiohttp.ClientSession, container_url: str, account_name: str,
                         account_key: str) -> 'BlobContainer':
        return cls(session, container_url, account_name=account_name, account_key=account_key)

    # ---- operations -------------------------------------------------------------------------------------------

    async def get_properties(self, blob_name: str) -> BlobProperties:
        async with self._request('HEAD', blob_name) as response:
            await _raise_for_status(response)
            return _properties_from_headers(blob_name, response.headers)

    async def exists(self, blob_name: str) -> bool:
        async with self._request('HEAD', blob_name) as response:
            if response.status == 404:
                return False
            await _raise_for_status(response)
            return True

    async def delete(self, blob_name: str) -> None:
        async with self._request('DELETE', blob_name) as response:
            await _raise_for_status(response)

    async def download(self, blob_name: str, chunk_size: int = DOWNLOAD_CHUNK) -> AsyncIterator[bytes]:
        """Stream the blob's bytes; one GET, read as the caller consumes it."""
        async with self._request('GET', blob_name) as response:
            await _raise_for_status(response)
            try:
                async for chunk in response.content.iter_chunked(chunk_size):
                    yield chunk
            except aiohttp.ClientError as error:
                raise TransferError(STORAGE_INTERRUPTED.format(name=blob_name, detail=type(error).__name__)) from None

    async def upload(self, blob_name: str, chunks: AsyncIterator[bytes], metadata: dict[str, str],
                     content_type: str = 'application/octet-stream') -> tuple[int, str]:
        """Upload as staged blocks (a few in flight, each about BLOCK_SIZE), then commit the block list with the
        metadata and the Content-MD5 computed while streaming. Returns (size, base64 Content-MD5)."""
        md5 = hashlib.md5()
        size = 0
        block_ids: list[str] = []
        in_flight: set[asyncio.Task] = set()
        pending: list[bytes] = []   # chunks of the next block: joined once, not grown and sliced
        pending_size = 0
        try:
            async for chunk in chunks:
                md5.update(chunk)
                size += len(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= BLOCK_SIZE:
                    block, pending, pending_size = b''.join(pending), [], 0
                    await self._stage_in_background(blob_name, block, block_ids, in_flight)
                    del block
            if pending or not block_ids:
                await self._stage_in_background(blob_name, b''.join(pending), block_ids, in_flight)
                pending = []
            await _wait_all(in_flight)
        finally:
            for task in in_flight:
                task.cancel()
        content_md5 = base64.b64encode(md5.digest()).decode()
        await self._commit_block_list(blob_name, block_ids, metadata, content_md5, content_type)
        return size, content_md5

    async def list_blobs(self, prefix: str = '') -> list[BlobProperties]:
        blobs: list[BlobProperties] = []
        marker = ''
        while True:
            query = {'restype': 'container', 'comp': 'list', 'include': 'metadata'}
            if prefix:
                query['prefix'] = prefix
            if marker:
                query['marker'] = marker
            async with self._request('GET', None, query) as response:
                await _raise_for_status(response)
                root = ElementTree.fromstring(await response.read())
            blobs.extend(_properties_from_list_entry(entry) for entry in root.iter('Blob'))
            marker = root.findtext('NextMarker') or ''
            if not marker:
                return blobs

    # ---- block upload -----------------------------------------------------------------------------------------

    async def _stage_in_background(self, blob_name: str, block: bytes, block_ids: list[str],
                                   in_flight: set[asyncio.Task]) -> None:
        """Start staging one block, first waiting until fewer than BLOCKS_IN_FLIGHT are being sent (bounds memory
        while keeping the connection busy while the producer reads ahead)."""
        while len(in_flight) >= BLOCKS_IN_FLIGHT:
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                in_flight.discard(task)
                task.result()
        block_id = base64.b64encode('{:010d}'.format(len(block_ids)).encode()).decode()
        block_ids.append(block_id)
        in_flight.add(asyncio.ensure_future(self._put_block(blob_name, block_id, block)))

    async def _put_block(self, blob_name: str, block_id: str, block: bytes) -> None:
        async with self._request('PUT', blob_name, {'comp': 'block', 'blockid': block_id}, body=block) as response:
            await _raise_for_status(response)

    async def _commit_block_list(self, blob_name: str, block_ids: list[str], metadata: dict[str, str],
                                 content_md5: str, content_type: str) -> None:
        body = ('<?xml version="1.0" encoding="utf-8"?><BlockList>'
                + ''.join('<Latest>{}</Latest>'.format(block_id) for block_id in block_ids)
                + '</BlockList>').encode()
        headers = {'x-ms-blob-content-md5': content_md5, 'x-ms-blob-content-type': content_type,
                   'Content-Type': 'application/xml'}
        headers.update(('x-ms-meta-' + key, value) for key, value in metadata.items())
        async with self._request('PUT', blob_name, {'comp': 'blocklist'}, body=body, headers=headers) as response:
            await _raise_for_status(response)

    # ---- requests and authentication --------------------------------------------------------------------------

    def _request(self, method: str, blob_name: Optional[str], query: Optional[dict[str, str]] = None,
                 body: bytes = b'', headers: Optional[dict[str, str]] = None):
        path_url = self.container_url + ('/' + quote(blob_name, safe='/~') if blob_name else '')
        query = dict(query or {})
        headers = dict(headers or {})
        headers['x-ms-version'] = API_VERSION
        headers['x-ms-date'] = formatdate(usegmt=True)
        if method == 'PUT':
            headers['Content-Length'] = str(len(body))
        query_string = '&'.join('{}={}'.format(key, quote(value, safe='')) for key, value in query.items())
        if self._sas_query:
            query_string = '&'.join(part for part in (query_string, self._sas_query) if part)
        else:
            headers['Authorization'] = self._shared_key(method, path_url, query, headers)
        url = path_url + ('?' + query_string if query_string else '')
        logger.debug('%s %s', method, scrub_url(url))
        return _GuardedRequest(self._session.request(method, url, data=body or None, headers=headers,
                                                     skip_auto_headers=('Content-Type',)), url)

    def _shared_key(self, method: str, path_url: str, query: dict[str, str], headers: dict[str, str]) -> str:
        """The Shared Key Authorization header for this request."""
        lowered = {key.lower(): value for key, value in headers.items()}
        content_length = lowered.get('content-length', '')
        standard = [method, lowered.get('content-encoding', ''), lowered.get('content-language', ''),
                    '' if content_length == '0' else content_length, lowered.get('content-md5', ''),
                    lowered.get('content-type', ''), '', lowered.get('if-modified-since', ''),
                    lowered.get('if-match', ''), lowered.get('if-none-match', ''),
                    lowered.get('if-unmodified-since', ''), lowered.get('range', '')]
        canonical_headers = ''.join('{}:{}\n'.format(key, lowered[key].strip())
                                    for key in sorted(lowered) if key.startswith('x-ms-'))
        resource = '/' + self._account_name + urlsplit(path_url).path
        resource += ''.join('\n{}:{}'.format(key.lower(), unquote(value)) for key, value in sorted(query.items()))
        string_to_sign = '\n'.join(standard) + '\n' + canonical_headers + resource
        signature = base64.b64encode(hmac.new(self._account_key, string_to_sign.encode(), hashlib.sha256).digest())
        return 'SharedKey {}:{}'.format(self._account_name, signature.decode())


class _GuardedRequest:
    """Wraps a request context so that connection failures become TransferError with a scrubbed URL."""

    def __init__(self, request_context, url: str):
        self._context = request_context
        self._url = url

    async def __aenter__(self) -> aiohttp.ClientResponse:
        try:
            return await self._context.__aenter__()
        except aiohttp.ClientError as error:
            raise TransferError(STORAGE_UNREACHABLE.format(url=scrub_url(self._url).split('?')[0],
                                                           detail=type(error).__name__)) from None

    async def __aexit__(self, *exc_info):
        return await self._context.__aexit__(*exc_info)


async def _wait_all(tasks: set[asyncio.Task]) -> None:
    while tasks:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            tasks.discard(task)
            task.result()


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status < 300:
        return
    code = response.headers.get('x-ms-error-code', '')
    detail = response.reason or ''
    if response.method != 'HEAD':
        try:
            root = ElementTree.fromstring(await response.read())
            code = root.findtext('Code') or code
            detail = (root.findtext('Message') or detail).splitlines()[0]
        except ElementTree.ParseError:
            pass
    raise TransferError(STORAGE_FAILED.format(status=response.status, code=code or 'Unknown', detail=detail))


def _account_from_url(container_url: str) -> str:
    parts = urlsplit(container_url)
    host = parts.hostname or ''
    if '.blob.' in host:
        return host.split('.', 1)[0]
    return parts.path.strip('/').split('/', 1)[0]   # Azurite path-style: /<account>/<container>


def _properties_from_headers(name: str, headers) -> BlobProperties:
    metadata = {key[len('x-ms-meta-'):]: value for key, value in headers.items()
                if key.lower().startswith('x-ms-meta-')}
    return BlobProperties(name=name, size=int(headers.get('Content-Length', '0')), metadata=metadata,
                          content_md5=headers.get('Content-MD5'), last_modified=headers.get('Last-Modified'))


def _properties_from_list_entry(entry: ElementTree.Element) -> BlobProperties:
    properties = entry.find('Properties')
    metadata_element = entry.find('Metadata')
    metadata = {child.tag: child.text or '' for child in metadata_element} if metadata_element is not None else {}
    return BlobProperties(name=entry.findtext('Name') or '',
                          size=int(properties.findtext('Content-Length') or 0) if properties is not None else 0,
                          metadata=metadata,
                          content_md5=(properties.findtext('Content-MD5') or None) if properties is not None else None,
                          last_modified=properties.findtext('Last-Modified') if properties is not None else None)
