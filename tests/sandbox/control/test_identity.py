"""Tokens and the identity endpoints: what the sandbox issues validates at its fronts, nothing else does; cloud
metadata and OIDC discovery have the shape `az cloud register` and MSAL read."""
import base64
import json
import time

import pytest

from acrtransfer_sandbox.plumbing.config import ARM_AUDIENCE, VAULT_AUDIENCE
from acrtransfer_sandbox.plumbing.tokens import TOKEN_LIFETIME_SECONDS, TokenIssuer, bearer_token

from .harness import API, pipeline_path


def _issue(issuer, tenant="tenant-1", audience=ARM_AUDIENCE):
    return issuer.issue(issuer="https://issuer", tenant_id=tenant, audience=audience, app_id="app-1",
                        object_id="object-1")


def _with_payload(token: str, change) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(claims)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# tokens.py
def test_an_issued_token_verifies_with_its_claims():
    issuer = TokenIssuer("key-1")
    claims = issuer.verify(_issue(issuer))
    assert (claims["tid"], claims["aud"], claims["appid"], claims["oid"]) == ("tenant-1", ARM_AUDIENCE, "app-1",
                                                                              "object-1")
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME_SECONDS


def test_tokens_of_another_key_or_altered_or_expired_are_refused(monkeypatch):
    issuer = TokenIssuer("key-1")
    token = _issue(issuer)
    assert TokenIssuer("key-2").verify(token) is None
    assert issuer.verify(_with_payload(token, lambda c: c.update(tid="tenant-2"))) is None
    monkeypatch.setattr(time, "time", lambda: 10_000_000_000)
    assert issuer.verify(token) is None


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c.d", "a.b.c", "é.é.é", "a.b.\u00e9\u00e9",
                                     "eyJ9.eyJ9.\u2603"])
def test_garbage_is_refused_not_an_error(garbage):
    assert TokenIssuer("key-1").verify(garbage) is None


@pytest.mark.parametrize("header,token", [(None, None), ("", None), ("Bearer abc", "abc"), ("bearer  abc ", "abc"),
                                          ("Basic abc", None), ("Bearer", None), ("Bearer   ", None)])
def test_bearer_token(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize("method,path,public", [
    ("GET", "/metadata/endpoints", True), ("GET", "/tenant/v2.0/.well-known/openid-configuration", True),
    ("GET", "/tenant/.well-known/openid-configuration", True), ("POST", "/tenant/oauth2/v2.0/token", True),
    ("GET", "/tenant/discovery/v2.0/keys", True), ("GET", "/subscriptions", False),
    ("GET", "/subscriptions/x/resourceGroups/oauth2/providers", False), ("GET", "/metadata/endpoints/x", False),
    ("PUT", "/x/oauth2/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000001",
     False),
    ("GET", "/x/oauth2/providers/Microsoft.Authorization/roleDefinitions", False),
    ("GET", "/tenant/oauth2/v2.0/token", False), ("GET", "/tenant/discovery/x", False),
])
def test_only_identity_endpoints_answer_without_a_token(sandbox, method, path, public):
    async def scenario(client):
        return (await client.request(method, path, headers={"Authorization": ""})).status

    status = sandbox.run(scenario)
    assert (status != 401) is public


# identity.py through the front
def test_cloud_metadata_points_at_this_clouds_front(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        return await (await client.get("/metadata/endpoints?api-version=2022-09-01",
                                       headers={"Authorization": ""})).json()

    metadata = sandbox.run(scenario)
    assert metadata["name"] == cloud.cloud_name
    assert metadata["resourceManager"] == cloud.front_url + "/"
    assert metadata["authentication"]["loginEndpoint"] == cloud.front_url
    assert metadata["authentication"]["audiences"] == [ARM_AUDIENCE]
    assert metadata["suffixes"]["keyVaultDns"] == "vault.acrsandbox.local"


def test_oidc_discovery_names_this_tenants_endpoints(sandbox):
    cloud = sandbox.target

    async def scenario(client):
        results = []
        for path in (f"/{cloud.tenant_id}/v2.0/.well-known/openid-configuration",
                     "/organizations/.well-known/openid-configuration"):
            response = await client.get(path, headers={"Authorization": ""})
            results.append((response.status, await response.json()))
        return results

    (status, document), (other_status, organizations) = sandbox.run(scenario, cloud)
    base = f"{cloud.front_url}/{cloud.tenant_id}"
    assert status == other_status == 200
    assert document["issuer"] == base + "/v2.0"
    assert document["token_endpoint"] == base + "/oauth2/v2.0/token"
    assert document["jwks_uri"] == base + "/discovery/v2.0/keys"
    assert "client_secret_post" in document["token_endpoint_auth_methods_supported"]
    assert organizations["token_endpoint"] == f"{cloud.front_url}/organizations/oauth2/v2.0/token"


def _token_request(sandbox, cloud, **overrides):
    form = {"grant_type": "client_credentials", "client_id": cloud.client_id,
            "client_secret": sandbox.credentials.client_secrets[cloud.name],
            "scope": ARM_AUDIENCE + "/.default"}
    form.update(overrides)
    tenant = form.pop("tenant", cloud.tenant_id)

    async def scenario(client):
        response = await client.post(f"/{tenant}/oauth2/v2.0/token", data=form, headers={"Authorization": ""})
        return response.status, await response.json()
    return sandbox.run(scenario, cloud)


def test_client_credentials_give_a_token_the_front_accepts(sandbox):
    cloud = sandbox.source
    status, body = _token_request(sandbox, cloud)
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == TOKEN_LIFETIME_SECONDS
    claims = sandbox.issuer.verify(body["access_token"])
    assert claims["tid"] == cloud.tenant_id and claims["oid"] == cloud.operator_object_id
    assert claims["aud"].rstrip("/") == ARM_AUDIENCE.rstrip("/")

    async def scenario(client):
        response = await client.get(f"/subscriptions/{cloud.subscription_id}{API}")
        return response.status
    assert sandbox.run(scenario, token=body["access_token"]) == 200


def test_a_vault_scope_gives_a_vault_token(sandbox):
    cloud = sandbox.source
    _, body = _token_request(sandbox, cloud, scope=VAULT_AUDIENCE + "/.default")
    assert sandbox.issuer.verify(body["access_token"])["aud"].rstrip("/") == VAULT_AUDIENCE.rstrip("/")


@pytest.mark.parametrize("overrides,status,error", [
    ({"client_secret": "wrong"}, 401, "invalid_client"),
    ({"client_secret": "wr\u00f6ng-\u2603"}, 401, "invalid_client"),
    ({"client_id": "someone-else"}, 400, "unauthorized_client"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ({"tenant": "another-tenant"}, 400, "invalid_request"),
])
def test_a_token_request_the_directory_would_refuse(sandbox, overrides, status, error):
    got_status, body = _token_request(sandbox, sandbox.source, **overrides)
    assert (got_status, body["error"]) == (status, error)
    assert "access_token" not in body


def test_the_other_clouds_client_secret_does_not_work_here(sandbox):
    status, body = _token_request(sandbox, sandbox.source,
                                  client_secret=sandbox.credentials.client_secrets["target"])
    assert (status, body["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("token_of,code", [
    (lambda sandbox: None, "AuthenticationFailed"),
    (lambda sandbox: TokenIssuer("another-key").issue(
        issuer="x", tenant_id=sandbox.source.tenant_id, audience=ARM_AUDIENCE, app_id="a", object_id="o"),
     "AuthenticationFailed"),
    (lambda sandbox: sandbox.token(sandbox.target), "InvalidAuthenticationTokenTenant"),
    (lambda sandbox: sandbox.token(sandbox.source, VAULT_AUDIENCE), "InvalidAuthenticationTokenAudience"),
    (lambda sandbox: "x.y.\u00e9", "AuthenticationFailed"),
])
def test_arm_refuses_tokens_it_did_not_issue_for_this_cloud(sandbox, token_of, code):
    cloud = sandbox.source
    token = token_of(sandbox)

    async def scenario(client):
        headers = {"Authorization": f"Bearer {token}" if token else ""}
        response = await client.get(pipeline_path(cloud, "exportPipelines", "pipeline1") + API, headers=headers)
        return response.status, response.headers.get("WWW-Authenticate", ""), await response.json()

    status, challenge, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (401, code)
    assert challenge.startswith(f'Bearer authorization_uri="{cloud.front_url}/{cloud.tenant_id}"')
