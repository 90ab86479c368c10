"""The sandbox as a security boundary, tried against the running cloud process the way an attacker on the same
machine would: authentication on every route but the identity endpoints, each cloud sealed from the other, the
registry front's paths, hostile request bodies, and the modes secret files are created with.
"""
import asyncio
import json
import re
import subprocess
import sys
import uuid

import aiohttp
import pytest

from acrtransfer_sandbox.plumbing.config import SECRET_NAME
from acrtransfer_sandbox.plumbing.credentials import SandboxCredentials
from acrtransfer_sandbox.fronts.keyvault import make_secrets_app
from acrtransfer_sandbox.rules.resources import VAULT_TYPE
from acrtransfer_sandbox.fronts.registry import make_registry_front_app
from acrtransfer_sandbox.runtime.server import make_front_app
from acrtransfer_sandbox.plumbing.store import ResourceStore
from acrtransfer_sandbox.plumbing.tokens import TokenIssuer
from acrtransfer_sandbox.transfer import RegistryClient, push_sample_images
from running_sandbox import RunningSandbox
from servers import REPO_ROOT, find_binary

PIPELINES_API = "?api-version=2025-06-01-preview"
VAULT_API = "?api-version=2023-07-01"
AUTH_API = "?api-version=2022-04-01"
SECRETS_API = "?api-version=7.4"
CONTRIBUTOR_ROLE = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
PRIVATE_REPOSITORY = "private/payroll"
ACR_AUDIENCE = "https://containerregistry.azure.net"  # what az asks a token for before /oauth2/exchange


@pytest.fixture(scope="module")
def sandbox():
    running = RunningSandbox().start()

    async def push():
        async with aiohttp.ClientSession() as session:
            registry = RegistryClient(session, running.source.registry_upstream_url)
            await push_sample_images(registry)
            await registry.upload_small_blob(PRIVATE_REPOSITORY, b"salaries")
    asyncio.run(push())
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_tracebacks(sandbox):
    """Whatever a test sends, the sandbox answers it: no handler may fail with a traceback (a 500)."""
    before = len(sandbox.log())
    yield
    assert "Traceback" not in sandbox.log()[before:], sandbox.log()[before:][-3000:]


# ---- (a) authentication: the route table walked, and the allowlist's old hole ----------------------------------

EXPECTED_IDENTITY_ENDPOINTS = {
    ("GET", "/metadata/endpoints"), ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
    ("GET", "/{tenant}/.well-known/openid-configuration"), ("GET", "/{tenant}/discovery/v2.0/keys"),
    ("POST", "/{tenant}/oauth2/v2.0/token"), ("POST", "/{tenant}/oauth2/token")}
REGISTRY_TOKEN_ENDPOINTS = {("POST", "/oauth2/exchange"), ("GET", "/oauth2/token"), ("POST", "/oauth2/token")}
ANY_METHOD = ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE")


def _apps(sandbox, tmp_path, cloud):
    """The apps the cloud process serves for `cloud`, built the same way, for their route tables."""
    credentials = SandboxCredentials("walk", {c.name: "walk" for c in sandbox.config.clouds},
                                     {c.name: "d2Fsaw==" for c in sandbox.config.clouds})
    store, issuer = ResourceStore(tmp_path / "walk.json"), TokenIssuer("walk")
    return {"front": (make_front_app(cloud, store, issuer, credentials, None), cloud.front_port),
            "vault": (make_secrets_app(cloud, store, issuer), cloud.vault_port),
            "registry": (make_registry_front_app(cloud.registry_upstream_url, cloud.registry_name, cloud.login_server,
                                                 lambda token: None), cloud.registry_front_port)}


def _concrete_paths(resource, cloud) -> list:
    """Paths that reach the resource: once with plausible values, once with 'oauth2' in every variable segment
    (what the old allowlist took for an identity path)."""
    info = resource.get_info()
    if "path" in info:
        return [info["path"]]
    literals = {name: re.sub(r"\\(.)", r"\1", text) for name, text in
                re.findall(r"\(\?P<(_literal\d+)>\(\?i:((?:[^()\\]|\\.)*)\)\)", info["pattern"].pattern)}
    plausible = {"subscription": cloud.subscription_id, "group": cloud.resource_group, "registry": cloud.registry_name,
                 "name": "abcde12345", "operation": "add", "tenant": cloud.tenant_id, "version": "1" * 32,
                 "scope": f"subscriptions/{cloud.subscription_id}", "role_id": CONTRIBUTOR_ROLE,
                 "repository": "hello-world", "tag": "latest", "reference": "latest", "path": "hello-world/tags/list",
                 "ns": "Microsoft.Authorization", "kind": "roleAssignments"}
    paths = []
    for hostile in (False, True):
        def value(match):
            name = match.group(1)
            if name in literals:
                return literals[name]
            if name in ("ns", "kind"):
                return plausible[name]
            # A placeholder a later route adds gets a neutral value: the walk still covers it.
            return ("x/oauth2" if name == "scope" else "oauth2") if hostile else plausible.get(name, "abcde12345")
        paths.append(re.sub(r"\{([^}]+)\}", value, info["formatter"]))
    return paths


@pytest.mark.parametrize("app_name", ["front", "vault", "registry"])
@pytest.mark.parametrize("cloud_name", ["source", "target"])
def test_no_route_outside_the_identity_endpoints_answers_without_a_token(sandbox, tmp_path, app_name, cloud_name):
    cloud = sandbox.config.cloud(cloud_name)
    app, port = _apps(sandbox, tmp_path, cloud)[app_name]
    public = {"front": EXPECTED_IDENTITY_ENDPOINTS, "vault": set(), "registry": REGISTRY_TOKEN_ENDPOINTS}[app_name]
    answered, tried = [], 0
    for route in app.router.routes():
        template = route.resource.canonical
        methods = ANY_METHOD if route.method == "*" else (route.method,)
        for method in methods:
            is_public = ("GET" if method == "HEAD" else method, template) in public
            for path in _concrete_paths(route.resource, cloud):
                status, _ = sandbox.raw(port, method, path + "?api-version=2025-06-01-preview", b"{}",
                                        {"Content-Type": "application/json"})
                tried += 1
                # The token endpoints themselves authenticate the credentials in their body.
                if status != 401 and not is_public:
                    answered.append((method, path, status))
    assert tried >= 2 * len(app.router.routes()) - 2  # every route, with plausible and hostile values
    assert answered == [], "routes that answer without a token"


def test_the_identity_endpoints_are_exactly_the_listed_ones():
    from acrtransfer_sandbox.fronts.identity import IDENTITY_ENDPOINTS
    assert IDENTITY_ENDPOINTS == EXPECTED_IDENTITY_ENDPOINTS


def test_the_old_allowlist_hole_creates_nothing(sandbox):
    cloud = sandbox.source
    name = str(uuid.uuid4())
    body = {"properties": {"roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ROLE}",
                           "principalId": str(uuid.uuid4())}}
    for scope in ("/x", "/" + cloud.subscription_id, cloud.storage_account_id + "/x"):
        path = f"{scope}/oauth2/providers/Microsoft.Authorization/roleAssignments/{name}{AUTH_API}"
        for method in ("PUT", "GET", "DELETE"):
            assert sandbox.arm(cloud, method, path, body, token=None)[0] == 401
    listed = sandbox.arm(cloud, "GET", f"{cloud.storage_account_id}/providers/Microsoft.Authorization/"
                                       f"roleAssignments{AUTH_API}")[1]
    assert [a for a in listed["value"] if a["name"] == name] == []


def test_the_registry_exchange_takes_arm_and_acr_audience_tokens_only(sandbox):
    cloud = sandbox.source
    for token, expected in ((sandbox.vault_token(cloud), 401), (sandbox.token(cloud, "https://storage.azure.com"), 401),
                            (sandbox.token(sandbox.target), 401), (sandbox.token(cloud), 200),
                            (sandbox.token(cloud, ACR_AUDIENCE), 200)):
        status, _ = _exchange(sandbox, cloud, token)
        assert status == expected


def _exchange(sandbox, cloud, aad_token):
    form = f"grant_type=access_token&service={cloud.login_server}&tenant={cloud.tenant_id}&access_token={aad_token}"
    return sandbox.raw(cloud.registry_front_port, "POST", "/oauth2/exchange", form.encode(),
                       {"Content-Type": "application/x-www-form-urlencoded"})


# ---- (b) tenancy: one cloud's token never reaches the other cloud's resources -----------------------------------

def _foreign_requests(source, target):
    """What a source-cloud operator could try on the target cloud's resources through the source cloud's front."""
    policy = {"properties": {"accessPolicies": [{"tenantId": source.tenant_id, "objectId": source.operator_object_id,
                                                 "permissions": {"secrets": ["get", "list", "set"]}}]}}
    assignment = {"properties": {"roleDefinitionId": f"/subscriptions/{target.subscription_id}/providers/"
                                                     f"Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ROLE}",
                                 "principalId": source.operator_object_id, "principalType": "ServicePrincipal"}}
    assignments = f"{target.storage_account_id}/providers/Microsoft.Authorization/roleAssignments"
    return [
        ("GET", target.vault_id + VAULT_API, None),
        ("PATCH", target.vault_id + VAULT_API, {"properties": {"enableRbacAuthorization": True}}),
        ("PUT", target.vault_id + VAULT_API, {"properties": {"accessPolicies": []}}),
        ("PUT", f"{target.vault_id}/accessPolicies/add{VAULT_API}", policy),
        ("GET", f"/subscriptions/{target.subscription_id}/providers/Microsoft.KeyVault/vaults{VAULT_API}", None),
        ("GET", f"{target.group_id}/providers/Microsoft.KeyVault/vaults{VAULT_API}", None),
        ("PUT", f"{assignments}/{uuid.uuid4()}{AUTH_API}", assignment),
        ("GET", f"{assignments}{AUTH_API}", None),
        ("GET", f"/subscriptions/{target.subscription_id}/providers/Microsoft.Authorization/roleDefinitions"
                f"{AUTH_API}", None),
        ("GET", target.registry_id + PIPELINES_API, None),
        ("GET", f"{target.registry_id}/exportPipelines{PIPELINES_API}", None),
        ("GET", target.storage_account_id + PIPELINES_API, None),
        ("GET", f"/subscriptions/{target.subscription_id}/resources{PIPELINES_API}", None),
    ]


@pytest.mark.parametrize("direction", ["source->target", "target->source"])
def test_one_clouds_token_never_reaches_the_other_clouds_resources(sandbox, direction):
    mine, theirs = (sandbox.source, sandbox.target) if direction == "source->target" else (sandbox.target,
                                                                                           sandbox.source)
    vault_before = sandbox.arm(theirs, "GET", theirs.vault_id + VAULT_API)[1]
    leaked = []
    for method, path, body in _foreign_requests(mine, theirs):
        # Through my cloud's front with my token, and through theirs with my token.
        via_mine = sandbox.arm(mine, method, path, body)
        via_theirs = sandbox.arm(mine, method, path, body, token=sandbox.token(mine), port=theirs.front_port)
        if via_mine[0] not in (401, 403, 404) or via_theirs[0] != 401:
            leaked.append((method, path, via_mine[0], via_theirs[0]))
        for status, answer in (via_mine, via_theirs):
            assert theirs.subscription_id not in json.dumps(answer).replace(f"'{theirs.subscription_id}'", ""), \
                (method, path, answer)
    assert leaked == []
    assert sandbox.arm(theirs, "GET", theirs.vault_id + VAULT_API)[1] == vault_before
    theirs_assignments = sandbox.arm(theirs, "GET", f"{theirs.storage_account_id}/providers/Microsoft.Authorization/"
                                                    f"roleAssignments{AUTH_API}")[1]["value"]
    assert [a for a in theirs_assignments if a["properties"]["principalId"] == mine.operator_object_id] == []


def test_listings_name_only_this_clouds_resources(sandbox):
    cloud = sandbox.source
    for path in (f"/subscriptions/{cloud.subscription_id}/providers/Microsoft.KeyVault/vaults{VAULT_API}",
                 f"{cloud.group_id}/providers/Microsoft.KeyVault/vaults{VAULT_API}",
                 f"/subscriptions/{cloud.subscription_id}/resources{VAULT_API}"):
        status, answer = sandbox.arm(cloud, "GET", path)
        assert status == 200
        ids = [doc["id"] for doc in answer["value"]]
        assert ids and all(i.lower().startswith(f"/subscriptions/{cloud.subscription_id}/") for i in ids), ids


def test_a_role_assignment_is_reached_at_its_own_scope_only(sandbox):
    cloud = sandbox.source
    name = str(uuid.uuid4())
    body = {"properties": {"roleDefinitionId": f"/subscriptions/{cloud.subscription_id}/providers/"
                                               f"Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ROLE}",
                           "principalId": str(uuid.uuid4()), "principalType": "ServicePrincipal"}}
    own = f"{cloud.storage_account_id}/providers/Microsoft.Authorization/roleAssignments/{name}{AUTH_API}"
    assert sandbox.arm(cloud, "PUT", own, body)[0] == 201
    for scope in (cloud.registry_id, cloud.group_id, f"/subscriptions/{cloud.subscription_id}", "/x"):
        other = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}{AUTH_API}"
        assert sandbox.arm(cloud, "GET", other)[0] in (403, 404), other
        assert sandbox.arm(cloud, "DELETE", other)[0] in (204, 403), other
    assert sandbox.arm(cloud, "GET", own)[0] == 200
    assert sandbox.arm(cloud, "DELETE", own)[0] == 200


def test_role_assignments_outside_the_subscription_are_refused(sandbox):
    cloud = sandbox.source
    body = {"properties": {"roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ROLE}",
                           "principalId": str(uuid.uuid4())}}
    for scope in ("/x", "/x/y", "/providers/Microsoft.Management/managementGroups/root"):
        status, answer = sandbox.arm(cloud, "PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/"
                                                   f"{uuid.uuid4()}{AUTH_API}", body)
        assert (status, answer["error"]["code"]) == (403, "AuthorizationFailed"), scope


def test_a_pipeline_cannot_borrow_the_other_clouds_user_assigned_identity(sandbox):
    source, target = sandbox.source, sandbox.target
    identity = f"{target.group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/operator"
    body = {"identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
            "properties": {"target": {"type": "AzureStorageBlobContainer", "uri": source.container_uri,
                                      "storageAccessMode": "ManagedIdentity"}}}
    status, answer = sandbox.arm(source, "PUT", f"{source.registry_id}/exportPipelines/borrowed1{PIPELINES_API}",
                                 body)
    assert status == 403 and answer["error"]["code"] == "LinkedAuthorizationFailed"
    assert sandbox.arm(source, "GET", f"{source.registry_id}/exportPipelines/borrowed1{PIPELINES_API}")[0] == 404


# ---- (c) the registry front: normalised paths only, the repository it forwards is the one it authorized --------

def _registry_token(sandbox, cloud, scope: str) -> str:
    refresh = _exchange(sandbox, cloud, sandbox.token(cloud))[1]["refresh_token"]
    form = f"grant_type=refresh_token&service={cloud.login_server}&scope={scope}&refresh_token={refresh}"
    status, answer = sandbox.raw(cloud.registry_front_port, "POST", "/oauth2/token", form.encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    return answer["access_token"]


TRAVERSALS = [
    "/v2/hello-world/tags/../../_catalog", "/v2/hello-world/tags/%2e%2e/%2e%2e/_catalog",
    "/v2/hello-world/tags/%2E%2E/%2E%2E/_catalog", "/v2/hello-world/../_catalog",
    "/v2/hello-world/./tags/list", "/v2/hello-world/tags/./list",
    "/v2/hello-world/manifests/../../private/payroll/tags/list",
    "/v2/hello-world/tags/..%2f..%2fprivate%2fpayroll%2ftags%2flist",
    "/v2/hello-world%2f..%2fprivate/payroll/tags/list",
    "/v2/hello-world/blobs/%2e%2e%2f%2e%2e%2fprivate/payroll/tags/list", "/v2//hello-world/tags/list",
    "/v2/hello-world//tags/list", "/v2/hello-world/tags/list/..", "/v2/hello-world\\..\\_catalog",
    "/acr/v1/hello-world/../_catalog", "/acr/v1/hello-world/%2e%2e/private/payroll/_tags",
    "/acr/v1/hello-world%2f..%2fprivate%2fpayroll/_tags", "/acr/v1/hello-world/_tags/../../_catalog",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_a_pull_token_for_one_repository_reaches_nothing_else(sandbox, path):
    cloud = sandbox.source
    token = _registry_token(sandbox, cloud, "repository:hello-world:pull,metadata_read")
    status, answer = sandbox.raw(cloud.registry_front_port, "GET", path, headers={"Authorization": "Bearer " + token})
    assert status in (400, 401, 404), (status, answer)
    assert "payroll" not in json.dumps(answer) and "repositories" not in json.dumps(answer), answer


def test_the_token_still_reaches_its_own_repository(sandbox):
    cloud = sandbox.source
    headers = {"Authorization": "Bearer " + _registry_token(sandbox, cloud, "repository:hello-world:pull")}
    status, answer = sandbox.raw(cloud.registry_front_port, "GET", "/v2/hello-world/tags/list", headers=headers)
    assert status == 200 and "latest" in answer["tags"]
    assert sandbox.raw(cloud.registry_front_port, "GET", f"/v2/{PRIVATE_REPOSITORY}/tags/list",
                       headers=headers)[0] == 401


def test_the_repository_authorized_is_the_one_the_registry_acts_on(sandbox):
    """`<repo>/manifests/x/blobs/uploads/` is an upload into repository `<repo>/manifests/x` for distribution: a
    push token for `<repo>` must not open it."""
    cloud = sandbox.source
    headers = {"Authorization": "Bearer " + _registry_token(sandbox, cloud, "repository:hello-world:pull,push")}
    for path in ("/v2/hello-world/manifests/x/blobs/uploads/", "/v2/hello-world/tags/list/blobs/uploads/",
                 "/v2/hello-world/blobs/uploads/x/manifests/latest"):
        status, answer = sandbox.raw(cloud.registry_front_port, "POST", path, b"", headers)
        assert status in (400, 401, 404), (path, status, answer)
    status, _ = sandbox.raw(cloud.registry_front_port, "POST", "/v2/hello-world/blobs/uploads/", b"", headers)
    assert status == 202


# ---- (d) every request body checked before it touches the store --------------------------------------------------

def _deep(levels: int) -> bytes:
    return b'{"properties": ' + b"[" * levels + b"]" * levels + b"}"


def _pipeline_body(cloud, **properties):
    return {"properties": {"target": {"type": "AzureStorageBlobContainer", "uri": cloud.container_uri,
                                      "keyVaultUri": cloud.secret_uri, "storageAccessMode": "SasToken"},
                           **properties}}


def _hostile_requests(cloud):
    """(port, method, path, raw body) of malformed requests; each must be a 4xx with the service's error body."""
    export = f"{cloud.registry_id}/exportPipelines/hostile1{PIPELINES_API}"
    imports = f"{cloud.registry_id}/importPipelines/hostile2{PIPELINES_API}"
    run = f"{cloud.registry_id}/pipelineRuns/hostile3{PIPELINES_API}"
    vault = cloud.vault_id + VAULT_API
    policy = f"{cloud.vault_id}/accessPolicies/add{VAULT_API}"
    assignment = f"{cloud.storage_account_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}" \
                 + AUTH_API
    role = f"/subscriptions/{cloud.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/" \
           + CONTRIBUTOR_ROLE
    import_source = {"type": "AzureStorageBlobContainer", "uri": cloud.container_uri, "keyVaultUri": cloud.secret_uri}
    pipeline_id = f"{cloud.registry_id}/exportPipelines/hostile1"
    front, secrets = cloud.front_port, cloud.vault_port
    cases = [
        # malformed JSON in general
        (front, "PUT", export, _deep(100)), (front, "PUT", export, _deep(100000)),
        (front, "PUT", export, b'{"properties": "\xff\xfe"}'), (front, "PUT", export, b"\xff" * 10),
        (front, "PUT", export, b'{"properties": NaN}'), (front, "PUT", export, b'{"location": Infinity}'),
        (front, "PUT", export, b"[1, 2]"), (front, "PUT", export, b'"text"'), (front, "PUT", export, b"{"),
        (front, "PUT", export, json.dumps({"location": "x" * 200000}).encode()),
        # pipelines (the spec's types)
        *[(front, "PUT", export, json.dumps(body).encode()) for body in (
            {"properties": "x"}, {"properties": []}, {"properties": 5}, {"identity": "x"}, {"identity": 5},
            {"identity": {"type": 5}}, {"identity": {"type": "UserAssigned", "userAssignedIdentities": ["x"]}},
            {"identity": {"type": "UserAssigned", "userAssignedIdentities": {"x": 5}}},
            {"properties": {"target": {"uri": 5}}}, {"properties": {"target": "x"}},
            {"properties": {"target": {"uri": "x", "keyVaultUri": cloud.secret_uri}}},
            {"properties": {"target": {"uri": "http://127.0.0.1/a/b", "keyVaultUri": cloud.secret_uri}}},
            {"properties": {"target": {"uri": cloud.container_uri, "keyVaultUri": "https://v/keys/k"}}},
            {"properties": {"target": {"uri": cloud.container_uri, "keyVaultUri": 5}}},
            {"properties": {"target": {"uri": cloud.container_uri, "keyVaultUri": cloud.secret_uri,
                                       "storageAccessMode": 5}}},
            _pipeline_body(cloud, options="OverwriteBlobs"), _pipeline_body(cloud, options=[5]),
            {**_pipeline_body(cloud), "location": 5})],
        *[(front, "PUT", imports, json.dumps(body).encode()) for body in (
            {"properties": {"source": import_source, "trigger": "x"}},
            {"properties": {"source": import_source, "trigger": {"sourceTrigger": "Enabled"}}},
            {"properties": {"source": import_source, "trigger": {"sourceTrigger": {"status": False}}}},
            {"properties": {"source": [import_source]}})],
        *[(front, "PUT", run, json.dumps(body).encode()) for body in (
            {"properties": "x"}, {"properties": {"request": "x"}}, {"properties": {"request": 5}},
            {"properties": {"request": {"pipelineResourceId": 5}}},
            {"properties": {"request": {"pipelineResourceId": ["x"]}}},
            {"properties": {"request": {"pipelineResourceId": pipeline_id, "artifacts": "hello-world:latest",
                                        "target": {"name": "b"}}}},
            {"properties": {"request": {"pipelineResourceId": pipeline_id, "artifacts": [5], "target": {"name": "b"}}}},
            {"properties": {"request": {"pipelineResourceId": pipeline_id, "artifacts": ["a"], "target": "b"}}},
            {"properties": {"request": {"pipelineResourceId": pipeline_id, "artifacts": ["a"],
                                        "target": {"name": 5}}}},
            {"properties": {"request": {"pipelineResourceId": pipeline_id, "artifacts": ["a"],
                                        "target": {"name": "b"}}, "forceUpdateTag": 5}})],
        # Key Vault management (ARM's vault shape)
        *[(front, method, vault, json.dumps(body).encode()) for method in ("PATCH", "PUT") for body in (
            {"properties": "x"}, {"properties": {"accessPolicies": "x"}}, {"properties": {"accessPolicies": [5]}},
            {"properties": {"accessPolicies": [{"objectId": 5}]}},
            {"properties": {"accessPolicies": [{"tenantId": cloud.tenant_id, "objectId": "o"}]}},
            {"properties": {"accessPolicies": [{"tenantId": cloud.tenant_id, "objectId": "o",
                                                "permissions": {"secrets": "get"}}]}},
            {"properties": {"enableRbacAuthorization": "false"}}, {"properties": {"enableRbacAuthorization": 1}},
            {"properties": {"softDeleteRetentionInDays": "90"}}, {"properties": {"sku": "standard"}},
            {"tags": "x"}, {"tags": {"a": 5}}, {"tags": {str(n): "v" for n in range(51)}})],
        *[(front, "PUT", policy, json.dumps(body).encode()) for body in (
            {}, {"properties": "x"}, {"properties": {"accessPolicies": "x"}}, {"properties": {"accessPolicies": [{}]}},
            {"properties": {"accessPolicies": [{"tenantId": cloud.tenant_id, "objectId": 5, "permissions": {}}]}},
            {"properties": {"accessPolicies": [{"tenantId": cloud.tenant_id, "objectId": "o",
                                                "permissions": {"secrets": ["steal"]}}]}})],
        (front, "PUT", f"{cloud.vault_id}/accessPolicies/steal{VAULT_API}",
         json.dumps({"properties": {"accessPolicies": []}}).encode()),
        # role assignments (RoleAssignmentCreateParameters)
        *[(front, "PUT", assignment, json.dumps(body).encode()) for body in (
            {}, {"properties": "x"}, {"properties": {"roleDefinitionId": role, "principalId": 5}},
            {"properties": {"roleDefinitionId": 5, "principalId": str(uuid.uuid4())}},
            {"properties": {"roleDefinitionId": role, "principalId": "not-a-guid"}},
            {"properties": {"roleDefinitionId": role, "principalId": str(uuid.uuid4()), "principalType": 5}},
            {"properties": {"roleDefinitionId": role, "principalId": str(uuid.uuid4()), "description": ["x"]}})],
        (front, "PUT", f"{cloud.storage_account_id}/providers/Microsoft.Authorization/roleAssignments/notaguid"
                       f"{AUTH_API}",
         json.dumps({"properties": {"roleDefinitionId": role, "principalId": str(uuid.uuid4())}}).encode()),
        # Key Vault secrets (names and SecretSetParameters)
        *[(secrets, "PUT", f"/secrets/{name}{SECRETS_API}", b'{"value": "v"}') for name in (
            "a%2Fb", "a%2fb", "..", "%2e%2e", "a_b", "a.b", "x" * 128, "x" * 200, "%00", "caf%C3%A9")],
        *[(secrets, "GET", f"/secrets/{name}{SECRETS_API}", None) for name in ("a%2Fb", "..", "x" * 200)],
        *[(secrets, "PUT", f"/secrets/hostile{SECRETS_API}", body) for body in (
            b'{"value": 5}', b'{"value": null}', b"{}", b'{"value": "v", "tags": "x"}',
            b'{"value": "v", "contentType": 5}', b'{"value": "v", "attributes": {"enabled": "yes"}}',
            json.dumps({"value": "v" * 30000}).encode(), _deep(1000), b"\xff")],
    ]
    return cases


def test_every_hostile_body_is_a_4xx_with_the_services_error_body(sandbox):
    cloud = sandbox.source
    answered = []
    cases = _hostile_requests(cloud)
    for port, method, path, body in cases:
        token = sandbox.vault_token(cloud) if port == cloud.vault_port else sandbox.token(cloud)
        status, answer = sandbox.raw(port, method, path, body, {"Authorization": "Bearer " + token,
                                                                "Content-Type": "application/json"})
        well_formed = isinstance(answer, dict) and isinstance(answer.get("error"), dict) \
            and answer["error"].get("code") and answer["error"].get("message")
        if status not in (400, 413) or not well_formed:
            answered.append((method, path, (body or b"")[:80], status, str(answer)[:200]))
    assert len(cases) > 100
    assert answered == []


def test_no_hostile_body_is_stored_or_breaks_later_requests(sandbox):
    cloud = sandbox.source
    vault_before = sandbox.arm(cloud, "GET", cloud.vault_id + VAULT_API)[1]
    for port, method, path, body in _hostile_requests(cloud):
        token = sandbox.vault_token(cloud) if port == cloud.vault_port else sandbox.token(cloud)
        sandbox.raw(port, method, path, body, {"Authorization": "Bearer " + token,
                                               "Content-Type": "application/json"})
    assert sandbox.arm(cloud, "GET", cloud.vault_id + VAULT_API)[1] == vault_before
    for collection in ("exportPipelines", "importPipelines", "pipelineRuns"):
        status, answer = sandbox.arm(cloud, "GET", f"{cloud.registry_id}/{collection}{PIPELINES_API}")
        assert status == 200 and not [d for d in answer["value"] if d["name"].startswith("hostile")]
    vault_token = {"Authorization": "Bearer " + sandbox.vault_token(cloud)}
    status, secret = sandbox.raw(cloud.vault_port, "GET", f"/secrets/{SECRET_NAME}{SECRETS_API}", headers=vault_token)
    assert status == 200 and secret["value"].startswith("s")
    status, listing = sandbox.raw(cloud.vault_port, "GET", f"/secrets{SECRETS_API}", headers=vault_token)
    assert status == 200
    assert [entry["id"].rsplit("/", 1)[-1] for entry in listing["value"]] == [SECRET_NAME]
    stored = json.loads((sandbox.home / "state" / "resources.json").read_text())
    assert len(json.dumps(stored)) < 64 * 1024


def test_valid_bodies_still_work_and_unknown_fields_are_not_stored(sandbox):
    cloud = sandbox.source
    path = f"{cloud.registry_id}/exportPipelines/wellformed1{PIPELINES_API}"
    status, pipeline = sandbox.arm(cloud, "PUT", path, {**_pipeline_body(cloud, options=["OverwriteBlobs"]),
                                                        "junk": "x" * 1000})
    assert status == 200 and pipeline["properties"]["target"]["uri"] == cloud.container_uri
    status, vault = sandbox.arm(cloud, "PATCH", cloud.vault_id + VAULT_API,
                                {"properties": {"enableRbacAuthorization": False, "junk": "x" * 1000}})
    assert status == 200 and "junk" not in vault["properties"]
    status, _ = sandbox.raw(cloud.vault_port, "PUT", f"/secrets/Valid-Name-1{SECRETS_API}", b'{"value": "v"}',
                            {"Authorization": "Bearer " + sandbox.vault_token(cloud),
                             "Content-Type": "application/json"})
    assert status == 200
    assert sandbox.arm(cloud, "DELETE", path)[0] == 200


# ---- (e) secret files are private from their first byte -----------------------------------------------------

SECRET_FILES = ("server-key.pem", "credentials.json", "resources.tmp", "source.env", "target.env")
WRITE_STARTUP_FILES = """
import sys
from pathlib import Path
from acrtransfer_sandbox.runtime import bootstrap
from acrtransfer_sandbox.runtime import server
from acrtransfer_sandbox.plumbing.certs import ensure_certificates
from acrtransfer_sandbox.plumbing.config import SandboxConfig
from acrtransfer_sandbox.plumbing.store import ResourceStore
config = SandboxConfig(home=Path(sys.argv[1]), port_base=21000, trigger_interval=1.0)
credentials = server.load_credentials(config)
ensure_certificates(config.home / "tls")
server.seed_store(config, ResourceStore(config.state_dir / "resources.json"), credentials)
for cloud in config.clouds:
    bootstrap.write_env_file(config, credentials, cloud)
"""


def test_secret_files_are_created_0600(tmp_path):
    """What the sandbox writes at start (`serve` and `up`), traced at the system call: each file holding a secret is
    created with mode 0600 (never world-readable for an instant, whatever the umask), not chmod-ed afterwards."""
    strace = find_binary("strace", "apt-get install -y strace")
    trace = tmp_path / "trace.txt"
    subprocess.run([strace, "-f", "-e", "trace=open,openat,creat", "-o", str(trace), sys.executable, "-c",
                    WRITE_STARTUP_FILES, str(tmp_path / "home")], cwd=REPO_ROOT, check=True, timeout=120,
                   capture_output=True)
    created = {}
    for line in trace.read_text().splitlines():
        match = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)", ([A-Z_|]+)(?:, (0\d+))?\)', line)
        if match and "O_CREAT" in match.group(2):
            created.setdefault(match.group(1).rsplit("/", 1)[-1], []).append(match.group(3))
    assert set(SECRET_FILES) <= set(created), created
    assert {name: modes for name, modes in created.items() if name in SECRET_FILES and set(modes) != {"0600"}} == {}


def test_hostile_forms_and_queries_are_answered_not_failed(sandbox):
    cloud = sandbox.source
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    broken_multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    token = f"/{cloud.tenant_id}/oauth2/v2.0/token"
    for port, path, body, headers in [
            (cloud.front_port, token, b"\xff\xfe=\xff", form),
            (cloud.front_port, token, b"--b\r\nbad", broken_multipart),
            (cloud.registry_front_port, "/oauth2/exchange", b"\xff\xfe=\xff", form),
            (cloud.registry_front_port, "/oauth2/exchange", b"--b\r\nbad", broken_multipart),
            (cloud.registry_front_port, "/oauth2/token", b"\xff=\xff", form)]:
        status, answer = sandbox.raw(port, "POST", path, body, headers)
        assert status == 400 and (answer.get("error") or answer.get("errors")), (path, status, answer)
    resources = f"/subscriptions/{cloud.subscription_id}/resources"
    for query in ("$filter=resourceType%20eq%20x", "$filter=resourcetype%20eq", "$filter=resourceType%20eq%20%27"):
        status, answer = sandbox.arm(cloud, "GET", f"{resources}?{query}")
        assert status == 400 and answer["error"]["code"], (query, answer)
    status, answer = sandbox.arm(cloud, "GET", f"{resources}?$filter=resourceType%20eq%20%27{VAULT_TYPE}%27")
    assert status == 200 and [doc["id"] for doc in answer["value"]] == [cloud.vault_id]


def test_arm_and_vault_paths_that_are_not_normalised_are_refused(sandbox):
    """No lookup by path can be steered elsewhere: dot segments, empty segments and encoded separators are a 400
    on the ARM front and the vault's data plane too."""
    source, target = sandbox.source, sandbox.target
    vaults = "/resourceGroups/acrtransfer-rg/providers/Microsoft.KeyVault/vaults/"
    escape = "%2F".join([".."] * 6 + ["subscriptions", target.subscription_id]) + target.vault_id.split(
        target.subscription_id, 1)[1].replace("/", "%2F")
    for path in (f"/subscriptions/{source.subscription_id}/resourceGroups/x/../../{target.subscription_id}{vaults}"
                 f"{target.vault_name}",
                 f"/subscriptions/{source.subscription_id}/../{target.subscription_id}{vaults}{target.vault_name}",
                 f"/subscriptions/{source.subscription_id}{vaults}x%2F{escape}",
                 f"/subscriptions/{source.subscription_id}{vaults}{source.vault_name}/./",
                 f"/subscriptions/{source.subscription_id}//resourceGroups/acrtransfer-rg",
                 f"{source.storage_account_id}/x/../../../../../{target.subscription_id}/providers/"
                 "Microsoft.Authorization/roleAssignments"):
        status, answer = sandbox.arm(source, "GET", path + VAULT_API)
        assert (status, answer["error"]["code"]) == (400, "InvalidRequestUri"), (path, answer)
    vault_token = {"Authorization": "Bearer " + sandbox.vault_token(source)}
    for path in ("/secrets/../secrets/acrtransfer-sas", "/secrets/a%2F..%2Facrtransfer-sas", "/secrets//x"):
        status, answer = sandbox.raw(source.vault_port, "GET", path + SECRETS_API, headers=vault_token)
        assert (status, answer["error"]["code"]) == (400, "BadParameter"), (path, answer)
