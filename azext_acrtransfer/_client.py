# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A small containerregistry management client for exactly the three ACR Transfer resource types.

Why not the SDK that az bundles: depending on the az release it has no storageAccessMode, no pipeline
operations at all, or refuses the api-version real deployments speak. This client is built on azure-mgmt-core
like a generated one, so `get_mgmt_service_client` gives it az's credential, cloud, user agent, `--debug`
network logging (with the Authorization header redacted) and retry policy. Resources travel as plain dicts:
the request bodies come from _wire.py, the responses are passed through untouched.

Every answer is read defensively: a body that is not the JSON object expected (an HTML page from a proxy or a
gateway) is an AzureResponseError naming the operation and the HTTP status, a list whose nextLink repeats or
never ends stops with an error, and a failed async operation carries the service's code and message.
"""

import json

from azure.cli.core.azclierror import AzureResponseError
from azure.core.configuration import Configuration
from azure.core.exceptions import AzureError, DecodeError, HttpResponseError, ResourceNotFoundError, map_error
from azure.core.paging import ItemPaged
from azure.core.pipeline import policies
from azure.core.pipeline.transport import RequestsTransport  # pylint: disable=no-name-in-module
from azure.core.polling import LROPoller, NoPolling
from azure.core.polling.base_polling import OperationFailed
from azure.core.rest import HttpRequest
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.polling.arm_polling import ARMPolling

from . import _wire

DEFAULT_POLLING_INTERVAL = 5  # seconds, when the service sends no Retry-After
# A registry holds at most a few thousand runs; a list needing more pages than this is a service loop.
MAX_LIST_PAGES = 1000
_ERROR_MAP = {404: ResourceNotFoundError}
# Connections kept per host: as many as `pipeline-run clean` has deletions in flight (requests keeps 10, and
# drops and reopens every connection beyond them).
CONNECTIONS_PER_HOST = 16

NOT_JSON = ("The answer to {operation} (HTTP {status}) is not the JSON document Azure Resource Manager sends "
            "(Content-Type: {content_type}). A proxy or gateway between you and Azure may have answered instead; "
            "try again, or check the proxy settings (HTTPS_PROXY).")
REPEATED_NEXT_LINK = ("Listing {what} stopped: the service sent the same nextLink twice ({pages} page(s) read), "
                      "so the list would never end. Try again; if it persists, report it to Azure support.")
TOO_MANY_PAGES = "Listing {what} stopped after {pages} pages: the service kept sending a nextLink."


class AsyncOperationFailed(HttpResponseError):
    """The service ended a long-running operation Failed or Canceled; code and message as it gave them, if any."""

    def __init__(self, operation, status, code=None, service_message=None, response=None):
        self.operation = operation
        self.status = status
        self.code = code
        self.service_message = service_message
        detail = '({}) {}'.format(code, service_message) if code else service_message
        super().__init__(message='{} ended {}{}'.format(operation, status, ': ' + detail if detail else
                                                        ' without an error message'), response=response)


def is_transient(error):
    """Whether a failed read says nothing about the resource (a reset, a timeout, a 5xx or 429 after az's own retries,
    an answer that is not ARM's JSON): a follower asks again. A 4xx (the run is gone, access is denied) is final."""
    if isinstance(error, AzureResponseError):   # not_json_error: a proxy or gateway answered
        return True
    if isinstance(error, ResourceNotFoundError):
        return False
    if isinstance(error, HttpResponseError):
        status = error.status_code
        return status is None or status >= 500 or status == 429
    return isinstance(error, AzureError)


def not_json_error(operation, response):
    return AzureResponseError(NOT_JSON.format(operation=operation, status=response.status_code,
                                              content_type=response.headers.get('Content-Type') or 'none'))


class _TransferClientConfiguration(Configuration):  # pylint: disable=too-many-instance-attributes
    """The policy set of a generated mgmt client; az supplies most policies through kwargs."""

    def __init__(self, credential, subscription_id, api_version, **kwargs):
        super().__init__(**kwargs)
        self.credential = credential
        self.subscription_id = subscription_id
        self.api_version = api_version
        scopes = kwargs.pop('credential_scopes', ['https://management.azure.com/.default'])
        self.user_agent_policy = kwargs.get('user_agent_policy') or policies.UserAgentPolicy(
            sdk_moniker='acrtransfer', **kwargs)
        self.headers_policy = kwargs.get('headers_policy') or policies.HeadersPolicy(**kwargs)
        self.proxy_policy = kwargs.get('proxy_policy') or policies.ProxyPolicy(**kwargs)
        self.logging_policy = kwargs.get('logging_policy') or policies.NetworkTraceLoggingPolicy(**kwargs)
        self.http_logging_policy = kwargs.get('http_logging_policy') or policies.HttpLoggingPolicy(**kwargs)
        self.retry_policy = kwargs.get('retry_policy') or policies.RetryPolicy(**kwargs)
        self.custom_hook_policy = kwargs.get('custom_hook_policy') or policies.CustomHookPolicy(**kwargs)
        self.redirect_policy = kwargs.get('redirect_policy') or policies.RedirectPolicy(**kwargs)
        self.authentication_policy = kwargs.get('authentication_policy') or \
            policies.BearerTokenCredentialPolicy(credential, *scopes, **kwargs)


class _TransferTransport(RequestsTransport):
    """azure-core's requests transport with a connection pool of CONNECTIONS_PER_HOST."""

    def _init_session(self, session):
        super()._init_session(session)
        for adapter in set(session.adapters.values()):
            adapter.init_poolmanager(CONNECTIONS_PER_HOST, CONNECTIONS_PER_HOST)


class ContainerRegistryTransferClient:  # pylint: disable=too-few-public-methods
    """Operations on exportPipelines, importPipelines and pipelineRuns of one subscription."""

    def __init__(self, credential, subscription_id, base_url='https://management.azure.com',
                 api_version=_wire.DEFAULT_API_VERSION, **kwargs):
        config = _TransferClientConfiguration(credential, subscription_id, api_version, **kwargs)
        pipeline_policies = [
            policies.RequestIdPolicy(**kwargs),
            config.headers_policy,
            config.user_agent_policy,
            config.proxy_policy,
            policies.ContentDecodePolicy(**kwargs),
            config.redirect_policy,
            config.retry_policy,
            config.authentication_policy,
            config.custom_hook_policy,
            config.logging_policy,
            policies.DistributedTracingPolicy(**kwargs),
            config.http_logging_policy,
        ]
        transport = kwargs.pop('transport', None) or _TransferTransport(**kwargs)
        self._pipeline_client = ARMPipelineClient(base_url=base_url, policies=pipeline_policies, transport=transport,
                                                  **kwargs)
        self._config = config
        self.export_pipelines = ResourceOperations(self, _wire.EXPORT_PIPELINES)
        self.import_pipelines = ResourceOperations(self, _wire.IMPORT_PIPELINES)
        self.pipeline_runs = ResourceOperations(self, _wire.PIPELINE_RUNS)

    @property
    def api_version(self):
        return self._config.api_version

    @property
    def subscription_id(self):
        return self._config.subscription_id

    def send(self, method, url, body=None, next_link=False, operation=None):
        """Send one request; raise azure-core's typed errors (ResourceNotFoundError for 404) on failure.

        A nextLink already carries its query string (api-version included), so it is sent as given.
        `operation` names the request in errors about its answer (default: the method and the URL's path).
        """
        params = None if next_link else {'api-version': self.api_version}
        request = HttpRequest(method, self._pipeline_client.format_url(url), params=params, json=body)
        pipeline = self._pipeline_client._pipeline  # pylint: disable=protected-access
        try:
            pipeline_response = pipeline.run(request, stream=False)
        except DecodeError as error:  # a JSON Content-Type over a body that is not JSON
            raise not_json_error(operation or '{} {}'.format(method, url.split('?')[0]), error.response) from None
        response = pipeline_response.http_response
        if response.status_code >= 400:
            map_error(status_code=response.status_code, response=response, error_map=_ERROR_MAP)
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return pipeline_response

    def begin(self, pipeline_response, final_result, operation, polling_interval=None, on_status=None):
        """Wrap the initial response of a long-running request in an LROPoller (ARM polling rules; the interval
        applies when the service sends no Retry-After). `on_status()` runs after each status check that finds the
        operation still going."""
        interval = DEFAULT_POLLING_INTERVAL if polling_interval is None else polling_interval
        return LROPoller(self._pipeline_client, pipeline_response, final_result,
                         _TransferPolling(operation, interval, on_status))

    def answered(self, pipeline_response, final_result):
        """A poller that is already done (--no-wait): it never sends anything, it only holds the first answer."""
        return LROPoller(self._pipeline_client, pipeline_response, final_result, NoPolling())


class _TransferPolling(ARMPolling):
    """ARM's polling rules, with answers it cannot read and failed operations reported in the service's words."""

    def __init__(self, operation, polling_interval, on_status=None):
        super().__init__(polling_interval)
        self._operation_name = operation
        self._on_status = on_status

    def update_status(self):
        """One status check; then `on_status` (the run's progress), at the service's Retry-After pace and from the
        poller's own thread, in order with the checks."""
        super().update_status()
        if self._on_status is not None and not self.finished():
            self._on_status()

    def run(self):
        try:
            super().run()
        except DecodeError as error:
            response = error.response or self._pipeline_response.http_response
            raise not_json_error(self._operation_name + ' (its status)', response) from None
        except HttpResponseError as error:
            if isinstance(error.__cause__, OperationFailed):
                raise self._failure() from None
            raise

    def _failure(self):
        """The operation's own error object, or the ARM error of the status response, when there is one."""
        response = self._pipeline_response.http_response
        try:
            document = json.loads(response.text() or '{}')
        except ValueError:
            document = {}
        document = document if isinstance(document, dict) else {}
        error = document.get('error') or (document.get('properties') or {}).get('error') or {}
        error = error if isinstance(error, dict) else {}
        return AsyncOperationFailed(self._operation_name, self.status(), error.get('code'), error.get('message'),
                                    response=response)


def _json_body(operation):
    """A deserialiser for the answers of `operation`: the JSON object, None for an empty body, else an error."""
    def parse(pipeline_response):
        response = pipeline_response.http_response
        text = response.text()
        if not text or not text.strip():
            return None
        try:
            document = json.loads(text)
        except ValueError:
            raise not_json_error(operation, response) from None
        if not isinstance(document, dict):
            raise not_json_error(operation, response)
        return document
    return parse


def retry_after(response):
    """The Retry-After header in seconds (ARM sends a number), or None when absent or not a number."""
    try:
        seconds = float(response.headers.get('Retry-After'))
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


class ResourceOperations:
    """get / list / create-or-update / delete of one child collection of a registry."""

    def __init__(self, client, collection):
        self._client = client
        self.collection = collection

    def url(self, resource_group, registry, name):
        return _wire.resource_path(self._client.subscription_id, resource_group, registry, self.collection, name)

    def _operation(self, method, name=None):
        return '{} {}/{}'.format(method, self.collection, name) if name else '{} {}'.format(method, self.collection)

    def get(self, resource_group, registry, name):
        operation = self._operation('GET', name)
        answer = self._client.send('GET', self.url(resource_group, registry, name), operation=operation)
        return _json_body(operation)(answer)

    def get_paced(self, resource_group, registry, name):
        """(the resource, the seconds its Retry-After header asks a follower to wait before the next GET, or None)."""
        operation = self._operation('GET', name)
        answer = self._client.send('GET', self.url(resource_group, registry, name), operation=operation)
        return _json_body(operation)(answer), retry_after(answer.http_response)

    def list(self, resource_group, registry):
        first_url = _wire.collection_path(self._client.subscription_id, resource_group, registry, self.collection)
        operation = self._operation('GET')
        seen_links = set()

        def get_page(next_link):
            if next_link is None:
                return self._client.send('GET', first_url, operation=operation)
            return self._client.send('GET', next_link, next_link=True, operation=operation + ' (next page)')

        def extract(pipeline_response):
            page = _json_body(operation)(pipeline_response) or {}
            values = page.get('value') or []
            if not isinstance(values, list):
                raise not_json_error(operation, pipeline_response.http_response)
            next_link = page.get('nextLink') or None
            if next_link is not None:
                if next_link in seen_links:
                    raise AzureResponseError(REPEATED_NEXT_LINK.format(what=self.collection,
                                                                       pages=len(seen_links) + 1))
                if len(seen_links) + 1 >= MAX_LIST_PAGES:
                    raise AzureResponseError(TOO_MANY_PAGES.format(what=self.collection, pages=MAX_LIST_PAGES))
                seen_links.add(next_link)
            return next_link, iter(values)

        return ItemPaged(get_page, extract)

    def begin_create_or_update(self, resource_group, registry, name, body,
                               polling_interval=None, no_wait=False, on_status=None):
        """PUT, then poll to the end; with no_wait the poller only holds the PUT's answer and sends nothing."""
        operation = self._operation('PUT', name)
        initial = self._client.send('PUT', self.url(resource_group, registry, name), body, operation=operation)
        if no_wait:
            _json_body(operation)(initial)   # an answer that is not JSON is an error here too, not a silent success
            return self._client.answered(initial, _json_body(operation))
        return self._client.begin(initial, _json_body(operation), operation, polling_interval, on_status)

    def begin_delete(self, resource_group, registry, name, polling_interval=None):
        operation = self._operation('DELETE', name)
        initial = self._client.send('DELETE', self.url(resource_group, registry, name), operation=operation)
        return self._client.begin(initial, lambda response: None, operation, polling_interval)
