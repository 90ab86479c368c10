"""Issue 15's causes in the sandbox's control plane: the storage account, vault and registry settings users change
with `az storage account update`, `az keyvault update`, `az acr update` and `keys renew` (the request bodies are
what those commands send), the service's rules on them, and the runs that fail because of them."""
import datetime

import pytest
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas, generate_container_sas

from acrtransfer_sandbox.plumbing.config import SECRET_NAME
from acrtransfer_sandbox.rules.sas import SAS_KEY_RENEWED, signed_with_one_of
from acrtransfer_sandbox.rules.vaults import new_secret_version

from acrtransfer_sandbox.rules.network import (KEY_AUTH_NOT_PERMITTED, pipeline_refused, registry_update_error,
                                               shared_key_refused, storage_unreachable, vault_unreachable)
from acrtransfer_sandbox.rules.pipelines import EXPORT, IMPORT, pipeline_principal_id
from acrtransfer_sandbox.rules.storage_accounts import SEEDED_KEY_TIME

from .harness import API, export_pipeline_body, managed_storage, pipeline_path, sas_storage
from .test_executor import _execute, _outcome, _pipeline, _run

STORAGE_DENIED = ("Failed to access storage. Service request failed. Status: 403 (This request is not authorized to "
                  "perform this operation)")
REGISTRY_API = "?api-version=2025-06-01-preview"
STORAGE_API = "?api-version=2024-01-01"
VAULT_API = "?api-version=2023-07-01"


def _patch_account(sandbox, cloud, properties, method="patch"):
    async def scenario(client):
        response = await getattr(client, method)(cloud.storage_account_id + STORAGE_API,
                                                 json={"properties": properties})
        return response.status, await response.json()
    return sandbox.run(scenario, cloud)


# Storage account: update, keys
def test_get_shows_the_network_settings_and_key_times_of_a_fresh_account(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        return await (await client.get(cloud.storage_account_id + STORAGE_API)).json()

    props = sandbox.run(scenario, cloud)["properties"]
    assert props["publicNetworkAccess"] == "Enabled"
    assert props["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [],
                                    "virtualNetworkRules": []}
    assert props["allowSharedKeyAccess"] is True
    assert props["keyCreationTime"] == {"key1": SEEDED_KEY_TIME, "key2": SEEDED_KEY_TIME}
    assert props["primaryEndpoints"]["blob"] == cloud.blob_endpoint + "/"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_update_changes_network_access_firewall_and_shared_key_as_az_sends_them(sandbox, method):
    cloud = sandbox.source
    status, doc = _patch_account(sandbox, cloud, {
        "publicNetworkAccess": "Disabled", "allowSharedKeyAccess": False,
        "networkAcls": {"bypass": "Logging, Metrics, AzureServices", "defaultAction": "Deny"},
        "encryption": {"keySource": "Microsoft.Storage"}}, method)
    assert status == 200
    props = sandbox.store.get(cloud.storage_account_id)["properties"]
    assert doc["properties"] == props
    assert (props["publicNetworkAccess"], props["allowSharedKeyAccess"]) == ("Disabled", False)
    assert props["networkAcls"]["defaultAction"] == "Deny"
    assert props["networkAcls"]["bypass"] == "Logging, Metrics, AzureServices"
    assert props["networkAcls"]["ipRules"] == []                 # what the body did not name is kept


@pytest.mark.parametrize("properties", [
    {"publicNetworkAccess": "Sometimes"}, {"allowSharedKeyAccess": "false"},
    {"networkAcls": {"defaultAction": "Block"}}, {"networkAcls": {"bypass": "Everything"}},
    {"networkAcls": "Deny"}])
def test_update_refuses_bad_bodies_and_changes_nothing(sandbox, properties):
    cloud = sandbox.source
    before = sandbox.store.get(cloud.storage_account_id)
    status, body = _patch_account(sandbox, cloud, properties)
    assert status == 400
    assert body["error"]["code"] == "InvalidRequestContent"
    assert sandbox.store.get(cloud.storage_account_id) == before


def test_update_of_another_account_or_without_a_token_is_refused(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        other = await client.patch(cloud.storage_account_id + "x" + STORAGE_API, json={"properties": {}})
        foreign = await client.patch(sandbox.target.storage_account_id + STORAGE_API, json={"properties": {}})
        anonymous = await client.patch(cloud.storage_account_id + STORAGE_API, json={"properties": {}},
                                       headers={"Authorization": ""})
        keys = await client.post(f"{cloud.storage_account_id}/regenerateKey{STORAGE_API}", json={"keyName": "key1"},
                                 headers={"Authorization": ""})
        return other.status, foreign.status, anonymous.status, keys.status

    assert sandbox.run(scenario, cloud) == (404, 404, 401, 401)


def test_list_keys_answers_both_keys_with_their_creation_times_only_for_its_account(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        own = await client.post(f"{cloud.storage_account_id}/listKeys{STORAGE_API}")
        other = await client.post(f"{cloud.storage_account_id}x/listKeys{STORAGE_API}")
        foreign = await client.post(f"{sandbox.target.storage_account_id}/listKeys{STORAGE_API}")
        return own.status, await own.json(), other.status, foreign.status

    status, body, other, foreign = sandbox.run(scenario, cloud)
    assert status == 200
    assert [(k["keyName"], k["value"], k["creationTime"]) for k in body["keys"]] == [
        ("key1", sandbox.credentials.storage_keys["source"], SEEDED_KEY_TIME),
        ("key2", sandbox.credentials.secondary_storage_keys["source"], SEEDED_KEY_TIME)]
    assert (other, foreign) == (404, 404)


def test_regenerate_key_replaces_only_that_key_and_records_its_creation_time(sandbox):
    cloud = sandbox.source
    old = sandbox.credentials.account_keys("source")

    async def scenario(client):
        renewed = await client.post(f"{cloud.storage_account_id}/regenerateKey{STORAGE_API}", json={"keyName": "key2"})
        shown = await client.get(cloud.storage_account_id + STORAGE_API)
        return renewed.status, await renewed.json(), await shown.json()

    status, body, shown = sandbox.run(scenario, cloud)
    assert status == 200
    new = sandbox.credentials.account_keys("source")
    assert new["key1"] == old["key1"] and new["key2"] != old["key2"]
    assert [k["value"] for k in body["keys"]] == [new["key1"], new["key2"]]
    times = shown["properties"]["keyCreationTime"]
    assert times["key1"] == SEEDED_KEY_TIME and times["key2"] > SEEDED_KEY_TIME
    assert body["keys"][1]["creationTime"] == times["key2"]


@pytest.mark.parametrize("body", [{"keyName": "key3"}, {}, {"keyName": 1}])
def test_regenerate_key_refuses_a_bad_key_name(sandbox, body):
    cloud = sandbox.source
    before = sandbox.credentials.account_keys("source")

    async def scenario(client):
        response = await client.post(f"{cloud.storage_account_id}/regenerateKey{STORAGE_API}", json=body)
        return response.status

    assert sandbox.run(scenario, cloud) == 400
    assert sandbox.credentials.account_keys("source") == before


# Key Vault: the network settings `az keyvault update` sends
def test_vault_update_keeps_network_acls_and_public_network_access(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        vault = await (await client.get(cloud.vault_id + VAULT_API)).json()
        vault["properties"]["networkAcls"] = {"bypass": "None", "defaultAction": "Deny", "ipRules": [],
                                              "virtualNetworkRules": []}
        vault["properties"]["publicNetworkAccess"] = "Disabled"
        response = await client.put(cloud.vault_id + VAULT_API, json=vault)
        return response.status, await (await client.get(cloud.vault_id + VAULT_API)).json()

    status, shown = sandbox.run(scenario, cloud)
    assert status == 200
    assert shown["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert shown["properties"]["networkAcls"]["bypass"] == "None"
    assert shown["properties"]["publicNetworkAccess"] == "Disabled"
    assert shown["properties"]["vaultUri"] == cloud.vault_url


# Registry: SKU, public network access, export policy
def _patch_registry(sandbox, cloud, body):
    async def scenario(client):
        response = await client.patch(cloud.registry_id + REGISTRY_API, json=body)
        return response.status, await response.json()
    return sandbox.run(scenario, cloud)


def test_registry_sku_change_shows_in_get_and_in_the_listing(sandbox):
    cloud = sandbox.source
    status, doc = _patch_registry(sandbox, cloud, {"sku": {"name": "Standard"}})
    assert status == 200 and doc["sku"] == {"name": "Standard", "tier": "Standard"}

    async def scenario(client):
        listed = await (await client.get(f"/subscriptions/{cloud.subscription_id}/providers/"
                                         f"Microsoft.ContainerRegistry/registries{REGISTRY_API}")).json()
        return listed["value"][0]["sku"]["name"]

    assert sandbox.run(scenario, cloud) == "Standard"


def test_export_policy_can_be_disabled_only_with_public_network_access_disabled(sandbox):
    cloud = sandbox.source
    disable = {"properties": {"policies": {"exportPolicy": {"status": "disabled"}}}}
    status, body = _patch_registry(sandbox, cloud, disable)
    assert status == 400 and "public network access" in body["error"]["message"]
    assert sandbox.store.get(cloud.registry_id)["properties"]["policies"]["exportPolicy"]["status"] == "enabled"

    status, body = _patch_registry(sandbox, cloud, {"properties": {
        "publicNetworkAccess": "Disabled", "networkRuleSet": {"defaultAction": "Deny"},
        "policies": {"exportPolicy": {"status": "disabled"}}}})
    assert status == 200
    assert body["properties"]["publicNetworkAccess"] == "Disabled"
    assert body["properties"]["policies"]["exportPolicy"] == {"status": "disabled"}


def test_export_policy_cannot_be_disabled_while_an_export_pipeline_exists(sandbox):
    cloud = sandbox.source
    _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    status, body = _patch_registry(sandbox, cloud, {"properties": {
        "publicNetworkAccess": "Disabled", "policies": {"exportPolicy": {"status": "disabled"}}}})
    assert status == 400
    assert "export pipelines exist (pipeline1)" in body["error"]["message"]
    assert sandbox.store.get(cloud.registry_id)["properties"]["publicNetworkAccess"] == "Enabled"


@pytest.mark.parametrize("body", [{"sku": {"name": "Gold"}}, {"properties": {"publicNetworkAccess": "Off"}},
                                  {"properties": {"policies": {"exportPolicy": {"status": "maybe"}}}},
                                  {"sku": "Premium"}])
def test_registry_update_refuses_bad_bodies(sandbox, body):
    cloud = sandbox.source
    before = sandbox.store.get(cloud.registry_id)
    status, answer = _patch_registry(sandbox, cloud, body)
    assert status == 400 and answer["error"]["code"] == "InvalidRequestContent"
    assert sandbox.store.get(cloud.registry_id) == before


def _put_pipeline(sandbox, cloud, collection, body):
    async def scenario(client):
        response = await client.put(pipeline_path(cloud, collection, "pipeline2") + API, json=body)
        return response.status, await response.json()
    return sandbox.run(scenario, cloud)


def test_export_pipeline_on_a_registry_whose_export_policy_is_disabled_is_refused(sandbox):
    cloud = sandbox.source
    _patch_registry(sandbox, cloud, {"properties": {"publicNetworkAccess": "Disabled",
                                                    "policies": {"exportPolicy": {"status": "disabled"}}}})
    status, body = _put_pipeline(sandbox, cloud, EXPORT.collection, export_pipeline_body(sas_storage(cloud)))
    assert status == 400
    assert "export policy" in body["error"]["message"] and "--allow-exports true" in body["error"]["message"]
    assert sandbox.store.get(pipeline_path(cloud, EXPORT.collection, "pipeline2")) is None


def test_pipelines_on_a_registry_that_is_not_premium_are_refused_and_its_runs_fail(sandbox, engine):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))
    _patch_registry(sandbox, cloud, {"sku": {"name": "Standard"}})
    status, body = _put_pipeline(sandbox, cloud, IMPORT.collection, export_pipeline_body(sas_storage(cloud)))
    assert status == 400 and "Premium" in body["error"]["message"]

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed" and "only on the Premium SKU" in message
    assert engine.calls == []


# Runs that meet a firewall or a policy
def _update_store(sandbox, resource_id, **properties):
    doc = sandbox.store.get(resource_id)
    doc["properties"].update(properties)
    sandbox.store.put(resource_id, doc)


@pytest.mark.parametrize("settings", [{"publicNetworkAccess": "Disabled"},
                                      {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}])
@pytest.mark.parametrize("mode", ["SasToken", "ManagedIdentity"])
def test_runs_fail_on_a_storage_account_behind_a_firewall_whatever_the_bypass(sandbox, engine, settings, mode):
    cloud = sandbox.source
    storage = sas_storage(cloud) if mode == "SasToken" else managed_storage(cloud)
    pipeline = _pipeline(sandbox, cloud, IMPORT, storage)
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Contributor", cloud.storage_account_id)
    _update_store(sandbox, cloud.storage_account_id, **settings)

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed" and STORAGE_DENIED in message and "not a trusted Azure service" in message
    assert engine.calls == []


def test_sas_run_on_an_account_without_shared_key_access_fails_but_a_managed_identity_run_passes(sandbox, engine):
    cloud = sandbox.source
    _update_store(sandbox, cloud.storage_account_id, allowSharedKeyAccess=False)
    sas = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(sas))
    assert _outcome(_execute(sandbox, _run(sandbox, cloud, sas))) == ("Failed", KEY_AUTH_NOT_PERMITTED)
    assert "KeyBasedAuthenticationNotPermitted" in KEY_AUTH_NOT_PERMITTED

    managed = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
    sandbox.assign_role(pipeline_principal_id(managed), "Storage Blob Data Reader", cloud.storage_account_id)
    assert _outcome(_execute(sandbox, _run(sandbox, cloud, managed, name="run22222")))[0] == "Succeeded"


@pytest.mark.parametrize("settings, inner", [
    ({"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}, "ForbiddenByFirewall"),
    ({"publicNetworkAccess": "Disabled"}, "ForbiddenByConnection")])
def test_sas_run_behind_a_vault_firewall_without_the_trusted_bypass_fails(sandbox, engine, settings, inner):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))
    _update_store(sandbox, cloud.vault_id, **settings)

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed" and "Status: 403 (Forbidden)" in message and inner in message
    assert engine.calls == []


def test_vault_firewall_with_the_trusted_services_bypass_lets_the_run_through(sandbox, engine):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))
    _update_store(sandbox, cloud.vault_id, networkAcls={"defaultAction": "Deny", "bypass": "AzureServices"})
    assert _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))[0] == "Succeeded"
    assert len(engine.calls) == 1


# The rules alone
def test_rules_leave_a_healthy_setup_alone():
    account = {"name": "a", "properties": {"publicNetworkAccess": "Enabled", "allowSharedKeyAccess": True,
                                           "networkAcls": {"defaultAction": "Allow"}}}
    vault = {"name": "v", "properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}}
    registry = {"name": "r", "sku": {"name": "Premium"}, "properties": {}}
    assert storage_unreachable(account) is None and shared_key_refused(account) is None
    assert vault_unreachable(vault, "p") is None
    assert pipeline_refused(registry, is_export=True) is None
    assert registry_update_error(registry, registry, ["p1"]) is None


# A SAS signed with a key renewed since
def _sdk_sas(kind: str, account: str, key: str) -> str:
    """A SAS made by the storage SDK (an independent implementation of the signing), as az makes it."""
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    if kind == "container":
        return generate_container_sas(account, "transfer", account_key=key, permission="racwdl", expiry=expiry,
                                      protocol="https")
    return generate_account_sas(account, key, ResourceTypes(service=True, container=True, object=True),
                                AccountSasPermissions(read=True, write=True, list=True), expiry, protocol="https")


@pytest.mark.parametrize("kind", ["container", "account"])
def test_the_key_that_signed_a_sas_is_recognised(sandbox, kind):
    keys = sandbox.credentials.account_keys("source")
    sas = _sdk_sas(kind, sandbox.source.storage_account, keys["key2"])
    assert signed_with_one_of(sas, sandbox.source.storage_account, "transfer", [keys["key2"]])
    assert not signed_with_one_of(sas, sandbox.source.storage_account, "transfer", [keys["key1"]])
    # A container SAS covers its container only; an account SAS the whole account.
    assert signed_with_one_of(sas, sandbox.source.storage_account, "other", [keys["key2"]]) == (kind == "account")


def test_a_run_whose_sas_was_signed_with_a_renewed_key_fails_with_authentication_failed(sandbox, engine):
    cloud = sandbox.source
    sas = _sdk_sas("container", cloud.storage_account, sandbox.credentials.account_keys("source")["key2"])
    sandbox.store.add_secret_version(cloud.vault_id, SECRET_NAME, new_secret_version(sas, {}, None))
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))
    assert _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))[0] == "Succeeded"

    async def renew(client):
        return (await client.post(f"{cloud.storage_account_id}/regenerateKey{STORAGE_API}",
                                  json={"keyName": "key2"})).status
    assert sandbox.run(renew, cloud) == 200
    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline, name="run22222")))
    assert state == "Failed" and message == SAS_KEY_RENEWED.format(account=cloud.storage_account)
    assert "ErrorCode: AuthenticationFailed" in message and sas not in message

    # A SAS signed with the seeded key1 still works: only key2 was renewed.
    sandbox.store.add_secret_version(cloud.vault_id, SECRET_NAME, new_secret_version(
        _sdk_sas("account", cloud.storage_account, sandbox.credentials.account_keys("source")["key1"]), {}, None))
    assert _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline, name="run33333")))[0] == "Succeeded"
