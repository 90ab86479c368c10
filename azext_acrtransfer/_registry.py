# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The registry's data plane, as far as the extension needs it: does a manifest exist and what is its digest,
which tags does a repository have, which referrers does a manifest have (all reads, with pull or metadata_read).

Authentication is ACR's own: az's ARM token for the current cloud and subscription is exchanged at
``https://<loginServer>/oauth2/exchange`` for a refresh token, which buys an access token per scope at
``/oauth2/token`` (the flow `az acr login` uses). Requests go through `requests` as az's acr commands send
them, so REQUESTS_CA_BUNDLE, proxies and AZURE_CLI_DISABLE_CONNECTION_VERIFICATION apply the same way.
"""

import hashlib
import threading
import time
from urllib.parse import quote, urljoin

from azure.cli.core.azclierror import (
    AzureConnectionError,
    AzureResponseError,
    ResourceNotFoundError,
    UnauthorizedError,
)
from knack.log import get_logger

logger = get_logger(__name__)

MANIFEST_MEDIA_TYPES = ', '.join((
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.v1+prettyjws',
))
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
TAG_PAGE_SIZE = 100
MAX_REFERRER_PAGES = 20  # Link pages of one referrers answer: far more than the 50 a run can carry
# Answers that mean "this registry has no referrers API" (OCI 1.1: a registry without it answers 404; some
# proxies and older registries say 400, 405 or 501). ACR serves it.
NO_REFERRERS_API = (400, 404, 405, 501)
TIMEOUT = (10, 60)  # seconds: connect, read
ATTEMPTS = 4
CONNECT_ATTEMPTS = 2  # DNS and refused connections rarely heal within seconds; resets mid-request often do
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRY_AFTER = 30  # seconds: a longer Retry-After is not worth holding a command for

NO_LOGIN_SERVER = "ARM's answer for registry '{registry}' has no properties.loginServer."
REGISTRY_NOT_FOUND = "Registry '{registry}' was not found in resource group '{group}'."
UNREACHABLE = ("Cannot reach registry '{login_server}' from here ({reason}). Check the name, DNS, the network path "
               "(private endpoint, firewall, proxy) and, for a private CA, REQUESTS_CA_BUNDLE.")
EXCHANGE_REFUSED = ("Registry '{login_server}' refused az's token at /oauth2/exchange (HTTP {status}): log in again "
                    "with `az login`, and check that the registry belongs to the current cloud and tenant.")
TOKEN_REFUSED = ("Registry '{login_server}' refused an access token for '{scope}' (HTTP {status}): your identity "
                 "needs a role with pull/read access on the registry, e.g. AcrPull.")
ACCESS_DENIED = ("Registry '{login_server}' denied {what} (HTTP {status}): your identity needs a role with "
                 "pull/read access on the registry, e.g. AcrPull.")
REQUEST_FAILED = "Registry '{login_server}' answered {what} with HTTP {status}{detail}."
NO_ANSWER = "Registry '{login_server}' did not answer {what} within {seconds} seconds."
NOT_JSON = "Registry '{login_server}' answered {what} with a body that is not JSON."
NO_TOKEN_FIELD = "Registry '{login_server}' answered {what} without '{field}'."
REPOSITORY_NOT_FOUND = "Repository '{repository}' was not found in registry '{login_server}'."


class RegistryUnreachable(AzureConnectionError):
    """The registry cannot be reached from here (DNS, connect, TLS): callers that only check may skip."""


def registry_document(cmd, resource_group, registry):
    """The registry's ARM resource as JSON (the client's api-version covers registries too)."""
    from azure.core.exceptions import ResourceNotFoundError as HttpNotFound
    from ._client_factory import cf_acrtransfer
    from ._wire import registry_path
    client = cf_acrtransfer(cmd.cli_ctx)
    try:
        response = client.send('GET', registry_path(client.subscription_id, resource_group, registry))
    except HttpNotFound:
        raise ResourceNotFoundError(REGISTRY_NOT_FOUND.format(registry=registry, group=resource_group)) from None
    try:
        document = response.http_response.json()
    except ValueError:
        document = None
    return document if isinstance(document, dict) else {}


def login_server_of(document, registry):
    """properties.loginServer of a registry's ARM JSON."""
    login_server = (document.get('properties') or {}).get('loginServer')
    if not isinstance(login_server, str) or not login_server:
        raise AzureResponseError(NO_LOGIN_SERVER.format(registry=registry))
    return login_server


def registry_login_server(cmd, resource_group, registry):
    """properties.loginServer of the registry, from ARM."""
    return login_server_of(registry_document(cmd, resource_group, registry), registry)


def _arm_token(cli_ctx):
    """az's ARM access token for the current subscription, and its tenant (the exchange asks for both)."""
    from azure.cli.core._profile import Profile
    from azure.cli.core.commands.client_factory import get_subscription_id
    creds, _, tenant = Profile(cli_ctx=cli_ctx).get_raw_token(subscription=get_subscription_id(cli_ctx))
    return creds[1], tenant


class RegistryDataClient:  # pylint: disable=too-many-instance-attributes
    """Read manifests, tags and referrers of one registry, with tokens cached per scope for the client's life."""

    def __init__(self, cli_ctx, login_server, session=None):
        import requests
        from azure.cli.core.util import should_disable_connection_verify
        self.login_server = login_server.rstrip('/')
        self._base_url = 'https://{}'.format(self.login_server)
        self._cli_ctx = cli_ctx
        self._session = session or requests.Session()
        self._verify = not should_disable_connection_verify()
        self._refresh_token = None
        self._access_tokens = {}
        self._token_lock = threading.Lock()

    # ---- the questions -----------------------------------------------------------------------------------------

    def manifest_exists(self, repository, reference):
        """HEAD /v2/<repository>/manifests/<tag or digest>: True on 200, False on 404."""
        response = self._manifest_request('HEAD', repository, reference)
        if response.status_code == 404:
            return False
        self._raise_for_status(response, _manifest_what(repository, reference))
        return True

    def manifest_digest(self, repository, reference):
        """The digest of the manifest a tag (or digest) names, from HEAD's Docker-Content-Digest; None on 404.
        A registry that does not send the header gets a GET, and the digest is computed from the bytes."""
        response = self._manifest_request('HEAD', repository, reference)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, _manifest_what(repository, reference))
        digest = response.headers.get('Docker-Content-Digest')
        if digest:
            return digest
        if reference.startswith('sha256:'):
            return reference
        found = self.manifest(repository, reference)
        return found[0] if found else None

    def manifest(self, repository, reference):
        """(digest, parsed body) of the manifest a tag or digest names; None on 404."""
        what = _manifest_what(repository, reference)
        response = self._manifest_request('GET', repository, reference)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, what)
        body = self._json(response, what)
        return response.headers.get('Docker-Content-Digest') or \
            'sha256:' + hashlib.sha256(response.content).hexdigest(), body

    def referrers(self, repository, digest):
        """The descriptors the OCI 1.1 referrers API lists for `digest` (every Link page); None when the registry
        has no referrers API, so that the caller falls back to the referrers tag schema."""
        what = "the referrers of '{}@{}'".format(repository, digest)
        scope = 'repository:{}:pull'.format(repository)
        url = '/v2/{}/referrers/{}'.format(repository, quote(digest, safe=':'))
        descriptors = []
        for page in range(MAX_REFERRER_PAGES):
            response = self._authorized('GET', url, scope, what, headers={'Accept': OCI_INDEX})
            if page == 0 and response.status_code in NO_REFERRERS_API:
                return None
            self._raise_for_status(response, what)
            descriptors.extend(entry for entry in self._json(response, what).get('manifests') or []
                               if isinstance(entry, dict) and isinstance(entry.get('digest'), str))
            url = (response.links.get('next') or {}).get('url')
            if not url:
                break
        return descriptors

    def _manifest_request(self, method, repository, reference):
        path = '/v2/{}/manifests/{}'.format(repository, quote(reference, safe=':'))
        return self._authorized(method, path, 'repository:{}:pull'.format(repository),
                                _manifest_what(repository, reference), headers={'Accept': MANIFEST_MEDIA_TYPES})

    def list_tags(self, repository):
        """Every tag name of the repository, following the Link header from page to page."""
        scope = 'repository:{}:metadata_read'.format(repository)
        what = "the tag list of '{}'".format(repository)
        url = '/acr/v1/{}/_tags?n={}'.format(repository, TAG_PAGE_SIZE)
        names = []
        while url:
            response = self._authorized('GET', url, scope, what)
            if response.status_code == 404:
                raise ResourceNotFoundError(REPOSITORY_NOT_FOUND.format(repository=repository,
                                                                        login_server=self.login_server))
            self._raise_for_status(response, what)
            names.extend(tag['name'] for tag in self._json(response, what).get('tags') or [])
            url = (response.links.get('next') or {}).get('url')
        return names

    # ---- tokens -----------------------------------------------------------------------------------------------

    def _exchange_refresh_token(self):
        access_token, tenant = _arm_token(self._cli_ctx)
        form = {'grant_type': 'access_token', 'service': self.login_server, 'tenant': tenant,
                'access_token': access_token}
        response = self._send('POST', '/oauth2/exchange', "az's token", data=form)
        if response.status_code != 200:
            raise UnauthorizedError(EXCHANGE_REFUSED.format(login_server=self.login_server,
                                                            status=response.status_code))
        return self._token_field(response, '/oauth2/exchange', 'refresh_token')

    def _access_token(self, scope):
        with self._token_lock:  # one exchange and one token per scope, when threads share the client
            return self._access_token_locked(scope)

    def _access_token_locked(self, scope):
        if scope not in self._access_tokens:
            if self._refresh_token is None:
                self._refresh_token = self._exchange_refresh_token()
            form = {'grant_type': 'refresh_token', 'service': self.login_server, 'scope': scope,
                    'refresh_token': self._refresh_token}
            response = self._send('POST', '/oauth2/token', 'a token request', data=form)
            if response.status_code != 200:
                raise UnauthorizedError(TOKEN_REFUSED.format(login_server=self.login_server, scope=scope,
                                                             status=response.status_code))
            self._access_tokens[scope] = self._token_field(response, '/oauth2/token', 'access_token')
        return self._access_tokens[scope]

    def _token_field(self, response, what, name):
        value = self._json(response, what).get(name)
        if not isinstance(value, str) or not value:
            raise AzureResponseError(NO_TOKEN_FIELD.format(login_server=self.login_server, what=what, field=name))
        return value

    def _authorized(self, method, path_or_url, scope, what, headers=None):
        """Send with the scope's access token; on a 401 (token expired) get fresh tokens and try once more."""
        for fresh in (False, True):
            if fresh:
                self._refresh_token = None
                self._access_tokens.pop(scope, None)
            token_headers = dict(headers or {}, Authorization='Bearer {}'.format(self._access_token(scope)))
            response = self._send(method, path_or_url, what, headers=token_headers)
            if response.status_code != 401:
                return response
        return response

    # ---- transport ----------------------------------------------------------------------------------------------

    def _send(self, method, path_or_url, what, **kwargs):
        """One request, retried on 429, 5xx, dropped connections and read timeouts. DNS, connect and TLS
        failures become RegistryUnreachable (TLS at once: it will not heal by retrying)."""
        import requests
        url = urljoin(self._base_url + '/', path_or_url)
        attempt = 1
        while True:
            logger.debug('Registry request: %s %s', method, url.split('?')[0])
            try:
                response = self._session.request(method, url, timeout=TIMEOUT, verify=self._verify,
                                                 allow_redirects=False, **kwargs)
            except requests.exceptions.SSLError as error:
                raise RegistryUnreachable(UNREACHABLE.format(login_server=self.login_server,
                                                             reason=_reason(error))) from None
            except requests.exceptions.ReadTimeout:
                if attempt >= ATTEMPTS:
                    raise AzureResponseError(NO_ANSWER.format(login_server=self.login_server, what=what,
                                                              seconds=TIMEOUT[1])) from None
                delay = _backoff(attempt)
            except requests.exceptions.ConnectionError as error:
                if attempt >= (CONNECT_ATTEMPTS if _failed_to_connect(error) else ATTEMPTS):
                    raise RegistryUnreachable(UNREACHABLE.format(login_server=self.login_server,
                                                                 reason=_reason(error))) from None
                delay = _backoff(attempt)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= ATTEMPTS:
                    return response
                delay = _retry_after(response, attempt)
            time.sleep(delay)
            attempt += 1

    def _raise_for_status(self, response, what):
        if response.status_code in (401, 403):
            raise UnauthorizedError(ACCESS_DENIED.format(login_server=self.login_server, what=what,
                                                         status=response.status_code))
        if response.status_code >= 400:
            raise AzureResponseError(REQUEST_FAILED.format(login_server=self.login_server, what=what,
                                                           status=response.status_code,
                                                           detail=_error_detail(response)))

    def _json(self, response, what):
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AzureResponseError(NOT_JSON.format(login_server=self.login_server, what=what))
        return body


def _manifest_what(repository, reference):
    return "the manifest '{}{}{}'".format(repository, '@' if reference.startswith('sha256:') else ':', reference)


def _backoff(attempt):
    return 0.5 * 2 ** (attempt - 1)


def _retry_after(response, attempt):
    try:
        return min(max(float(response.headers.get('Retry-After')), 0), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return _backoff(attempt)


def _failed_to_connect(error):
    """DNS failure, refusal or connect timeout, as opposed to a connection dropped after it was made."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    return isinstance(error, requests.exceptions.ConnectTimeout) or \
        any(isinstance(cause, (NewConnectionError, ConnectTimeoutError)) for cause in _causes(error))


def _causes(error):
    """The error and what it wraps, outermost first (urllib3 keeps the cause in .reason or args[0])."""
    chain = [error]
    while len(chain) < 10:
        inner = getattr(chain[-1], 'reason', None)
        if not isinstance(inner, Exception) and chain[-1].args and isinstance(chain[-1].args[0], Exception):
            inner = chain[-1].args[0]
        if not isinstance(inner, Exception):
            break
        chain.append(inner)
    return chain


def _reason(error):
    """The innermost cause: it names the DNS failure, the refusal or the certificate problem."""
    cause = _causes(error)[-1]
    return str(cause) or type(cause).__name__


def _error_detail(response):
    """ACR's first error message, if the body carries one."""
    try:
        errors = (response.json() or {}).get('errors') or []
        message = errors[0].get('message') if errors and isinstance(errors[0], dict) else None
    except (ValueError, AttributeError):
        message = None
    return ': {}'.format(message) if message else ''
