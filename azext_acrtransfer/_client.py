# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A small containerregistry management client for exactly the three ACR Transfer resource types.

Why not the SDK that az bundles: depending on the az release it has no storageAccessMode, no pipeline
operations at all, or refuses the api-version real deployments speak. This client is built on azure-mgmt-core
like a generated one, so `get_mgmt_service_client` gives it az's credential, cloud, user agent, `--debug`
network logging (with the Authorization header redacted) and retry policy. Resources travel as plain dicts:
the request bodies come from _wire.py, the responses are passed through untouched.
"""

import json

from azure.core.configuration import Configuration
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, map_error
from azure.core.paging import ItemPaged
from azure.core.pipeline import policies
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.polling.arm_polling import ARMPolling

from . import _wire

DEFAULT_POLLING_INTERVAL = 5  # seconds, when the service sends no Retry-After
_ERROR_MAP = {404: ResourceNotFoundError}


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
        self._pipeline_client = ARMPipelineClient(base_url=base_url, policies=pipeline_policies, **kwargs)
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

    def send(self, method, url, body=None, next_link=False):
        """Send one request; raise azure-core's typed errors (ResourceNotFoundError for 404) on failure.

        A nextLink already carries its query string (api-version included), so it is sent as given.
        """
        params = None if next_link else {'api-version': self.api_version}
        request = HttpRequest(method, self._pipeline_client.format_url(url), params=params, json=body)
        pipeline = self._pipeline_client._pipeline  # pylint: disable=protected-access
        pipeline_response = pipeline.run(request, stream=False)
        response = pipeline_response.http_response
        if response.status_code >= 400:
            map_error(status_code=response.status_code, response=response, error_map=_ERROR_MAP)
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return pipeline_response

    def begin(self, pipeline_response, final_result, polling_interval=DEFAULT_POLLING_INTERVAL):
        """Wrap the initial response of a long-running request in an LROPoller (ARM polling rules)."""
        return LROPoller(self._pipeline_client, pipeline_response, final_result, ARMPolling(polling_interval))


def _json_body(pipeline_response):
    text = pipeline_response.http_response.text()
    return json.loads(text) if text else None


class ResourceOperations:
    """get / list / create-or-update / delete of one child collection of a registry."""

    def __init__(self, client, collection):
        self._client = client
        self.collection = collection

    def url(self, resource_group, registry, name):
        return _wire.resource_path(self._client.subscription_id, resource_group, registry, self.collection, name)

    def get(self, resource_group, registry, name):
        return _json_body(self._client.send('GET', self.url(resource_group, registry, name)))

    def list(self, resource_group, registry):
        first_url = _wire.collection_path(self._client.subscription_id, resource_group, registry, self.collection)

        def get_page(next_link):
            if next_link is None:
                return self._client.send('GET', first_url)
            return self._client.send('GET', next_link, next_link=True)

        def extract(pipeline_response):
            page = _json_body(pipeline_response) or {}
            return page.get('nextLink') or None, iter(page.get('value') or [])

        return ItemPaged(get_page, extract)

    def begin_create_or_update(self, resource_group, registry, name, body,
                               polling_interval=DEFAULT_POLLING_INTERVAL):
        initial = self._client.send('PUT', self.url(resource_group, registry, name), body)
        return self._client.begin(initial, _json_body, polling_interval)

    def begin_delete(self, resource_group, registry, name, polling_interval=DEFAULT_POLLING_INTERVAL):
        initial = self._client.send('DELETE', self.url(resource_group, registry, name))
        return self._client.begin(initial, lambda response: None, polling_interval)
