"""`check`, part 2, through the real az against the sandbox: the causes operators hit most (storage and vault
firewalls, shared keys, rotated keys, the registry's SKU and export policy, the caller's rights, oversized and
foreign layers), each reported as exactly its entry with a fix that makes check pass; the healthy paths free of
Failed and Warning entries; and no Authorization header ever reaching a host ARM did not list, in both modes."""
import json
import shutil
import socket
import ssl
import threading

import pytest

from .conftest import E2E_PORT_BASE, SAMPLE_REPOSITORY, Cloud, unique
from .test_check import (LATEST, account_sas, assert_export_succeeds, assert_only_failed, assert_passes, check,
                         export_pipeline, failed, import_pipeline, new_container, run_sas_fix, shell)

LISTENER_PORT = E2E_PORT_BASE + 150
NEW_ENTRIES = ("Registry", "CallerPermissions", "StorageNetwork")
# A sandbox without Microsoft.Authorization/permissions (before issue 15's sandbox half) makes CallerPermissions
# Skipped, and only for that reason (the entry says so).
PERMISSIONS_ABSENT = "does not serve effective permissions"


def assert_healthy(cloud: Cloud, kind: str, pipeline: str, *extra: str) -> dict:
    results = assert_passes(cloud, kind, pipeline, *extra)
    assert not [r for r in results.values() if r["status"] == "Warning"], results
    for name in NEW_ENTRIES:
        assert name in results, results
    caller = results["CallerPermissions"]
    assert caller["status"] == "Passed" or PERMISSIONS_ABSENT in caller["detail"], caller
    return results


# ---- healthy paths: no false alarms ---------------------------------------------------------------------------

def test_healthy_sas_export_with_blob_and_artifacts(source):
    exporter, _ = export_pipeline(source, "--grant-access")
    results = assert_healthy(source, "export", exporter, "--storage-blob", unique("blob"), "--artifacts", LATEST,
                             f"{SAMPLE_REPOSITORY}:multiarch")
    for name in ("ExportPolicy", "KeyVaultNetwork", "StorageSharedKey", f"Layers {LATEST}",
                 f"Layers {SAMPLE_REPOSITORY}:multiarch"):
        assert results[name]["status"] == "Passed", results[name]
    assert results["StorageKeys"]["status"] in ("Passed", "Skipped"), results["StorageKeys"]


def test_healthy_managed_identity_pipelines(source):
    container = new_container(source)
    exporter, _ = export_pipeline(source, "--storage-access-mode", "ManagedIdentity", "--grant-access",
                                  container=container)
    assert_healthy(source, "export", exporter, "--storage-blob", unique("blob"))
    importer, _ = import_pipeline(source, "--storage-access-mode", "ManagedIdentity", "--grant-access",
                                  container=container, trigger=True)
    try:
        results = assert_healthy(source, "import", importer)
        assert "StorageSharedKey" not in results  # no token in this mode: shared keys do not matter
    finally:
        source.acr("import-pipeline", "delete", "--name", importer)


def test_healthy_sas_import(source):
    importer, _ = import_pipeline(source, "--grant-access", container=source["ACRSANDBOX_STORAGE_CONTAINER_URI"])
    assert_healthy(source, "import", importer)


# ---- the host guard -----------------------------------------------------------------------------------------

class Listener:
    """An HTTPS listener on 127.0.0.1 with the sandbox's own certificate (which az trusts), so a request sent
    there would be read in full: it writes down each request's head and answers 404."""

    def __init__(self, tls_dir, port):
        self.heads = []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(tls_dir / "server.pem"), str(tls_dir / "server-key.pem"))
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.5)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped.is_set():
            try:
                raw, _ = self.server.accept()
            except OSError:
                continue
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    conn.settimeout(5)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    self.heads.append(head.decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except (OSError, ssl.SSLError):
                raw.close()

    def authorized(self):
        return [head for head in self.heads if "\nauthorization:" in head.lower()]

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture(name="listener")
def host_listener(sandbox):
    listener = Listener(sandbox.home / "tls", LISTENER_PORT)
    try:
        yield listener
    finally:
        listener.close()


def test_no_authorization_header_reaches_a_host_arm_did_not_list(source, listener):
    host = f"https://127.0.0.1:{LISTENER_PORT}"
    # The control: az does reach the listener and would show it a token, so a leak would be seen.
    source.az("rest", "--method", "get", "--url", f"{host}/control", "--resource", "https://vault.acrsandbox.local",
              check=False)
    assert listener.authorized(), listener.heads
    listener.heads.clear()

    exporter, _ = export_pipeline(source, secret_uri=f"{host}/secrets/collect", container=f"{host}/acct/transfer")
    code, results = check(source, "export", exporter, "--storage-blob", unique("blob"))
    assert code == 1 and "KeyVault" in failed(results)
    assert results["Secret"]["status"] == "Skipped" and "was not contacted" in results["Secret"]["detail"]
    importer, _ = import_pipeline(source, "--storage-access-mode", "ManagedIdentity",
                                  container=f"{host}/acct/transfer", trigger=True)
    try:
        code, results = check(source, "import", importer, "--storage-blob", unique("blob"))
        assert code == 1 and "StorageAccount" in failed(results)
        assert results["StorageContainer"]["status"] == "Skipped", results["StorageContainer"]
    finally:
        source.acr("import-pipeline", "delete", "--name", importer)
    assert not listener.authorized(), listener.heads


# ---- each new cause: caught, fixed by its fix ------------------------------------------------------------------

def storage_update(cloud: Cloud, *args: str) -> None:
    cloud.az("storage", "account", "update", "--resource-group", cloud.group, "--name",
             cloud["ACRSANDBOX_STORAGE_ACCOUNT"], *args)


@pytest.mark.parametrize("setting", [("--public-network-access", "Disabled"), ("--default-action", "Deny")])
def test_storage_closed_to_the_service(source, setting):
    exporter, _ = export_pipeline(source, "--grant-access")
    importer, _ = import_pipeline(source, "--storage-access-mode", "ManagedIdentity", "--grant-access",
                                  container=source["ACRSANDBOX_STORAGE_CONTAINER_URI"])
    storage_update(source, *setting)
    try:
        fix = assert_only_failed(source, "export", exporter, "StorageNetwork")
        assert "--public-network-access Enabled --default-action Allow" in fix
        code, results = check(source, "import", importer)
        assert code == 1 and results["StorageNetwork"]["status"] == "Failed"
        shell(source, fix)
        assert_healthy(source, "export", exporter)
        assert_healthy(source, "import", importer)
    finally:
        storage_update(source, "--public-network-access", "Enabled", "--default-action", "Allow")


def test_shared_key_access_disabled_with_a_sas_pipeline(source):
    exporter, _ = export_pipeline(source, "--grant-access")
    storage_update(source, "--allow-shared-key-access", "false")
    try:
        code, results = check(source, "export", exporter)
        assert code == 1 and results["StorageSharedKey"]["status"] == "Failed"
        assert "KeyBasedAuthenticationNotPermitted" in results["StorageSharedKey"]["detail"]
        shell(source, results["StorageSharedKey"]["fix"])
        assert_healthy(source, "export", exporter)
    finally:
        storage_update(source, "--allow-shared-key-access", "true")


def vault_update(cloud: Cloud, *args: str) -> None:
    cloud.az("keyvault", "update", "--resource-group", cloud.group, "--name", cloud["ACRSANDBOX_KEYVAULT"], *args)


@pytest.mark.parametrize("setting", [("--default-action", "Deny", "--bypass", "None"),
                                     ("--public-network-access", "Disabled")])
def test_vault_firewall_without_the_trusted_services_bypass(source, setting):
    exporter, _ = export_pipeline(source, "--grant-access")
    vault_update(source, *setting)
    try:
        code, results = check(source, "export", exporter)
        assert code == 1 and results["KeyVaultNetwork"]["status"] == "Failed", results
        assert "--bypass AzureServices" in results["KeyVaultNetwork"]["fix"]
        shell(source, results["KeyVaultNetwork"]["fix"])
        assert_passes(source, "export", exporter)
        assert_export_succeeds(source, exporter)
    finally:
        vault_update(source, "--public-network-access", "Enabled", "--default-action", "Allow", "--bypass",
                     "AzureServices")


def test_registry_not_premium(source):
    exporter, _ = export_pipeline(source, "--grant-access")
    source.az("acr", "update", "--name", source.registry, "--sku", "Standard")
    try:
        fix = assert_only_failed(source, "export", exporter, "Registry")
        shell(source, fix)
        assert_healthy(source, "export", exporter)
    finally:
        source.az("acr", "update", "--name", source.registry, "--sku", "Premium")


def test_export_policy_disabled_refuses_export_pipelines_with_the_fix(source):
    """The policy can be disabled only with public access off and no export pipeline left."""
    for pipeline in source.acr("export-pipeline", "list") or []:
        source.acr("export-pipeline", "delete", "--name", pipeline["name"])
    source.az("acr", "update", "--name", source.registry, "--public-network-enabled", "false")
    try:
        source.az("acr", "update", "--name", source.registry, "--allow-exports", "false")
        result = source.az_result("acr", "export-pipeline", "create", "--resource-group", source.group,
                                  "--registry", source.registry, "--name", unique("refused"), "--secret-uri",
                                  source["ACRSANDBOX_SECRET_URI"], "--storage-container-uri",
                                  source["ACRSANDBOX_STORAGE_CONTAINER_URI"])
        assert result.returncode != 0 and "export policy" in result.stderr.lower(), result.stderr
        fix = "az acr update " + result.stderr.split("az acr update ", 1)[1].splitlines()[0].strip()
        assert fix.endswith("--allow-exports true")
        shell(source, fix)
        exporter, _ = export_pipeline(source, "--grant-access")
        assert_passes(source, "export", exporter)
    finally:
        source.az("acr", "update", "--name", source.registry, "--allow-exports", "true")
        source.az("acr", "update", "--name", source.registry, "--public-network-enabled", "true")


def reader_cloud(sandbox, cloud: Cloud, tmp_path) -> tuple:
    """(the same cloud with az logged in as a new principal that holds Reader only, its appId)."""
    login = json.loads(sandbox.cli("add-operator", "--cloud", "source", "--name", unique("reader"), "--role",
                                   "Reader").stdout)
    config = tmp_path / "reader-az"
    shutil.copytree(cloud["AZURE_CONFIG_DIR"], config)
    reader = Cloud(cloud.name, sandbox.home / f"{cloud.name}.env")
    reader.env["AZURE_CONFIG_DIR"] = str(config)
    reader.az("login", "--service-principal", "--username", login["appId"], "--password", login["password"],
              "--tenant", login["tenant"])
    return reader, login["appId"]


def test_caller_without_the_right_to_run(sandbox, source, tmp_path):
    exporter, _ = export_pipeline(source, "--grant-access")
    reader, app_id = reader_cloud(sandbox, source, tmp_path)
    code, results = check(reader, "export", exporter)
    assert code == 1 and results["CallerPermissions"]["status"] == "Failed", results
    fix = results["CallerPermissions"]["fix"]
    # by the object id from the caller's token: no Graph look-up of the appId needed
    assert "--assignee-object-id" in fix and app_id not in fix
    assert "Container Registry Transfer Pipeline Contributor" in fix
    # What check foresaw is what ARM does: the reader's run is refused before anything starts.
    refused = reader.az_result("acr", "pipeline-run", "create", "--resource-group", reader.group, "--registry",
                               reader.registry, "--pipeline", exporter, "--name", unique("readerrun"),
                               "--pipeline-type", "export", "--storage-blob", unique("blob"), "--artifacts", LATEST)
    assert refused.returncode != 0
    assert "AuthorizationFailed" in refused.stderr and "pipelineRuns/write" in refused.stderr, refused.stderr
    shell(source, fix)  # run by the owner
    code, results = check(reader, "export", exporter)
    assert results["CallerPermissions"]["status"] == "Passed", results
    assert_export_succeeds(reader, exporter)


@pytest.mark.parametrize("special, status", [(("--foreign-layer",), "Warning"),
                                             (("--declared-layer-gib", "9"), "Failed")])
def test_layers_a_transfer_cannot_carry(sandbox, source, special, status):
    image = f"{unique('special')}:v1"
    sandbox.cli("push-special-image", "--cloud", "source", "--image", image, *special)
    exporter, _ = export_pipeline(source, "--grant-access")
    code, results = check(source, "export", exporter, "--artifacts", image, LATEST)
    assert results[f"Layers {image}"]["status"] == status, results
    assert results[f"Layers {LATEST}"]["status"] == "Passed"
    assert code == (1 if status == "Failed" else 0)


def test_keys_renewed_after_the_token(source):
    """The token is signed with key2, so renewing key2 kills it alone (the seeded token uses key1)."""
    keys = source.az("storage", "account", "keys", "list", "--resource-group", source.group, "--account-name",
                     source["ACRSANDBOX_STORAGE_ACCOUNT"])
    key2 = [k["value"] for k in keys if k["keyName"] == "key2"][0]
    secret = unique("sas")
    uri = source.put_secret(secret, account_sas(source, start_days=-0.01, key=key2))
    exporter, _ = export_pipeline(source, "--grant-access", secret_uri=uri)
    assert_healthy(source, "export", exporter)
    source.az("storage", "account", "keys", "renew", "--resource-group", source.group, "--account-name",
              source["ACRSANDBOX_STORAGE_ACCOUNT"], "--key", "secondary")
    code, results = check(source, "export", exporter)
    assert code == 1 and results["StorageKeys"]["status"] == "Warning", results
    run_sas_fix(source, results["StorageKeys"]["fix"])
    assert_passes(source, "export", exporter)
    assert_export_succeeds(source, exporter)
