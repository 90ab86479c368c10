# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Which SDK, in one place: every Key Vault, Authorization and Storage client `check` and `grant` use.

All of them come from the azure-cli installation (install_requires stays empty) and are made through az's own
factories and profiles, so the cloud, the login, the api-versions of that az release, `--debug` and retries
apply. Where releases differ, the difference is resolved here:
- the blob data plane is `azure-storage-blob` from az ~2.85 on, and `azure.multiapi.storagev2.blob.<version>`
  (the same client API) before; az's DATA_STORAGE_BLOB profile names the right one;
- azure-mgmt-storage 25+ names the listKeys result's field `keys_property` (`keys` is a mapping method there);
- azure-mgmt-authorization is multi-api on older az (role assignments with their fields under `properties` in
  old api-versions, flattened in newer ones): `field` reads either;
- the Key Vault secrets data plane is a different SDK on every few az releases, so a secret is read with one
  plain GET through azure-core, with az's credential and the cloud's Key Vault audience.
"""

from azure.cli.core.profiles import ResourceType, get_sdk

SECRETS_API_VERSION = '7.4'
NO_SECRET_VALUE = 'the response has no secret value'


def keyvault_client(cli_ctx):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_KEYVAULT)


def authorization_client(cli_ctx):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_AUTHORIZATION)


def storage_management_client(cli_ctx):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_STORAGE)


def storage_account_keys(cli_ctx, resource_group, account_name):
    """The account's key values. Not traced with --debug (they are secrets). azure-mgmt-storage from 25 on has
    hybrid models, where `keys` is the mapping method and the field is `keys_property`."""
    result = storage_management_client(cli_ctx).storage_accounts.list_keys(resource_group, account_name,
                                                                           logging_enable=False)
    keys = getattr(result, 'keys_property', None)
    if keys is None:
        keys = result.keys
    return [key.value for key in keys or [] if key.value]


def field(model, name):
    """A field of an SDK model that older api-versions keep under `properties`."""
    value = getattr(model, name, None)
    if value is None and getattr(model, 'properties', None) is not None:
        value = getattr(model.properties, name, None)
    return value


def access_policy_parameters(cmd, tenant_id, object_id, secret_permissions):
    """The body of a vault's accessPolicies 'add' operation for one principal."""
    entry, permissions, parameters, properties = cmd.get_models(
        'AccessPolicyEntry', 'Permissions', 'VaultAccessPolicyParameters', 'VaultAccessPolicyProperties',
        resource_type=ResourceType.MGMT_KEYVAULT, operation_group='vaults')
    policy = entry(tenant_id=tenant_id, object_id=object_id, permissions=permissions(secrets=secret_permissions))
    return parameters(properties=properties(access_policies=[policy]))


def role_assignment_parameters(cmd, role_definition_id, principal_id):
    parameters = cmd.get_models('RoleAssignmentCreateParameters', resource_type=ResourceType.MGMT_AUTHORIZATION,
                                operation_group='role_assignments')
    return parameters(role_definition_id=role_definition_id, principal_id=principal_id,
                      principal_type='ServicePrincipal')


def _login_credential(cli_ctx):
    from azure.cli.core._profile import Profile
    credential, _, _ = Profile(cli_ctx=cli_ctx).get_login_credentials(
        subscription_id=cli_ctx.data.get('subscription_id'))
    return credential


def container_client_class(cli_ctx):
    """The ContainerClient class of this az's blob SDK (importing it is what takes long)."""
    return get_sdk(cli_ctx, ResourceType.DATA_STORAGE_BLOB, '_container_client#ContainerClient')


def container_client(cli_ctx, container_uri, credential=None):
    """The blob container as the storage SDK of this az sees it; `credential` is a SAS token, or None for the
    caller's own Azure AD login."""
    from azure.cli.core.commands.client_factory import prepare_client_kwargs_track2
    return container_client_class(cli_ctx).from_container_url(
        container_uri, credential=credential or _login_credential(cli_ctx), **prepare_client_kwargs_track2(cli_ctx))


def caller_identity(cli_ctx):
    """(object id, principal type) of the signed-in caller, from the oid claim of az's ARM token: the role
    assignment then needs no Microsoft Graph look-up (air-gapped clouds often have none). (None, name) when the
    token does not say."""
    import base64
    import json
    from azure.cli.core._profile import Profile
    try:
        profile = Profile(cli_ctx=cli_ctx)
        user = profile.get_subscription()['user']
        token = profile.get_raw_token()[0][1]
        payload = token.split('.')[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
        kind = 'ServicePrincipal' if user.get('type') == 'servicePrincipal' else 'User'
        return claims.get('oid') or None, kind if claims.get('oid') else user.get('name')
    except Exception:  # pylint: disable=broad-except
        return None, '<your user name or app id>'


class SdkContainer:
    """A container as the blob SDK reads it (with the caller's login or the account key), asked what `check`
    asks of a container (see _blob_rest.SasContainer for the token's way)."""

    def __init__(self, client):
        self._client = client

    def first_page_error(self):
        """None when the container lists, else (status, storage error code, message)."""
        from azure.core.exceptions import AzureError, HttpResponseError
        try:
            for _page in self._client.list_blobs(results_per_page=1).by_page():
                break
            return None
        except HttpResponseError as error:
            code = getattr(error, 'error_code', None)
            return error.status_code, str(getattr(code, 'value', code) or error.status_code), _first_line(error)
        except AzureError as error:
            return None, 'Unreachable', _first_line(error)

    def blobs_with_metadata(self):
        return [_facts_of(blob) for blob in self._client.list_blobs(include=['metadata'])]

    def blob_facts(self, name):
        from azure.core.exceptions import ResourceNotFoundError
        try:
            return _facts_of(self._client.get_blob_client(name).get_blob_properties())
        except ResourceNotFoundError:
            return None


def _facts_of(properties):
    from ._blob_rules import BlobFacts
    settings = getattr(properties, 'content_settings', None)
    return BlobFacts(properties.name, dict(properties.metadata or {}),
                     bytes(settings.content_md5) if settings is not None and settings.content_md5 else None,
                     properties.last_modified)


def _first_line(error):
    from ._redact import redact
    text = str(getattr(error, 'message', None) or error)
    return redact(text.strip().splitlines()[0] if text.strip() else type(error).__name__)


class SecretReadError(Exception):
    def __init__(self, status_code, code, message):
        super().__init__(message)
        self.status_code = status_code
        self.code = code


def read_secret(cli_ctx, secret_uri):
    """The secret's value, read as the signed-in caller. The response body is never traced, even with --debug:
    it is the secret; only the request line and headers are logged (azure-core redacts query values)."""
    from azure.cli.core.commands.client_factory import prepare_client_kwargs_track2
    from azure.core import PipelineClient
    from azure.core.pipeline import policies
    from azure.core.rest import HttpRequest
    kwargs = prepare_client_kwargs_track2(cli_ctx)
    scope = 'https://{}/.default'.format(cli_ctx.cloud.suffixes.keyvault_dns.lstrip('.'))
    user_agent = kwargs.get('user_agent_policy') or policies.UserAgentPolicy(user_agent=kwargs.get('user_agent'))
    pipeline_policies = [policies.RequestIdPolicy(), policies.HeadersPolicy(kwargs.get('headers')), user_agent,
                         policies.RetryPolicy(),
                         policies.BearerTokenCredentialPolicy(_login_credential(cli_ctx), scope),
                         policies.HttpLoggingPolicy()]
    client = PipelineClient(base_url=secret_uri, policies=pipeline_policies,
                            connection_verify=kwargs.get('connection_verify', True))
    with client:
        response = client.send_request(HttpRequest('GET', secret_uri, params={'api-version': SECRETS_API_VERSION}))
        body = _json_or_none(response)
        if response.status_code != 200:
            error = (body or {}).get('error') or {}
            raise SecretReadError(response.status_code, error.get('code') or str(response.status_code),
                                  error.get('message') or response.reason or '')
    if not isinstance(body, dict) or not isinstance(body.get('value'), str):
        raise SecretReadError(response.status_code, 'NoValue', NO_SECRET_VALUE)
    return body['value']


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None
