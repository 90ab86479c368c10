"""Key Vault: the vault resource as `az keyvault set-policy` changes it, and who may read the secret (runs and the
secrets data plane), with access policies and with Azure RBAC."""
import uuid

import pytest
from azure.mgmt.keyvault.models import AccessPolicyEntry, Permissions, Vault, VaultCreateOrUpdateParameters

from acrtransfer_sandbox.plumbing.config import SECRET_NAME, VAULT_AUDIENCE
from acrtransfer_sandbox.rules.vaults import (KeyVaultAccessDenied, KeyVaultSecretMissing, new_secret_version,
                                              secret_for_principal, seed_vault)

from .harness import API

PRINCIPAL = str(uuid.uuid4())


def set_policy_body(vault_document: dict, object_id: str, secret_permissions) -> dict:
    """The PUT body `az keyvault set-policy --secret-permissions ... --object-id ...` sends after its GET: the vault's
    properties with the object's policy added, or its secret permissions replaced (azure-cli's set_policy)."""
    vault = Vault(vault_document)
    policy = next((p for p in vault.properties.access_policies if p.object_id.lower() == object_id.lower()), None)
    if policy is None:
        vault.properties.access_policies.append(AccessPolicyEntry(
            tenant_id=vault.properties.tenant_id, object_id=object_id,
            permissions=Permissions(secrets=list(secret_permissions))))
    else:
        policy.permissions = Permissions(keys_property=policy.permissions.keys_property,
                                         secrets=list(secret_permissions),
                                         certificates=policy.permissions.certificates,
                                         storage=policy.permissions.storage)
    return VaultCreateOrUpdateParameters(location=vault.location, tags=vault.tags,
                                         properties=vault.properties).as_dict()


async def _set_policy(client, cloud, object_id, secret_permissions):
    vault = await (await client.get(cloud.vault_id + API)).json()
    response = await client.put(cloud.vault_id + API, json=set_policy_body(vault, object_id, secret_permissions))
    assert response.status == 200, await response.text()
    return await response.json()


def _secret_value(sandbox, cloud) -> str:
    return sandbox.store.secret_versions(cloud.vault_id, SECRET_NAME)[-1]["value"]


# Management plane
def test_set_policy_grants_secret_get_to_the_pipeline_identity(sandbox):
    cloud = sandbox.source
    with pytest.raises(KeyVaultAccessDenied):
        secret_for_principal(sandbox.store, cloud.secret_uri, PRINCIPAL)

    async def scenario(client):
        return await _set_policy(client, cloud, PRINCIPAL, ["get"])

    vault = sandbox.run(scenario)
    policies = {p["objectId"]: p["permissions"]["secrets"] for p in vault["properties"]["accessPolicies"]}
    assert policies[PRINCIPAL] == ["get"]
    assert "get" in policies[cloud.operator_object_id]          # the operator's own policy is kept
    assert vault["properties"]["vaultUri"] == cloud.vault_url
    assert secret_for_principal(sandbox.store, cloud.secret_uri, PRINCIPAL) == _secret_value(sandbox, cloud)


def test_set_policy_again_replaces_the_secret_permissions(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        await _set_policy(client, cloud, PRINCIPAL, ["get", "list"])
        return await _set_policy(client, cloud, PRINCIPAL.upper(), ["list"])

    vault = sandbox.run(scenario)
    mine = [p for p in vault["properties"]["accessPolicies"] if p["objectId"].lower() == PRINCIPAL]
    assert len(mine) == 1 and mine[0]["permissions"]["secrets"] == ["list"]
    with pytest.raises(KeyVaultAccessDenied, match="does not have secrets get permission"):
        secret_for_principal(sandbox.store, cloud.secret_uri, PRINCIPAL)


def test_vault_put_cannot_move_the_vault_uri_and_policies_persist(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        vault = await (await client.get(cloud.vault_id + API)).json()
        body = set_policy_body(vault, PRINCIPAL, ["get"])
        body["properties"]["vaultUri"] = "https://evil.example/"
        response = await client.put(cloud.vault_id + API, json=body)
        return await response.json()

    assert sandbox.run(scenario)["properties"]["vaultUri"] == cloud.vault_url
    seed_vault(sandbox.store, cloud, "sv=another-sas")            # what the next start does
    assert secret_for_principal(sandbox.store, cloud.secret_uri, PRINCIPAL) != "sv=another-sas"


def test_a_restart_on_other_ports_moves_the_vault_uri_and_keeps_its_policies(sandbox):
    from acrtransfer_sandbox.plumbing.config import SandboxConfig
    cloud = sandbox.source
    sandbox.grant_secret_get(cloud, PRINCIPAL)
    moved = SandboxConfig(home=sandbox.config.home, port_base=48000, trigger_interval=1).source

    seed_vault(sandbox.store, moved, "sv=unused")
    vault = sandbox.store.get(cloud.vault_id)
    assert vault["properties"]["vaultUri"] == moved.vault_url != cloud.vault_url
    assert any(p["objectId"] == PRINCIPAL for p in vault["properties"]["accessPolicies"])
    assert secret_for_principal(sandbox.store, moved.secret_uri, PRINCIPAL) == _secret_value(sandbox, cloud)


@pytest.mark.parametrize("operation,permissions,expected", [
    ("add", ["list"], ["get", "list"]),
    ("replace", ["list"], ["list"]),
    ("remove", ["get"], None),
])
def test_access_policy_operations(sandbox, operation, permissions, expected):
    cloud = sandbox.source
    sandbox.grant_secret_get(cloud, PRINCIPAL)
    body = {"properties": {"accessPolicies": [{"tenantId": cloud.tenant_id, "objectId": PRINCIPAL,
                                               "permissions": {"secrets": permissions}}]}}

    async def scenario(client):
        response = await client.put(f"{cloud.vault_id}/accessPolicies/{operation}{API}", json=body)
        return response.status, await response.json()

    status, answered = sandbox.run(scenario)
    assert status == 200
    policies = {p["objectId"]: p["permissions"]["secrets"] for p in answered["properties"]["accessPolicies"]}
    assert policies.get(PRINCIPAL) == expected
    assert cloud.operator_object_id in policies
    stored = {p["objectId"]: p for p in sandbox.store.get(cloud.vault_id)["properties"]["accessPolicies"]}
    assert (stored[PRINCIPAL]["permissions"]["secrets"] if PRINCIPAL in stored else None) == expected


def test_an_unknown_vault_is_resource_not_found(sandbox):
    cloud = sandbox.source
    path = cloud.vault_id.replace(cloud.vault_name, "no-such-vault")

    async def scenario(client):
        got = await client.get(path + API)
        put = await client.put(path + API, json={"location": "x", "properties": {}})
        return (got.status, (await got.json())["error"]["code"]), put.status

    assert sandbox.run(scenario) == ((404, "ResourceNotFound"), 404)
    assert sandbox.store.get(path) is None


# secret_for_principal: what a SasToken run gets
def test_secret_versions_and_names(sandbox):
    cloud = sandbox.source
    sandbox.grant_secret_get(cloud, PRINCIPAL)
    first = sandbox.store.secret_versions(cloud.vault_id, SECRET_NAME)[0]
    sandbox.store.add_secret_version(cloud.vault_id, SECRET_NAME, new_secret_version("sv=second", {}, None))

    assert secret_for_principal(sandbox.store, cloud.secret_uri, PRINCIPAL) == "sv=second"
    assert secret_for_principal(sandbox.store, cloud.secret_uri.upper().replace("HTTPS", "https"),
                                PRINCIPAL) == "sv=second"
    versioned = f"{cloud.secret_uri}/{first['version'].upper()}"
    assert secret_for_principal(sandbox.store, versioned, PRINCIPAL) == first["value"]


@pytest.mark.parametrize("uri_of,error", [
    (lambda cloud: cloud.vault_url + "keys/acrtransfer-sas", "is not a Key Vault secret URI"),
    (lambda cloud: cloud.vault_url + "secrets/other", "(SecretNotFound)"),
    (lambda cloud: "https://127.0.0.1:9/secrets/acrtransfer-sas", "(VaultNotFound)"),
])
def test_a_secret_that_is_not_there_says_so(sandbox, uri_of, error):
    cloud = sandbox.source
    sandbox.grant_secret_get(cloud, PRINCIPAL)
    with pytest.raises(KeyVaultSecretMissing) as raised:
        secret_for_principal(sandbox.store, uri_of(cloud), PRINCIPAL)
    assert error in str(raised.value)


def test_each_cloud_answers_for_its_own_vault_only(sandbox):
    sandbox.grant_secret_get(sandbox.source, PRINCIPAL)
    assert secret_for_principal(sandbox.store, sandbox.source.secret_uri, PRINCIPAL)
    with pytest.raises(KeyVaultAccessDenied):
        secret_for_principal(sandbox.store, sandbox.target.secret_uri, PRINCIPAL)


# The secrets data plane
def _get_secret(sandbox, cloud, path="/secrets/" + SECRET_NAME, token=None):
    async def scenario(client):
        response = await client.get(path + "?api-version=7.4")
        return response.status, await response.json()
    return sandbox.run(scenario, cloud, vault=True, token=token)


def test_the_operator_reads_the_secret_through_the_data_plane(sandbox):
    cloud = sandbox.source
    status, bundle = _get_secret(sandbox, cloud)
    assert status == 200
    assert bundle["value"] == _secret_value(sandbox, cloud)
    version = sandbox.store.secret_versions(cloud.vault_id, SECRET_NAME)[-1]["version"]
    assert bundle["id"] == f"{cloud.vault_url}secrets/{SECRET_NAME}/{version}"
    assert _get_secret(sandbox, cloud, f"/secrets/{SECRET_NAME}/{version}")[1]["value"] == bundle["value"]


def test_a_caller_without_secret_get_is_forbidden_on_the_data_plane(sandbox):
    cloud = sandbox.source
    token = sandbox.token(cloud, VAULT_AUDIENCE, object_id=PRINCIPAL)
    status, body = _get_secret(sandbox, cloud, token=token)
    assert status == 403 and "does not have secrets get permission" in body["error"]["message"]
    assert _secret_value(sandbox, cloud) not in str(body)

    sandbox.grant_secret_get(cloud, PRINCIPAL)
    assert _get_secret(sandbox, cloud, token=token)[0] == 200


def test_an_rbac_vault_needs_a_secrets_role_on_the_data_plane(sandbox):
    cloud = sandbox.source
    vault = sandbox.store.get(cloud.vault_id)
    vault["properties"]["enableRbacAuthorization"] = True
    sandbox.store.put(cloud.vault_id, vault)

    status, body = _get_secret(sandbox, cloud)        # the operator's access policy no longer counts
    assert status == 403 and "ForbiddenByRbac" in body["error"]["message"]
    sandbox.assign_role(cloud.operator_object_id, "Key Vault Secrets User", cloud.vault_id)
    assert _get_secret(sandbox, cloud)[0] == 200


@pytest.mark.parametrize("token_of", [
    lambda sandbox, cloud: sandbox.token(cloud),                                  # an ARM token
    lambda sandbox, cloud: sandbox.token(sandbox.target, VAULT_AUDIENCE),         # the other cloud's tenant
    lambda sandbox, cloud: "not-a-token",
])
def test_the_data_plane_refuses_tokens_not_meant_for_it(sandbox, token_of):
    cloud = sandbox.source
    status, body = _get_secret(sandbox, cloud, token=token_of(sandbox, cloud))
    assert status == 401 and "value" not in body


def test_set_secret_adds_a_version_and_a_missing_secret_is_404(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        put = await client.put("/secrets/" + SECRET_NAME + "?api-version=7.4", json={"value": "sv=new"})
        got = await client.get("/secrets/" + SECRET_NAME + "?api-version=7.4")
        missing = await client.get("/secrets/nothing?api-version=7.4")
        listed = await client.get("/secrets?api-version=7.4")
        return put.status, await got.json(), (missing.status, (await missing.json())["error"]["code"]), \
            await listed.json()

    put_status, got, missing, listed = sandbox.run(scenario, cloud, vault=True)
    assert put_status == 200 and got["value"] == "sv=new"
    assert len(sandbox.store.secret_versions(cloud.vault_id, SECRET_NAME)) == 2
    assert missing == (404, "SecretNotFound")
    assert [entry["id"] for entry in listed["value"]] == [f"{cloud.vault_url}secrets/{SECRET_NAME}"]
