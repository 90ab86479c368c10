"""The control plane of one sandbox without its servers: configuration, store, credentials and token issuer in a
temporary directory, the run executor with a fake transfer engine and fake storage, and the cloud front served by
aiohttp's TestServer on 127.0.0.1. Request bodies are written the way the extension sends them (see _wire.py).
"""
import asyncio
import time
from typing import Optional

from aiohttp.test_utils import TestClient, TestServer

from acrtransfer_sandbox.runtime import executor as executor_module
from acrtransfer_sandbox.plumbing.config import ARM_AUDIENCE, VAULT_AUDIENCE, CloudConfig, SandboxConfig
from acrtransfer_sandbox.runtime.executor import RunExecutor
from acrtransfer_sandbox.fronts.keyvault import make_secrets_app
from acrtransfer_sandbox.runtime.server import load_credentials, make_front_app, seed_store
from acrtransfer_sandbox.plumbing.store import ResourceStore
from acrtransfer_sandbox.plumbing.tokens import TokenIssuer
from acrtransfer_sandbox.transfer.engine import TransferOutcome

API = "?api-version=2025-06-01-preview"
CATALOG_DIGEST = "sha256:" + "c" * 64
STORAGE_ROLE_IDS = {"Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
                    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
                    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7"}
RUN_WAIT_SECONDS = 5


class FakeContainer:
    """What the executor opened: the container URL and the credential it would use (no request is made)."""

    def __init__(self, url: str, sas: Optional[str] = None, account_key: Optional[str] = None, blobs=()):
        self.container_url = url
        self.sas = sas
        self.account_key = account_key
        self.blobs = list(blobs)

    async def list_blobs(self, prefix: str = ""):
        return [blob for blob in self.blobs if blob.name.startswith(prefix)]


class FakeStorage:
    """Stands in for BlobContainer in the executor: records every container opened; `blobs` is what they list."""

    def __init__(self):
        self.opened: list = []
        self.blobs: list = []

    def with_sas(self, _session, container_url, sas_token):
        return self._open(FakeContainer(container_url, sas=sas_token, blobs=self.blobs))

    def with_account_key(self, _session, container_url, _account_name, account_key):
        return self._open(FakeContainer(container_url, account_key=account_key, blobs=self.blobs))

    def _open(self, container):
        self.opened.append(container)
        return container


class FakeEngine:
    """Stands in for export_to_blob / import_from_blob: records each call, reports progress, optionally waits for
    `release()` (a run that stays in progress) or fails with `error`."""

    def __init__(self):
        self.calls: list = []
        self.error: Optional[Exception] = None
        self.skipped: list = []
        self.hold = False
        self._released: Optional[asyncio.Event] = None

    def release(self) -> None:
        self._gate().set()

    def _gate(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
        return self._released

    async def export_to_blob(self, registry, container, blob_name, artifacts, options, progress):
        self.calls.append({"kind": "export", "container": container, "blob": blob_name, "artifacts": artifacts,
                           "options": options, "registry": registry})
        return await self._finish(progress, list(artifacts))

    async def import_from_blob(self, container, blob_name, registry, options, progress):
        self.calls.append({"kind": "import", "container": container, "blob": blob_name, "options": options,
                           "registry": registry})
        return await self._finish(progress, ["hello-world:latest"])

    async def _finish(self, progress, artifacts):
        progress(40)
        if self.hold:
            await self._gate().wait()
        if self.error is not None:
            raise self.error
        return TransferOutcome(imported_artifacts=artifacts, skipped_artifacts=list(self.skipped),
                               catalog_digest=CATALOG_DIGEST, blob_size=1024)


class Sandbox:
    """One sandbox's control plane in `home`; `executor` runs with the fakes installed by the fixture."""

    def __init__(self, home, engine: FakeEngine, storage: FakeStorage, run_shape: str = "default"):
        self.config = SandboxConfig(home=home, port_base=47100, trigger_interval=0.01,
                                    response_log=home / "responses.jsonl", run_shape=run_shape)
        self.credentials = load_credentials(self.config)
        self.store = ResourceStore(self.config.state_dir / "resources.json")
        seed_store(self.config, self.store, self.credentials)
        self.issuer = TokenIssuer(self.credentials.token_signing_key)
        self.executor = RunExecutor(self.config, self.credentials, self.store)
        self.engine = engine
        self.storage = storage

    @property
    def source(self) -> CloudConfig:
        return self.config.source

    @property
    def target(self) -> CloudConfig:
        return self.config.target

    def token(self, cloud: CloudConfig, audience: str = ARM_AUDIENCE, object_id: Optional[str] = None,
              tenant_id: Optional[str] = None) -> str:
        return self.issuer.issue(issuer=f"{cloud.front_url}/{cloud.tenant_id}/v2.0",
                                 tenant_id=tenant_id or cloud.tenant_id, audience=audience, app_id=cloud.client_id,
                                 object_id=object_id or cloud.operator_object_id)

    def run(self, scenario, cloud: Optional[CloudConfig] = None, vault: bool = False, token: Optional[str] = None):
        """Run `scenario(client)` against the cloud front (or the vault's data plane) of `cloud` on a fresh loop."""
        cloud = cloud or self.source

        async def main():
            if vault:
                app = make_secrets_app(cloud, self.store, self.issuer)
                bearer = token or self.token(cloud, VAULT_AUDIENCE)
            else:
                app = make_front_app(cloud, self.store, self.issuer, self.credentials, self.executor,
                                     self.config.response_log)
                bearer = token or self.token(cloud)
            client = TestClient(TestServer(app, host="127.0.0.1"), headers={"Authorization": "Bearer " + bearer})
            try:
                async with client:
                    return await scenario(client)
            finally:
                await self.executor.shutdown()
        return asyncio.run(main())

    def run_executor(self, scenario):
        """Run `scenario()` (which may start runs) on a fresh loop; stop whatever it left running."""
        async def main():
            try:
                return await scenario()
            finally:
                await self.executor.shutdown()
        return asyncio.run(main())

    async def wait_finished(self, run_id: str) -> dict:
        deadline = time.monotonic() + RUN_WAIT_SECONDS
        while time.monotonic() < deadline:
            run = self.store.get(run_id)
            # Either lifecycle: the run's own status ends it (in the spec shape provisioningState says Succeeded
            # from the start); a failed provisioning ends it too.
            if run["properties"]["response"]["status"] in ("Succeeded", "Failed", "Canceled") \
                    or run["properties"]["provisioningState"] in ("Failed", "Canceled"):
                return run
            await asyncio.sleep(0.005)
        raise AssertionError(f"run {run_id} did not finish: {self.store.get(run_id)['properties']}")

    def assign_role(self, principal_id: str, role: str, scope: str, name: str = "assignment1") -> None:
        role_id = STORAGE_ROLE_IDS[role]
        self.store.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", {
            "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/"
                                               f"{role_id}", "principalId": principal_id, "scope": scope}})

    def grant_secret_get(self, cloud: CloudConfig, principal_id: str, permissions=("get",)) -> None:
        vault = self.store.get(cloud.vault_id)
        vault["properties"]["accessPolicies"].append({"tenantId": cloud.tenant_id, "objectId": principal_id,
                                                      "permissions": {"secrets": list(permissions)}})
        self.store.put(cloud.vault_id, vault)


def install_fakes(monkeypatch, engine: FakeEngine, storage: FakeStorage) -> None:
    monkeypatch.setattr(executor_module, "export_to_blob", engine.export_to_blob)
    monkeypatch.setattr(executor_module, "import_from_blob", engine.import_from_blob)
    monkeypatch.setattr(executor_module, "BlobContainer", storage)


# Request paths and bodies, as the extension builds them
def pipeline_path(cloud: CloudConfig, collection: str, name: str) -> str:
    return f"{cloud.registry_id}/{collection}/{name}"


def run_path(cloud: CloudConfig, name: str) -> str:
    return f"{cloud.registry_id}/pipelineRuns/{name}"


def sas_storage(cloud: CloudConfig) -> dict:
    return {"type": "AzureStorageBlobContainer", "uri": cloud.container_uri, "storageAccessMode": "SasToken",
            "keyVaultUri": cloud.secret_uri}


def managed_storage(cloud: CloudConfig) -> dict:
    return {"type": "AzureStorageBlobContainer", "uri": cloud.container_uri, "storageAccessMode": "ManagedIdentity"}


def export_pipeline_body(storage: dict, options=(), identity: Optional[dict] = None) -> dict:
    properties = {"target": storage}
    if options:
        properties["options"] = list(options)
    return {"identity": identity or {"type": "SystemAssigned"}, "properties": properties}


def import_pipeline_body(storage: dict, options=(), trigger: str = "Enabled", identity: Optional[dict] = None):
    properties = {"source": storage, "trigger": {"sourceTrigger": {"status": trigger}}}
    if options:
        properties["options"] = list(options)
    return {"identity": identity or {"type": "SystemAssigned"}, "properties": properties}


def export_run_body(pipeline_id: str, blob: str = "export1.tar", artifacts=("hello-world:latest",),
                    force_update_tag: Optional[str] = None) -> dict:
    properties = {"request": {"pipelineResourceId": pipeline_id, "target": {"type": "AzureStorageBlob", "name": blob},
                              "artifacts": list(artifacts)}}
    if force_update_tag is not None:
        properties["forceUpdateTag"] = force_update_tag
    return {"properties": properties}


def import_run_body(pipeline_id: str, blob: str = "export1.tar") -> dict:
    return {"properties": {"request": {"pipelineResourceId": pipeline_id,
                                       "source": {"type": "AzureStorageBlob", "name": blob}}}}
