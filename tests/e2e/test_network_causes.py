"""The causes of failed runs operators report most, set up as a user would (`az storage account update`,
`az keyvault update`, `az acr update`, `az storage account keys renew`): each run then fails with the service's
message, and undoing the setting (where that is cheap) makes the next run pass. Every test puts the shared clouds
back as it found them, whatever happens.
"""
import contextlib
import datetime
import json
import os
import subprocess

import pytest
import requests

from .conftest import AZ, SAMPLE_REPOSITORY, AzError, unique
from .workflow import create_export_pipeline, run_export

LATEST = f"{SAMPLE_REPOSITORY}:latest"
STORAGE_DENIED = ("Failed to access storage. Service request failed. Status: 403 (This request is not authorized to "
                  "perform this operation)")
PERMISSIONS_API = "api-version=2022-04-01"
RENEW_IMAGE = "renewed/app:v1"


def _account(cloud, *args):
    return cloud.az("storage", "account", "update", "--resource-group", cloud.group, "--name",
                    cloud["ACRSANDBOX_STORAGE_ACCOUNT"], *args)


def _vault(cloud, *args):
    return cloud.az("keyvault", "update", "--resource-group", cloud.group, "--name", cloud["ACRSANDBOX_KEYVAULT"],
                    *args)


def _registry(cloud, *args, check=True):
    return cloud.az("acr", "update", "--name", cloud.registry, *args, check=check)


@contextlib.contextmanager
def _setting(apply, undo):
    apply()
    try:
        yield
    finally:
        undo()


def _failed_with(cloud, pipeline, *fragments, artifact=LATEST):
    result, run = run_export(cloud, pipeline, unique("blob"), artifact)
    assert result.returncode != 0 and run["response"]["status"] == "Failed"
    message = run["response"]["pipelineRunErrorMessage"]
    for fragment in fragments:
        assert fragment in message, message
    return message


def _passes(cloud, pipeline, artifact=LATEST):
    result, run = run_export(cloud, pipeline, unique("blob"), artifact)
    assert result.returncode == 0, result.stderr
    assert run["response"]["status"] == "Succeeded"


# Storage behind a firewall: ACR Transfer is not a trusted service, so the bypass does not help
@pytest.mark.parametrize("managed_identity", [False, True])
def test_storage_default_action_deny_fails_runs_whatever_the_bypass(source, managed_identity):
    pipeline = unique("fwdeny")
    create_export_pipeline(source, pipeline, managed_identity=managed_identity)
    with _setting(lambda: _account(source, "--default-action", "Deny", "--bypass", "AzureServices"),
                  lambda: _account(source, "--default-action", "Allow")):
        shown = source.az("storage", "account", "show", "--name", source["ACRSANDBOX_STORAGE_ACCOUNT"])
        assert shown["networkRuleSet"]["defaultAction"] == "Deny"
        _failed_with(source, pipeline, STORAGE_DENIED, "AuthorizationFailure")
    _passes(source, pipeline)


def test_storage_public_network_access_disabled_fails_runs(source):
    pipeline = unique("fwoff")
    create_export_pipeline(source, pipeline)
    with _setting(lambda: _account(source, "--public-network-access", "Disabled"),
                  lambda: _account(source, "--public-network-access", "Enabled")):
        _failed_with(source, pipeline, STORAGE_DENIED, "publicNetworkAccess Disabled")
    _passes(source, pipeline)


def test_sas_pipeline_on_an_account_without_shared_key_access_fails(source):
    pipeline = unique("nokey")
    create_export_pipeline(source, pipeline)
    with _setting(lambda: _account(source, "--allow-shared-key-access", "false"),
                  lambda: _account(source, "--allow-shared-key-access", "true")):
        assert source.az("storage", "account", "show", "--name",
                         source["ACRSANDBOX_STORAGE_ACCOUNT"])["allowSharedKeyAccess"] is False
        _failed_with(source, pipeline, "KeyBasedAuthenticationNotPermitted",
                     "Key based authentication is not permitted on this storage account.")
    _passes(source, pipeline)


# Key Vault firewall: ACR is trusted, so only bypass AzureServices lets it in
def test_vault_firewall_without_the_trusted_bypass_fails_and_with_it_passes(source):
    pipeline = unique("kvfw")
    create_export_pipeline(source, pipeline)
    try:
        _vault(source, "--default-action", "Deny", "--bypass", "None")
        _failed_with(source, pipeline, "Status: 403 (Forbidden)", "ForbiddenByFirewall",
                     "caller is not a trusted service")
        _vault(source, "--bypass", "AzureServices")
        _passes(source, pipeline)
        _vault(source, "--public-network-access", "Disabled")
        shown = source.az("keyvault", "show", "--name", source["ACRSANDBOX_KEYVAULT"])["properties"]
        assert shown["publicNetworkAccess"] == "Disabled"
        _failed_with(source, pipeline, "Status: 403 (Forbidden)", "Public network access is disabled")
    finally:
        _vault(source, "--public-network-access", "Enabled", "--default-action", "Allow", "--bypass", "AzureServices")
    _passes(source, pipeline)


# A SAS signed with a key that was renewed since
def _key2(cloud) -> str:
    keys = cloud.az("storage", "account", "keys", "list", "--resource-group", cloud.group, "--account-name",
                    cloud["ACRSANDBOX_STORAGE_ACCOUNT"])
    assert [key["keyName"] for key in keys] == ["key1", "key2"] and all(key.get("creationTime") for key in keys)
    return keys[1]["value"]


def _sas_signed_with(cloud, key: str) -> str:
    expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%MZ")
    blob_endpoint = cloud["ACRSANDBOX_STORAGE_CONTAINER_URI"].rsplit("/", 1)[0]
    return cloud.az("storage", "container", "generate-sas", "--account-name", cloud["ACRSANDBOX_STORAGE_ACCOUNT"],
                    "--account-key", key, "--blob-endpoint", blob_endpoint, "--name",
                    cloud["ACRSANDBOX_STORAGE_CONTAINER"], "--permissions", "racwdl", "--expiry", expiry,
                    "--https-only")


def _list_with(cloud, sas: str) -> tuple:
    """(status, storage's error code) of a blob listing with the SAS: az hides the code of a 403, storage says it."""
    response = requests.get(f"{cloud['ACRSANDBOX_STORAGE_CONTAINER_URI']}?restype=container&comp=list&{sas}",
                            verify=cloud["REQUESTS_CA_BUNDLE"], timeout=60)
    return response.status_code, response.headers.get("x-ms-error-code")


def test_a_sas_signed_before_keys_renew_stops_working(source, target):
    # In the target cloud, whose account the other tests' exports do not use; key2 signs this SAS (the seeded SAS
    # is signed with key1, which stays). An image of its own to export, copied from the source's backend.
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{source['ACRSANDBOX_REGISTRY_BACKEND']}/{LATEST}",
                    f"docker://{target['ACRSANDBOX_REGISTRY_BACKEND']}/{RENEW_IMAGE}"],
                   capture_output=True, check=True, timeout=120)
    sas = _sas_signed_with(target, _key2(target))
    pipeline = unique("renew")
    create_export_pipeline(target, pipeline, secret_uri=target.put_secret(unique("renew"), sas))
    _passes(target, pipeline, RENEW_IMAGE)
    assert _list_with(target, sas) == (200, None)

    renewed = target.az("storage", "account", "keys", "renew", "--resource-group", target.group, "--account-name",
                        target["ACRSANDBOX_STORAGE_ACCOUNT"], "--key", "key2")
    shown = target.az("storage", "account", "show", "--name", target["ACRSANDBOX_STORAGE_ACCOUNT"])
    assert shown["keyCreationTime"]["key2"] > shown["keyCreationTime"]["key1"]
    assert renewed[1]["value"] not in sas
    # Storage itself (Azurite, restarted with the new key) refuses the old SAS: 403, though Azurite's code is
    # AuthorizationFailure where Azure says AuthenticationFailed; the run reports Azure's.
    assert _list_with(target, sas)[0] == 403
    _failed_with(target, pipeline, "Status: 403 (Server failed to authenticate the request.",
                 "ErrorCode: AuthenticationFailed", artifact=RENEW_IMAGE)
    # A new SAS signed with the renewed key works again.
    target.put_secret(target.az("acr", "export-pipeline", "show", "--resource-group", target.group, "--registry",
                                target.registry, "--name", pipeline)["target"]["keyVaultUri"].rsplit("/", 1)[1],
                      _sas_signed_with(target, _key2(target)))
    _passes(target, pipeline, RENEW_IMAGE)


# The registry: Premium only, and the export policy
def test_a_registry_moved_off_premium_fails_runs_and_refuses_pipelines(source):
    pipeline = unique("sku")
    create_export_pipeline(source, pipeline)
    with _setting(lambda: _registry(source, "--sku", "Standard"), lambda: _registry(source, "--sku", "Premium")):
        assert source.az("acr", "show", "--name", source.registry)["sku"]["name"] == "Standard"
        _failed_with(source, pipeline, "only on the Premium SKU")
        with pytest.raises(AzError, match="Premium"):
            create_export_pipeline(source, unique("sku"))
    _passes(source, pipeline)


def _export_pipelines(cloud) -> list:
    return [p["name"] for p in cloud.acr("export-pipeline", "list")]


def test_export_policy_rules_and_an_export_pipeline_refused_while_exports_are_disabled(target):
    result = target.az_result("acr", "update", "--name", target.registry, "--allow-exports", "false")
    assert result.returncode != 0 and "public network access is disabled" in result.stderr

    pipeline = unique("policy")
    create_export_pipeline(target, pipeline)
    result = target.az_result("acr", "update", "--name", target.registry, "--allow-exports", "false",
                              "--public-network-enabled", "false")
    assert result.returncode != 0 and "export pipelines exist" in result.stderr
    for name in _export_pipelines(target):
        target.acr("export-pipeline", "delete", "--name", name)

    with _setting(lambda: _registry(target, "--allow-exports", "false", "--public-network-enabled", "false"),
                  lambda: _registry(target, "--allow-exports", "true", "--public-network-enabled", "true")):
        shown = target.az("acr", "show", "--name", target.registry)
        assert (shown["publicNetworkAccess"], shown["policies"]["exportPolicy"]["status"]) == ("Disabled", "disabled")
        with pytest.raises(AzError) as refusal:
            create_export_pipeline(target, unique("policy"))
        assert "export policy" in refusal.value.stderr and "--allow-exports true" in refusal.value.stderr
        assert _export_pipelines(target) == []
    create_export_pipeline(target, pipeline)
    target.acr("export-pipeline", "delete", "--name", pipeline)


# Who may run pipelines: ARM's permissions API answers from the caller's role assignments
def _login_as_added_operator(sandbox, cloud, tmp_path, role: str):
    """`add-operator`, then `az login --service-principal` as it in a config dir of its own; its az runner."""
    printed = json.loads(sandbox.cli("add-operator", "--cloud", cloud.name, "--name", unique("op"), "--role",
                                     role).stdout)
    env = {**os.environ, "AZURE_CONFIG_DIR": str(tmp_path / "az"), "REQUESTS_CA_BUNDLE": cloud["REQUESTS_CA_BUNDLE"],
           "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_ONLY_SHOW_ERRORS": "true"}

    def az(*args):
        done = subprocess.run([AZ, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-1500:]
        return done.stdout
    az("config", "set", "core.instance_discovery=false")
    az("cloud", "register", "--name", "AddedOperator", "--endpoint-resource-manager",
       cloud["ACRSANDBOX_ARM_ENDPOINT"].rstrip("/"))
    az("cloud", "set", "--name", "AddedOperator")
    az("login", "--service-principal", "--username", printed["appId"], f"--password={printed['password']}",
       "--tenant", printed["tenant"], "--output", "none")
    return az


def _actions(run_az, cloud) -> list:
    registry_id = cloud.az("acr", "show", "--name", cloud.registry)["id"]
    answer = json.loads(run_az("rest", "--method", "get", "--url",
                               f"{cloud['ACRSANDBOX_ARM_ENDPOINT'].rstrip('/')}{registry_id}/providers/"
                               f"Microsoft.Authorization/permissions?{PERMISSIONS_API}", "--output", "json"))
    return [action for entry in answer["value"] for action in entry["actions"]]


def test_permissions_follow_the_role_of_each_principal(sandbox, source, tmp_path):
    assert _actions(lambda *args: subprocess.run([AZ, *args], env={**os.environ, **source.env}, capture_output=True,
                                                 text=True, check=True, timeout=120).stdout, source) == ["*"]
    reader = _login_as_added_operator(sandbox, source, tmp_path / "reader", "Reader")
    assert _actions(reader, source) == ["*/read"]
    runner = _login_as_added_operator(sandbox, source, tmp_path / "runner",
                                      "Container Registry Transfer Pipeline Contributor")
    assert "Microsoft.ContainerRegistry/registries/pipelineRuns/*" in _actions(runner, source)


# Images `check --artifacts` must name
def _layers(cloud, reference: str) -> list:
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{cloud['ACRSANDBOX_REGISTRY_BACKEND']}/{reference}"],
                         capture_output=True, check=True, timeout=60).stdout
    return json.loads(raw)["layers"]


def test_special_images_are_in_the_registry_as_declared(sandbox, source):
    digest = sandbox.cli("push-special-image", "--cloud", "source", "--image", "special/windows:v1",
                         "--foreign-layer").stdout.strip()
    assert source.manifest_digest("special/windows:v1") == digest
    assert [layer.get("urls") is not None for layer in _layers(source, "special/windows:v1")] == [True, False]
    sandbox.cli("push-special-image", "--cloud", "source", "--image", "special/huge:v1", "--declared-layer-gib", "9")
    assert [layer["size"] for layer in _layers(source, "special/huge:v1")] == [9 * 1024 ** 3]
