"""The cloud's identity endpoints: cloud metadata, OIDC discovery and the client-credentials token endpoint.

These are what `az cloud register --endpoint-resource-manager`, `az login --service-principal` (MSAL) and the
ACR refresh-token exchange need; nothing else of Entra ID is imitated. Besides the cloud's operator, the
principals added with `python -m acrtransfer_sandbox add-operator` sign in (plumbing/operators.py).
"""
import hmac
from pathlib import Path
from typing import Optional

from aiohttp import web

from . import bodies
from ..plumbing.config import (ACR_LOGIN_SERVER_SUFFIX, ARM_AUDIENCE, KEYVAULT_DNS_SUFFIX, STORAGE_ENDPOINT_SUFFIX,
                               VAULT_AUDIENCE, CloudConfig)
from .http_common import json_response
from ..plumbing import operators
from ..plumbing.tokens import TOKEN_LIFETIME_SECONDS, TokenIssuer

# What a client reaches before it has a token: cloud metadata, and per tenant OIDC discovery and the token endpoint.
# Exactly these (method, route template) pairs answer without a token; every other route of the front needs one.
IDENTITY_ENDPOINTS = frozenset({
    ("GET", "/metadata/endpoints"),
    ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
    ("GET", "/{tenant}/.well-known/openid-configuration"),
    ("GET", "/{tenant}/discovery/v2.0/keys"),
    ("POST", "/{tenant}/oauth2/v2.0/token"),
    ("POST", "/{tenant}/oauth2/token"),
})


def is_identity_endpoint(request: web.Request) -> bool:
    """Decided by the route the request matched (not by its path), so no other route can pass for one."""
    route = request.match_info.route
    method = "GET" if route.method == "HEAD" else route.method
    return route.resource is not None and (method, route.resource.canonical) in IDENTITY_ENDPOINTS


def cloud_metadata(cloud: CloudConfig) -> dict:
    """The document ARM serves at /metadata/endpoints (2022-09-01 shape), pointing at this cloud's fronts."""
    front = cloud.front_url
    return {
        "name": cloud.cloud_name,
        "portal": front,
        "authentication": {"loginEndpoint": front, "audiences": [ARM_AUDIENCE], "tenant": cloud.tenant_id,
                           "identityProvider": "AAD"},
        "resourceManager": front + "/",
        "graph": front + "/graph/",
        "graphAudience": front + "/graph/",
        "microsoftGraphResourceId": front + "/graph/",
        "activeDirectoryDataLake": front + "/datalake/",
        "batch": front + "/batch/",
        "media": front + "/media/",
        "sqlManagement": front + "/sql/",
        "gallery": front + "/gallery/",
        "vmImageAliasDoc": front + "/vm-image-aliases.json",
        "suffixes": {
            "acrLoginServer": ACR_LOGIN_SERVER_SUFFIX.lstrip("."),
            "keyVaultDns": KEYVAULT_DNS_SUFFIX.lstrip("."),
            "storage": STORAGE_ENDPOINT_SUFFIX,
            "sqlServerHostname": "database.acrsandbox.local",
        },
    }


def openid_configuration(cloud: CloudConfig, tenant: str) -> dict:
    base = f"{cloud.front_url}/{tenant}"
    return {
        "issuer": f"{base}/v2.0",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": None,
        "cloud_instance_name": "acrsandbox.local",
    }


def _audience_of(scope: str) -> str:
    """MSAL asks for '<resource>/.default'; the token's audience is the resource."""
    first = scope.split()[0] if scope else ARM_AUDIENCE
    return first[: -len(".default")] if first.endswith("/.default") else first


def build_identity_routes(cloud: CloudConfig, issuer: TokenIssuer, client_secret: str,
                          directory: Optional[Path] = None) -> web.RouteTableDef:
    """`directory`: the operators file of principals added with `add-operator` (plumbing/operators.py)."""
    routes = web.RouteTableDef()

    def principal_of(client_id: str, secret: str):
        """(app id, object id) of the principal these credentials sign in, or an error response."""
        if directory is not None and operators.is_known(directory, cloud.name, client_id):
            entry = operators.signed_in(directory, cloud.name, client_id, secret)
            return (entry["appId"], entry["objectId"]) if entry else _invalid_secret()
        if client_id != cloud.client_id:
            return _token_error(400, "unauthorized_client",
                                f"AADSTS700016: Application with identifier '{client_id}' was not found "
                                f"in the directory of the {cloud.name} cloud.")
        # Bytes: compare_digest raises TypeError on a str with non-ASCII characters.
        if not hmac.compare_digest(secret.encode(), client_secret.encode()):
            return _invalid_secret()
        return cloud.client_id, cloud.operator_object_id

    @routes.get("/metadata/endpoints")
    async def metadata_endpoints(_request):
        return json_response(cloud_metadata(cloud))

    @routes.get("/{tenant}/v2.0/.well-known/openid-configuration")
    @routes.get("/{tenant}/.well-known/openid-configuration")
    async def discovery(request):
        return json_response(openid_configuration(cloud, request.match_info["tenant"]))

    @routes.get("/{tenant}/discovery/v2.0/keys")
    async def keys(_request):
        return json_response({"keys": []})

    @routes.post("/{tenant}/oauth2/v2.0/token")
    @routes.post("/{tenant}/oauth2/token")
    async def token(request):
        form = await bodies.read_form(request)
        if form is None:
            return _token_error(400, "invalid_request", "AADSTS900144: The request body must be a valid "
                                                        "application/x-www-form-urlencoded form.")
        tenant = request.match_info["tenant"]
        if tenant not in (cloud.tenant_id, "organizations", "common"):
            return _token_error(400, "invalid_request",
                                f"AADSTS90002: Tenant '{tenant}' not found in the {cloud.name} cloud.")
        if form.get("grant_type") != "client_credentials":
            return _token_error(400, "unsupported_grant_type",
                                "AADSTS70003: the sandbox supports the client_credentials grant only "
                                "(az login --service-principal).")
        principal = principal_of(str(form.get("client_id", "")), str(form.get("client_secret", "")))
        if isinstance(principal, web.Response):
            return principal
        app_id, object_id = principal
        access_token = issuer.issue(issuer=f"{cloud.front_url}/{cloud.tenant_id}/v2.0", tenant_id=cloud.tenant_id,
                                    audience=_audience_of(form.get("scope", "")), app_id=app_id,
                                    object_id=object_id)
        return json_response({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS,
                              "ext_expires_in": TOKEN_LIFETIME_SECONDS, "access_token": access_token})

    return routes


def _invalid_secret() -> web.Response:
    return _token_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")


def _token_error(status: int, error: str, description: str) -> web.Response:
    return json_response({"error": error, "error_description": description, "error_codes": []}, status=status)


__all__ = ["build_identity_routes", "is_identity_endpoint", "cloud_metadata", "VAULT_AUDIENCE"]
