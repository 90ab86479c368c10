"""The ACR-compatible front of one sandbox registry: what ``az acr login``, ``az acr repository ...`` and docker-style
clients expect from ``<registry>.azurecr.io``, in front of a plain CNCF distribution registry.

- ``POST /oauth2/exchange``: an ARM (AAD) access token the sandbox issued -> an ACR refresh token;
- ``GET|POST /oauth2/token``: a refresh token (or, with the empty-GUID user name, a refresh token as password)
  plus scopes -> an access token listing the granted repository actions;
- ``GET /acr/v1/_catalog``, ``/acr/v1/{repository}``, ``/acr/v1/{repository}/_tags[/{tag}]`` and
  ``/acr/v1/{repository}/_manifests[/{reference}]``: ACR's metadata API;
- ``GET /v2/{repository}/referrers/{digest}[?artifactType=...]``: the OCI 1.1 referrers API, as ACR serves it,
  computed from the repository's stored manifests (``transfer/referrers.py``); distribution 2.8 has none.
  ``ACRSANDBOX_REFERRERS_API=off`` makes it answer 404, as a registry without the API does (the extension then falls
  back to the referrers tag schema and cosign's tags);
- ``/v2/...``: a streaming proxy to the upstream registry, behind a Bearer challenge.

Tokens are HS256 JWTs signed with a key that lives as long as the app (a restart logs every client out, as an
expired token would). The registry does not record tag times; the front reports the time it first saw a tag point
at its digest (or the time a push through the front set it).
"""
import base64
import binascii
import json
import re
import secrets
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from . import bodies
from .http_common import PATH_NOT_NORMALISED, normalised_paths_middleware
from ..plumbing.config import referrers_api_enabled
from ..plumbing.tokens import TokenSigner
from ..transfer import referrers
from ..transfer.registry import MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, Manifest, media_type_of, sha256_digest

# Manifests by digest never change: the referrers API reads each one once, keeping the small ones (bounded memory).
MANIFEST_CACHE_ENTRIES = 10000
MANIFEST_CACHE_MAX_BYTES = 64 * 1024
EMPTY_GUID = '00000000-0000-0000-0000-000000000000'
REFRESH_TOKEN_SECONDS = 3 * 3600
ACCESS_TOKEN_SECONDS = 75 * 60
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ORDERINGS = ('timedesc', 'timeasc')
ACTIONS_FOR_METHOD = {'GET': {'pull', 'metadata_read', '*'}, 'HEAD': {'pull', 'metadata_read', '*'},
                      'PUT': {'push', '*'}, 'POST': {'push', '*'}, 'PATCH': {'push', '*'},
                      'DELETE': {'delete', '*'}}
TOKEN_ISSUER = 'Azure Container Registry'

AUTHENTICATION_REQUIRED = 'authentication required'
INSUFFICIENT_SCOPE = 'insufficient scope for this operation'
INVALID_AAD_TOKEN = 'the access token is invalid or expired'
INVALID_REFRESH_TOKEN = 'the refresh token is invalid or expired'
UNSUPPORTED_GRANT = "unsupported grant_type '{}'"
WRONG_SERVICE = "the service '{}' is not this registry ('{}')"
REPOSITORY_UNKNOWN = 'repository name not known to registry'
TAG_UNKNOWN = 'tag not known to repository'
MANIFEST_UNKNOWN = 'manifest unknown'
UPSTREAM_UNREACHABLE = 'the registry is unavailable'
INVALID_FORM = 'the request body must be an application/x-www-form-urlencoded form'
NAME_INVALID = 'invalid repository name'
DIGEST_INVALID = 'invalid digest: expected sha256:<64 hex digits>'
REFERRERS_API_OFF = 'this registry does not serve the referrers API (ACRSANDBOX_REFERRERS_API=off)'
_SHA256_DIGEST = re.compile(r'^sha256:[0-9a-f]{64}$')

# The distribution spec's grammar: repository names, tags, digests and upload ids. The front authorizes a /v2/ path
# only when it parses into exactly one repository, the one distribution will act on (routes anchored at the end).
_COMPONENT = r'[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*'
REPOSITORY_NAME = re.compile(r'^{0}(?:/{0})*$'.format(_COMPONENT))
_NAME = r'(?P<name>{0}(?:/{0})*)'.format(_COMPONENT)
_DIGEST = r'[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
_REFERENCE = r'(?:[\w][\w.-]{0,127}|%s)' % _DIGEST
V2_ROUTES = [re.compile('^{}{}$'.format(_NAME, tail)) for tail in (
    '/tags/list', '/manifests/' + _REFERENCE, '/blobs/' + _DIGEST, '/blobs/uploads/?',
    '/blobs/uploads/[A-Za-z0-9_.=-]+', '/referrers/' + _DIGEST)]

# Hop-by-hop and framing headers the proxy must not copy from one connection to the other.
_NOT_FORWARDED = {'host', 'authorization', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer',
                  'upgrade', 'proxy-authorization', 'proxy-authenticate', 'content-length'}

AadTokenVerifier = Callable[[str], Optional[dict]]


def make_registry_front_app(
        upstream_url: str, registry_name: str, login_server: str, verify_aad_token: AadTokenVerifier,
        storage_root: Optional[Path] = None,
        referrers_api: Optional[bool] = None) -> web.Application:
    """`storage_root`: the backend's filesystem storage, where the front finds untagged manifests (see
    `stored_manifest_digests`); without it only the manifests tags reach are listed. `referrers_api`: whether the
    referrers API is served (default: ACRSANDBOX_REFERRERS_API is not `off`)."""
    front = _RegistryFront(upstream_url.rstrip('/'), registry_name, login_server, verify_aad_token, storage_root)
    front.referrers_api = referrers_api_enabled() if referrers_api is None else referrers_api
    # Before any route or authorization, a path that is not normalised is refused, never resolved. (A guess at ACR's
    # answer: distribution's 400 NAME_INVALID.)
    app = web.Application(client_max_size=1024 ** 2, middlewares=[normalised_paths_middleware(
        lambda: _error(400, 'NAME_INVALID', PATH_NOT_NORMALISED))])
    app.cleanup_ctx.append(front.upstream_session)
    app.router.add_post('/oauth2/exchange', front.exchange)
    app.router.add_route('GET', '/oauth2/token', front.token)
    app.router.add_route('POST', '/oauth2/token', front.token)
    app.router.add_get('/acr/v1/_catalog', front.catalog)
    app.router.add_get(r'/acr/v1/{repository:.+}/_tags/{tag}', front.tag)
    app.router.add_get(r'/acr/v1/{repository:.+}/_tags', front.tags)
    app.router.add_get(r'/acr/v1/{repository:.+}/_manifests/{reference}', front.manifest)
    app.router.add_get(r'/acr/v1/{repository:.+}/_manifests', front.manifests)
    app.router.add_get(r'/acr/v1/{repository:.+}', front.repository)   # last: it matches any deeper path too
    app.router.add_get(r'/v2/{path:.+/referrers/[^/]+}', front.referrers)   # before the proxy, which matches it too
    app.router.add_route('*', '/v2', front.proxy)
    app.router.add_route('*', r'/v2/{path:.*}', front.proxy)
    return app


def stored_manifest_digests(storage_root: Optional[Path], repository: str) -> dict[str, float]:
    """{digest: time stored} of every manifest in the repository, untagged ones included.

    distribution's API lists tags only; its filesystem storage keeps one revision link per manifest
    (`<root>/docker/registry/v2/repositories/<repo>/_manifests/revisions/sha256/<hex>/link`), removed when the
    manifest is deleted."""
    if storage_root is None or '..' in repository.split('/'):
        return {}
    revisions = Path(storage_root, 'docker', 'registry', 'v2', 'repositories', *repository.split('/'),
                     '_manifests', 'revisions', 'sha256')
    try:
        links = [entry / 'link' for entry in revisions.iterdir()]
    except OSError:
        return {}
    return {'sha256:' + link.parent.name: link.stat().st_mtime for link in links if link.is_file()}


def _error(status: int, code: str, message: str, detail=None, headers: Optional[dict] = None) -> web.Response:
    body = {'errors': [{'code': code, 'message': message, 'detail': detail}]}
    return web.json_response(body, status=status, headers=headers)


def _parse_scope(scope: str) -> Optional[dict]:
    """``repository:<name>:<a,b>`` (or ``registry:catalog:*``) -> an access entry."""
    kind, _, rest = scope.partition(':')
    name, _, actions = rest.rpartition(':')
    if not kind or not name or not actions:
        return None
    return {'type': kind, 'name': name, 'actions': actions.split(',')}


def _isoformat(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class _RegistryFront:  # pylint: disable=too-many-instance-attributes
    def __init__(self, upstream_url: str, registry_name: str, login_server: str,
                 verify_aad_token: AadTokenVerifier, storage_root: Optional[Path] = None):
        self.upstream_url = upstream_url
        self.registry_name = registry_name
        self.login_server = login_server
        self.verify_aad_token = verify_aad_token
        # Its own key, living as long as the app: a restart logs every client out, as an expired token would.
        self.signer = TokenSigner(secrets.token_bytes(32))
        self.storage_root = storage_root
        self.session: Optional[aiohttp.ClientSession] = None
        # (repository, tag) -> (digest, created, last updated), as this front observed them
        self.tag_times: dict[tuple[str, str], tuple[str, float, float]] = {}
        self.referrers_api = True
        self.manifest_cache: dict[tuple[str, str], Manifest] = {}

    async def upstream_session(self, _app: web.Application):
        self.session = aiohttp.ClientSession(auto_decompress=False,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        yield
        await self.session.close()

    # ---- tokens -------------------------------------------------------------------------------------------------

    def _challenge(self, scope: Optional[str] = None, error: Optional[str] = None) -> dict:
        value = 'Bearer realm="https://{0}/oauth2/token",service="{0}"'.format(self.login_server)
        if scope:
            value += ',scope="{}"'.format(scope)
        if error:
            value += ',error="{}"'.format(error)
        return {'WWW-Authenticate': value, 'Docker-Distribution-Api-Version': 'registry/2.0'}

    def _unauthorized(self, message: str = AUTHENTICATION_REQUIRED, scope: Optional[str] = None) -> web.Response:
        error = 'insufficient_scope' if scope else None
        return _error(401, 'UNAUTHORIZED', message, headers=self._challenge(scope, error))

    def _service_matches(self, service: Optional[str]) -> bool:
        return not service or service.lower() == self.login_server.lower()

    async def exchange(self, request: web.Request) -> web.Response:
        form = await bodies.read_form(request)
        if form is None:
            return _error(400, 'INVALID_REQUEST', INVALID_FORM)
        grant_type = form.get('grant_type', '')
        if grant_type not in ('access_token', 'access_token_refresh_token'):
            return _error(400, 'UNSUPPORTED_GRANT_TYPE', UNSUPPORTED_GRANT.format(grant_type))
        if not self._service_matches(form.get('service')):
            return _error(400, 'INVALID_SERVICE', WRONG_SERVICE.format(form.get('service'), self.login_server))
        claims = self.verify_aad_token(form.get('access_token', '')) if form.get('access_token') else None
        if not claims:
            return _error(401, 'UNAUTHORIZED', INVALID_AAD_TOKEN)
        now = int(time.time())
        refresh_token = self.signer.sign({
            'jti': str(uuid.uuid4()), 'sub': claims.get('oid') or claims.get('sub') or claims.get('appid', ''),
            'tenant': form.get('tenant') or claims.get('tid', ''), 'aud': self.login_server, 'iss': TOKEN_ISSUER,
            'nbf': now, 'iat': now, 'exp': now + REFRESH_TOKEN_SECONDS, 'grant_type': 'refresh_token'})
        return web.json_response({'refresh_token': refresh_token})

    async def token(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        scopes = request.query.getall('scope', [])
        if request.method == 'POST':
            form = await bodies.read_form(request)
            if form is None:
                return _error(400, 'INVALID_REQUEST', INVALID_FORM)
            params.update(form.items())
            scopes += form.getall('scope', [])
        if not self._service_matches(params.get('service')):
            return _error(400, 'INVALID_SERVICE', WRONG_SERVICE.format(params.get('service'), self.login_server))
        refresh_claims = self._refresh_claims(request, params)
        if refresh_claims is None:
            return _error(401, 'UNAUTHORIZED', INVALID_REFRESH_TOKEN)
        access = [entry for scope in scopes for part in scope.split(' ') if (entry := _parse_scope(part))]
        now = int(time.time())
        access_token = self.signer.sign({
            'jti': str(uuid.uuid4()), 'sub': refresh_claims.get('sub', ''), 'aud': self.login_server,
            'iss': TOKEN_ISSUER, 'nbf': now, 'iat': now, 'exp': now + ACCESS_TOKEN_SECONDS,
            'access': access, 'grant_type': 'access_token'})
        return web.json_response({'access_token': access_token})

    def _refresh_claims(self, request: web.Request, params: dict) -> Optional[dict]:
        """A refresh token given as refresh_token grant, as password grant, or as Basic auth password (the
        docker login flow, user name ``00000000-0000-0000-0000-000000000000``)."""
        grant_type = params.get('grant_type', '')
        if grant_type == 'refresh_token':
            return self._token_claims(params.get('refresh_token', ''), 'refresh_token')
        if grant_type == 'password':
            return self._token_claims(params.get('password', ''), 'refresh_token')
        authorization = request.headers.get('Authorization', '')
        if authorization.lower().startswith('basic '):
            try:
                _, _, password = base64.b64decode(authorization[6:]).decode().partition(':')
            except (binascii.Error, UnicodeDecodeError):
                return None
            return self._token_claims(password, 'refresh_token')
        return None

    def _token_claims(self, token: str, kind: str) -> Optional[dict]:
        """The claims of a token this front issued, of the given kind and not expired; else None."""
        claims = self.signer.claims_of(token)
        if not claims or claims.get('grant_type') != kind or claims.get('exp', 0) < time.time():
            return None
        return claims

    def _access_claims(self, request: web.Request) -> Optional[dict]:
        authorization = request.headers.get('Authorization', '')
        if not authorization.lower().startswith('bearer '):
            return None
        return self._token_claims(authorization[7:].strip(), 'access_token')

    @staticmethod
    def _allows(claims: dict, kind: str, name: str, wanted: set[str]) -> bool:
        for entry in claims.get('access', []):
            granted = set(entry.get('actions', []))
            if entry.get('type') == kind and entry.get('name') in (name, '*') and wanted & granted:
                return True
        return False

    def _authorize(self, request: web.Request, kind: str, name: str, wanted: set[str],
                   challenge_action: str) -> Optional[web.Response]:
        """None if the request's access token grants one of ``wanted`` on the resource, else the 401 to send."""
        if kind == 'repository' and not REPOSITORY_NAME.match(name):
            return _error(400, 'NAME_INVALID', NAME_INVALID, {'name': name})
        claims = self._access_claims(request)
        if claims is None:
            return self._unauthorized()
        if not self._allows(claims, kind, name, wanted):
            return self._unauthorized(INSUFFICIENT_SCOPE, '{}:{}:{}'.format(kind, name, challenge_action))
        return None

    # ---- ACR metadata API -----------------------------------------------------------------------------------

    async def catalog(self, request: web.Request) -> web.StreamResponse:
        denied = self._authorize(request, 'registry', 'catalog', {'*'}, '*')
        if denied:
            return denied
        size = _page_size(request)
        query = {'n': str(size)}
        if request.query.get('last'):
            query['last'] = request.query['last']
        async with self.session.get(self.upstream_url + '/v2/_catalog', params=query) as upstream:
            if upstream.status != 200:
                return _error(upstream.status, 'UNKNOWN', UPSTREAM_UNREACHABLE)
            repositories = (await upstream.json()).get('repositories') or []
        response = web.json_response({'repositories': repositories})
        if len(repositories) == size:
            response.headers['Link'] = '</acr/v1/_catalog?last={}&n={}>; rel="next"'.format(
                quote(repositories[-1], safe=''), size)
        return response

    async def tags(self, request: web.Request) -> web.StreamResponse:
        return await self._listing(request, 'tags', 'name', self._tag_attributes)

    async def manifests(self, request: web.Request) -> web.StreamResponse:
        return await self._listing(request, 'manifests', 'digest', self._manifest_attributes)

    async def _listing(self, request: web.Request, kind: str, key: str, collect) -> web.StreamResponse:
        """One page of ``/acr/v1/{repository}/_tags`` or ``_manifests``: ordered by ``key``, or by time with
        ``orderby``; ``n`` and ``last`` page it, and a Link header names the next page as az follows it."""
        repository = request.match_info['repository']
        denied = self._authorize(request, 'repository', repository, {'metadata_read', 'pull', '*'}, 'metadata_read')
        if denied:
            return denied
        items = await collect(repository)
        if items is None:
            return _error(404, 'NAME_UNKNOWN', REPOSITORY_UNKNOWN, {'name': repository})
        ordering = request.query.get('orderby', '')
        if ordering in ORDERINGS:
            items.sort(key=lambda item: (item['lastUpdateTime'], item[key]), reverse=ordering == 'timedesc')
        last = request.query.get('last')
        if last:
            keys = [item[key] for item in items]
            items = items[keys.index(last) + 1:] if last in keys else [item for item in items if item[key] > last]
        size = _page_size(request)
        page = items[:size]
        response = web.json_response({'registry': self.login_server, 'imageName': repository, kind: page})
        if len(items) > size:
            response.headers['Link'] = '</acr/v1/{}/_{}?last={}&n={}&orderby={}>; rel="next"'.format(
                repository, kind, quote(page[-1][key], safe=''), size, ordering)
        return response

    async def manifest(self, request: web.Request) -> web.StreamResponse:
        repository, reference = request.match_info['repository'], request.match_info['reference']
        denied = self._authorize(request, 'repository', repository, {'metadata_read', 'pull', '*'}, 'metadata_read')
        if denied:
            return denied
        manifests = await self._manifest_attributes(repository)
        if manifests is None:
            return _error(404, 'NAME_UNKNOWN', REPOSITORY_UNKNOWN, {'name': repository})
        match = [item for item in manifests if reference in (item['digest'], *item['tags'])]
        if not match and reference.startswith('sha256:'):
            # An untagged manifest, as ACR shows it: the backend serves it by digest.
            now = _isoformat(time.time())
            found: dict[str, dict] = {}
            await self._describe_manifest(repository, reference, [], now, now, found)
            match = [found[reference]] if reference in found else []
        if not match:
            return _error(404, 'MANIFEST_UNKNOWN', MANIFEST_UNKNOWN, {'name': repository, 'reference': reference})
        return web.json_response({'registry': self.login_server, 'imageName': repository, 'manifest': match[0]})

    async def repository(self, request: web.Request) -> web.StreamResponse:
        repository = request.match_info['repository']
        denied = self._authorize(request, 'repository', repository, {'metadata_read', 'pull', '*'}, 'metadata_read')
        if denied:
            return denied
        manifests = await self._manifest_attributes(repository)
        if manifests is None:
            return _error(404, 'NAME_UNKNOWN', REPOSITORY_UNKNOWN, {'name': repository})
        times = [item['createdTime'] for item in manifests] or [_isoformat(time.time())]
        updates = [item['lastUpdateTime'] for item in manifests] or times
        return web.json_response({
            'registry': self.login_server, 'imageName': repository, 'createdTime': min(times),
            'lastUpdateTime': max(updates), 'manifestCount': len(manifests),
            'tagCount': sum(len(item['tags']) for item in manifests), 'changeableAttributes': _changeable()})

    async def tag(self, request: web.Request) -> web.StreamResponse:
        repository, name = request.match_info['repository'], request.match_info['tag']
        denied = self._authorize(request, 'repository', repository, {'metadata_read', 'pull', '*'}, 'metadata_read')
        if denied:
            return denied
        attributes = await self._tag_attributes(repository)
        if attributes is None:
            return _error(404, 'NAME_UNKNOWN', REPOSITORY_UNKNOWN, {'name': repository})
        match = [tag for tag in attributes if tag['name'] == name]
        if not match:
            return _error(404, 'TAG_UNKNOWN', TAG_UNKNOWN, {'name': repository, 'tag': name})
        return web.json_response({'registry': self.login_server, 'imageName': repository, 'tag': match[0]})

    async def _tag_attributes(self, repository: str) -> Optional[list[dict]]:
        """ACR's tag attributes for every tag of the repository, sorted by name; None if it does not exist."""
        names = await self._upstream_tags(repository)
        if names is None:
            # distribution says NAME_UNKNOWN for a repository without tags; one holding only untagged
            # manifests exists for ACR all the same.
            return [] if stored_manifest_digests(self.storage_root, repository) else None
        attributes = []
        for name in sorted(names):
            digest = await self._upstream_digest(repository, name)
            if digest:
                attributes.append(self._attributes_of(repository, name, digest))
        return attributes

    def _attributes_of(self, repository: str, name: str, digest: str) -> dict:
        now = time.time()
        known_digest, created, updated = self.tag_times.get((repository, name), (None, now, now))
        if known_digest != digest:
            updated = now
            self.tag_times[(repository, name)] = (digest, created, updated)
        return {'name': name, 'digest': digest, 'createdTime': _isoformat(created),
                'lastUpdateTime': _isoformat(updated), 'signed': False,
                'changeableAttributes': _changeable()}

    async def _manifest_attributes(self, repository: str) -> Optional[list[dict]]:
        """ACR's manifest attributes for every manifest of the repository, tagged or not (an index's children
        are listed with it), sorted by digest."""
        tags = await self._tag_attributes(repository)
        if tags is None:
            return None
        tagged: dict[str, list[dict]] = {}
        for tag in tags:
            tagged.setdefault(tag['digest'], []).append(tag)
        manifests: dict[str, dict] = {}
        for digest, its_tags in tagged.items():
            created = min(tag['createdTime'] for tag in its_tags)
            updated = max(tag['lastUpdateTime'] for tag in its_tags)
            await self._describe_manifest(repository, digest, [tag['name'] for tag in its_tags], created, updated,
                                          manifests)
        for digest, stored in stored_manifest_digests(self.storage_root, repository).items():
            if digest not in manifests:
                await self._describe_manifest(repository, digest, [], _isoformat(stored), _isoformat(stored),
                                              manifests)
        return sorted(manifests.values(), key=lambda item: item['digest'])

    async def _describe_manifest(self, repository: str, digest: str, tags: list[str], created: str, updated: str,
                                 found: dict[str, dict], platform: Optional[dict] = None) -> None:
        if digest in found:
            found[digest]['tags'] = sorted(set(found[digest]['tags']) | set(tags))
            return
        url = '{}/v2/{}/manifests/{}'.format(self.upstream_url, repository, digest)
        async with self.session.get(url, headers={'Accept': MANIFEST_ACCEPT}) as upstream:
            if upstream.status != 200:
                return
            media_type = upstream.headers.get('Content-Type', '').split(';')[0]
            content = json.loads(await upstream.read())
        item = {'digest': digest, 'imageSize': 0, 'createdTime': created, 'lastUpdateTime': updated,
                'mediaType': content.get('mediaType') or media_type, 'tags': sorted(tags),
                'changeableAttributes': _changeable()}
        found[digest] = item
        if 'manifests' in content:
            item['references'] = [{'digest': child['digest'], **(child.get('platform') or {})}
                                  for child in content['manifests']]
            for child in content['manifests']:
                await self._describe_manifest(repository, child['digest'], [], created, updated, found,
                                              child.get('platform'))
            item['imageSize'] = sum(found[child['digest']]['imageSize'] for child in content['manifests']
                                    if child['digest'] in found)
            return
        config = content.get('config') or {}
        item['configMediaType'] = config.get('mediaType', '')
        item['imageSize'] = config.get('size', 0) + sum(layer.get('size', 0) for layer in content.get('layers', []))
        item.update(platform or await self._platform_of(repository, config.get('digest')))

    async def _platform_of(self, repository: str, config_digest: Optional[str]) -> dict:
        if not config_digest:
            return {}
        url = '{}/v2/{}/blobs/{}'.format(self.upstream_url, repository, config_digest)
        async with self.session.get(url) as upstream:
            if upstream.status != 200 or (upstream.content_length or 0) > 1024 ** 2:
                return {}
            try:
                config = json.loads(await upstream.read())
            except ValueError:
                return {}
        return {key: config[key] for key in ('architecture', 'os') if isinstance(config.get(key), str)}

    async def _upstream_tags(self, repository: str) -> Optional[list[str]]:
        names: list[str] = []
        url: Optional[str] = '{}/v2/{}/tags/list?n={}'.format(self.upstream_url, repository, MAX_PAGE_SIZE)
        while url:
            async with self.session.get(url) as upstream:
                if upstream.status == 404:
                    return None
                if upstream.status != 200:
                    raise web.HTTPBadGateway(text=UPSTREAM_UNREACHABLE)
                names.extend((await upstream.json()).get('tags') or [])
                link = upstream.headers.get('Link', '')
                url = self.upstream_url + link[link.index('<') + 1:link.index('>')] if 'rel="next"' in link else None
        return names

    async def _upstream_digest(self, repository: str, tag: str) -> Optional[str]:
        url = '{}/v2/{}/manifests/{}'.format(self.upstream_url, repository, tag)
        async with self.session.head(url, headers={'Accept': MANIFEST_ACCEPT}) as upstream:
            return upstream.headers.get('Docker-Content-Digest') if upstream.status == 200 else None

    # ---- the referrers API ----------------------------------------------------------------------------------------

    async def referrers(self, request: web.Request) -> web.StreamResponse:
        denied = self._authorize_v2(request)
        if denied:
            return denied
        if not self.referrers_api:
            return _error(404, 'NOT_FOUND', REFERRERS_API_OFF)
        repository, _, digest = request.match_info['path'].rpartition('/referrers/')
        if not _SHA256_DIGEST.match(digest):
            return _error(400, 'DIGEST_INVALID', DIGEST_INVALID, {'digest': digest})
        try:
            digests = await self._repository_manifest_digests(repository)
            if digests is None:
                return _error(404, 'NAME_UNKNOWN', REPOSITORY_UNKNOWN, {'name': repository})
            manifests = [manifest for manifest in [await self._stored_manifest(repository, item) for item in digests]
                         if manifest is not None]
        except aiohttp.ClientConnectionError:
            return _error(502, 'UNAVAILABLE', UPSTREAM_UNREACHABLE)
        index, filtered = referrers.referrers_index(manifests, digest, request.query.get('artifactType'))
        headers = {referrers.FILTER_HEADER: referrers.FILTER_ARTIFACT_TYPE} if filtered else {}
        return web.json_response(index, content_type=referrers.OCI_INDEX, headers=headers)

    async def _repository_manifest_digests(self, repository: str) -> Optional[list[str]]:
        """Every manifest digest of the repository (tagged or not), sorted; None if the repository does not exist."""
        names = await self._upstream_tags(repository)
        stored = stored_manifest_digests(self.storage_root, repository)
        if names is None and not stored:
            return None
        tagged = [await self._upstream_digest(repository, name) for name in names or []]
        return sorted(set(stored) | {digest for digest in tagged if digest})

    async def _stored_manifest(self, repository: str, digest: str) -> Optional[Manifest]:
        """A manifest by digest from the backend (None when it is gone or too large), cached: its bytes never
        change."""
        cached = self.manifest_cache.get((repository, digest))
        if cached is not None:
            return cached
        url = '{}/v2/{}/manifests/{}'.format(self.upstream_url, repository, digest)
        async with self.session.get(url, headers={'Accept': MANIFEST_ACCEPT}) as upstream:
            if upstream.status != 200 or (upstream.content_length or 0) > MAX_MANIFEST_BYTES:
                return None
            content = await upstream.read()
        if len(content) > MAX_MANIFEST_BYTES or sha256_digest(content) != digest:
            return None
        try:
            media_type = upstream.headers.get('Content-Type', '').split(';')[0].strip() or media_type_of(content)
        except ValueError:
            return None   # not JSON: not a manifest the referrers API could list
        manifest = Manifest(media_type, digest, content)
        if len(self.manifest_cache) < MANIFEST_CACHE_ENTRIES and len(content) <= MANIFEST_CACHE_MAX_BYTES:
            self.manifest_cache[(repository, digest)] = manifest
        return manifest

    # ---- /v2/ proxy ---------------------------------------------------------------------------------------------

    def _authorize_v2(self, request: web.Request) -> Optional[web.Response]:
        path = request.match_info.get('path', '')
        if not path:
            return None if self._access_claims(request) else self._unauthorized()
        if path == '_catalog':
            return self._authorize(request, 'registry', 'catalog', {'*'}, '*')
        repository = repository_of(path)
        if repository is None:
            # Without a token, every path is a 401 (as for any other route); with one, an unknown path is a 404.
            if self._access_claims(request) is None:
                return self._unauthorized()
            return _error(404, 'NAME_UNKNOWN', REPOSITORY_UNKNOWN)
        wanted = ACTIONS_FOR_METHOD.get(request.method, {'*'})
        if request.method in ('GET', 'HEAD'):
            action = 'pull'
        else:
            action = 'delete' if request.method == 'DELETE' else 'pull,push'
        return self._authorize(request, 'repository', repository, wanted, action)

    async def proxy(self, request: web.Request) -> web.StreamResponse:
        denied = self._authorize_v2(request)
        if denied:
            return denied
        # a multidict: clients send Accept once per media type, and every one of them matters
        headers = CIMultiDict((key, value) for key, value in request.headers.items()
                              if key.lower() not in _NOT_FORWARDED)
        headers['X-Forwarded-Proto'] = 'https'
        headers['X-Forwarded-Host'] = self.login_server
        body = request.content if request.body_exists else None
        if request.body_exists and request.content_length is not None:
            headers['Content-Length'] = str(request.content_length)
        # Exactly the path that was authorized (normalised and parsed above), with the query as the client sent it.
        path = request.match_info.get('path')
        url = URL('{}/v2{}{}'.format(self.upstream_url, '' if path is None else '/' + path,
                                     '?' + request.rel_url.raw_query_string if request.rel_url.raw_query_string
                                     else ''), encoded=True)
        try:
            async with self.session.request(request.method, url, headers=headers, data=body,
                                            allow_redirects=False) as upstream:
                self._note_manifest_push(request, upstream)
                return await self._relay(request, upstream)
        except aiohttp.ClientConnectionError:
            return _error(502, 'UNAVAILABLE', UPSTREAM_UNREACHABLE)

    async def _relay(self, request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() in _NOT_FORWARDED:
                continue
            if key.lower() == 'location':
                value = self._front_location(value)
            response.headers.add(key, value)
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        if request.method != 'HEAD':
            async for chunk in upstream.content.iter_chunked(256 * 1024):
                await response.write(chunk)
        await response.write_eof()
        return response

    def _front_location(self, location: str) -> str:
        """Location headers point at the front, whatever URL the upstream thinks it has."""
        if location.startswith(self.upstream_url):
            return 'https://{}{}'.format(self.login_server, location[len(self.upstream_url):])
        return location

    def _note_manifest_push(self, request: web.Request, upstream: aiohttp.ClientResponse) -> None:
        path = request.match_info.get('path', '')
        if request.method != 'PUT' or upstream.status != 201 or '/manifests/' not in path:
            return
        repository, _, reference = path.rpartition('/manifests/')
        digest = upstream.headers.get('Docker-Content-Digest')
        if digest and not reference.startswith('sha256:'):
            now = time.time()
            _, created, _ = self.tag_times.get((repository, reference), (None, now, now))
            self.tag_times[(repository, reference)] = (digest, created, now)


def _changeable() -> dict:
    return {'deleteEnabled': True, 'writeEnabled': True, 'readEnabled': True, 'listEnabled': True}


def repository_of(path: str) -> Optional[str]:
    """The repository a distribution API path acts on (``<name>/manifests/<reference>``, ``<name>/blobs/...``,
    ``<name>/tags/list``, ``<name>/referrers/<digest>``); None when it is no such path or could name two."""
    names = {match.group('name') for route in V2_ROUTES for match in [route.match(path)] if match}
    return names.pop() if len(names) == 1 else None


def _page_size(request: web.Request) -> int:
    try:
        size = int(request.query.get('n', DEFAULT_PAGE_SIZE))
    except ValueError:
        size = DEFAULT_PAGE_SIZE
    return max(1, min(size, MAX_PAGE_SIZE))
