"""The run executor: checks the pipeline identity's access like the service does, then drives the transfer engine.

Before any byte moves, a run meets the service's rules (rules/network.py): the registry is Premium; the vault's
firewall lets ACR (a trusted service for Key Vault) in; the storage account is reachable (ACR Transfer is not a
trusted service for Storage) and, for a SAS, allows shared key access and was not signed with a key renewed since.

Each run is an asyncio task in the sandbox process. Its state lives in the run resource (status, progress,
times, importedArtifacts, catalogDigest, pipelineRunErrorMessage) and in an async-operation record that
Azure-AsyncOperation points at; what the two say while the run goes and once it ends is the run shape's
(ACRSANDBOX_RUN_SHAPE, rules/run_shapes.py). Runs found unfinished at start-up were cut by a restart: they end
Failed.
"""
import asyncio
import logging
import ssl
import uuid
from typing import Optional
from urllib.parse import urlparse

import aiohttp

from ..rules.roles import StorageRoleMissing, require_storage_role
from ..plumbing.config import SandboxConfig
from ..plumbing.credentials import SandboxCredentials
from ..plumbing.clock import utc_now
from ..rules.vaults import KeyVaultAccessDenied, KeyVaultSecretMissing, find_vault_by_uri, secret_for_principal
from ..rules.network import pipeline_refused, shared_key_refused, storage_unreachable, vault_unreachable
from ..rules.pipelines import pipeline_principal_id
from ..rules.run_shapes import TERMINAL_RUN_STATES, operation_status, run_in_progress, run_shape_named
from ..rules.sas import SAS_KEY_RENEWED, signed_with_one_of
from ..plumbing.store import ResourceStore
from ..transfer import BlobContainer, RegistryClient, TransferError, export_to_blob, import_from_blob

log = logging.getLogger("acrtransfer_sandbox.executor")

OPERATIONS_KEY = "operations"
INTERRUPTED_MESSAGE = ("The pipeline run was interrupted: the sandbox stopped while it was in progress (at {}%). "
                       "It did not complete; an import may have pushed part of its artifacts. "
                       "Run it again with --force-redeploy.")
PIPELINE_GONE = "The pipeline '{}' of this run no longer exists."
STORAGE_UNKNOWN = ("Storage request failed: the storage account of '{}' is not part of this cloud "
                   "(its account: {}).")
# Both clouds share one store: a pipeline's identity reaches only its own cloud's vault, as a principal of one
# tenant cannot authenticate to another tenant's vault.
VAULT_ELSEWHERE = ("Key Vault request failed: (VaultNotFound) No vault serves '{}' in this cloud. "
                   "Status: 404 (Not Found)")
INTERNAL_ERROR = "The sandbox failed while running the pipeline: {}: {}"
SKIPPED_NOTE = "Completed with ContinueOnErrors; skipped artifacts: {}"
PROGRESS_SAVE_STEP = 5
MAX_KEPT_OPERATIONS = 500


class RunFailure(Exception):
    """A reason to fail the run whose message is meant for the user (never contains a secret)."""


def _fail_if(message) -> None:
    if message:
        raise RunFailure(message)


def storage_account_of(container_uri: str) -> tuple:
    """(account, container) from a path-style emulator URI or a host-style Azure URI."""
    parsed = urlparse(container_uri)
    segments = [s for s in parsed.path.split("/") if s]
    if len(segments) >= 2:
        return segments[0].lower(), segments[1]
    return parsed.hostname.split(".")[0].lower(), segments[0] if segments else ""


class RunExecutor:
    def __init__(self, config: SandboxConfig, credentials: SandboxCredentials, store: ResourceStore):
        self.config = config
        self.credentials = credentials
        self.store = store
        self.shape = run_shape_named(config.run_shape)
        self._session: Optional[aiohttp.ClientSession] = None
        self._tasks: set = set()

    async def startup(self) -> None:
        context = ssl.create_default_context(cafile=str(self.config.ca_cert))
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context),
                                              timeout=aiohttp.ClientTimeout(total=None, sock_read=300))
        self.fail_interrupted_runs()

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._session

    # Async operations
    def _save_operation(self, operation_id: str, record: dict) -> None:
        operations = self.store.get_bookkeeping(OPERATIONS_KEY, {})
        operations[operation_id] = record
        # Pollers only ask about recent operations; keep the newest so the state file does not grow forever.
        for stale in list(operations)[:-MAX_KEPT_OPERATIONS]:
            del operations[stale]
        self.store.set_bookkeeping(OPERATIONS_KEY, operations)

    def operation(self, operation_id: str) -> Optional[dict]:
        return self.store.get_bookkeeping(OPERATIONS_KEY, {}).get(operation_id)

    def running_operation(self, run_id: str) -> Optional[str]:
        """The id of the operation still in progress for this run, if any."""
        for operation_id, record in self.store.get_bookkeeping(OPERATIONS_KEY, {}).items():
            if record["status"] == "InProgress" and (record.get("runId") or "").lower() == run_id.lower():
                return operation_id
        return None

    def record_operation(self, run: dict) -> str:
        """A new operation record that says what the run's operation says now (a finished run's outcome; in the
        spec shape, Succeeded), for a PUT answered without starting a run."""
        operation_id = str(uuid.uuid4())
        self._save_operation(operation_id, _operation_record(operation_id, run))
        return operation_id

    def start(self, run_id: str) -> str:
        operation_id = str(uuid.uuid4())
        run = self.store.get(run_id)
        self._save_operation(operation_id, _operation_record(operation_id, run, run_id=run_id))
        task = asyncio.get_running_loop().create_task(self._execute(run_id, operation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return operation_id

    def fail_interrupted_runs(self) -> None:
        for run in self.store.all_resources():
            if run["type"].endswith("/pipelineRuns") and run["properties"]["provisioningState"] == "Deleting":
                self.store.delete(run["id"])  # a deletion the restart cut short: it was accepted, finish it
            elif run["type"].endswith("/pipelineRuns") and run_in_progress(run):
                percent = run["properties"]["response"].get("progress", {}).get("percentage", "0")
                self._finish(run["id"], None, failure=INTERRUPTED_MESSAGE.format(percent))
                log.warning("run %s was cut by a restart: marked Failed", run["id"])
        operations = self.store.get_bookkeeping(OPERATIONS_KEY, {})
        for operation_id, record in operations.items():
            if record["status"] == "InProgress":
                run = self.store.get(record.get("runId", "")) or {}
                operations[operation_id] = _operation_record(operation_id, run, run_id=record.get("runId"))
        self.store.set_bookkeeping(OPERATIONS_KEY, operations)

    # Execution
    async def _execute(self, run_id: str, operation_id: str) -> None:
        run = self.store.get(run_id)
        try:
            outcome = await self._transfer(run)
        except (RunFailure, TransferError) as exc:
            self._finish(run_id, operation_id, failure=str(getattr(exc, "message", exc)))
        except Exception as exc:  # pylint: disable=broad-except
            # A bug or an unexpected failure of a dependency: the run must still end, with the reason.
            log.exception("run %s failed unexpectedly", run_id)
            self._finish(run_id, operation_id, failure=INTERNAL_ERROR.format(type(exc).__name__, exc))
        else:
            self._finish(run_id, operation_id, outcome=outcome)

    async def _transfer(self, run: dict):
        run_request = run["properties"]["request"]
        pipeline = self.store.get(run_request["pipelineResourceId"])
        if pipeline is None:
            raise RunFailure(PIPELINE_GONE.format(run_request["pipelineResourceId"]))
        is_import = pipeline["type"].endswith("importPipelines")
        storage = pipeline["properties"]["source" if is_import else "target"]
        options = set(pipeline["properties"].get("options") or [])
        needs_write = not is_import or "DeleteSourceBlobOnSuccess" in options
        self._registry_refusal(pipeline)
        container = self.open_container(pipeline, storage, needs_write)
        registry = RegistryClient(self._session, self._registry_upstream_of(run["id"]))
        progress = self._progress_recorder(run["id"])
        if is_import:
            return await import_from_blob(container, run_request["source"]["name"], registry, options, progress)
        return await export_to_blob(registry, container, run_request["target"]["name"],
                                    list(run_request["artifacts"]), options, progress)

    def open_container(self, pipeline: dict, storage: dict, needs_write: bool) -> BlobContainer:
        """The pipeline's container as its identity may reach it, or RunFailure with the service's 403 wording."""
        principal = pipeline_principal_id(pipeline)
        account, _ = storage_account_of(storage["uri"])
        cloud = self._cloud_of(pipeline["id"])
        if cloud.storage_account != account:
            raise RunFailure(STORAGE_UNKNOWN.format(storage["uri"], cloud.storage_account))
        container_url = f"{cloud.blob_endpoint}/{storage_account_of(storage['uri'])[1]}"
        account_doc = self.store.get(cloud.storage_account_id) or {}
        if storage["storageAccessMode"] == "SasToken":
            vault = find_vault_by_uri(self.store, storage["keyVaultUri"])
            if vault is not None and not vault["id"].lower().startswith(f"/subscriptions/{cloud.subscription_id}/"):
                raise RunFailure(VAULT_ELSEWHERE.format(storage["keyVaultUri"]))
            _fail_if(vault and vault_unreachable(vault, principal))
            try:
                sas = secret_for_principal(self.store, storage["keyVaultUri"], principal)
            except (KeyVaultAccessDenied, KeyVaultSecretMissing) as exc:
                raise RunFailure(str(exc)) from None
            _fail_if(storage_unreachable(account_doc) or shared_key_refused(account_doc)
                     or self._signed_with_a_renewed_key(sas, cloud, storage_account_of(storage["uri"])[1]))
            return BlobContainer.with_sas(self._session, container_url, sas)
        _fail_if(storage_unreachable(account_doc))
        try:
            require_storage_role(self.store, principal, cloud.storage_account_id, needs_write)
        except StorageRoleMissing as exc:
            raise RunFailure(str(exc)) from None
        return BlobContainer.with_account_key(self._session, container_url, cloud.storage_account,
                                              self.credentials.storage_keys[cloud.name])

    def _signed_with_a_renewed_key(self, sas: str, cloud, container: str) -> Optional[str]:
        """Storage's AuthenticationFailed when a renewed key signed the SAS. (Azurite, restarted with the new keys,
        refuses such a SAS too, but says AuthorizationFailure.)"""
        retired = self.credentials.retired_storage_keys.get(cloud.name) or []
        current = self.credentials.account_keys(cloud.name).values()
        if signed_with_one_of(sas, cloud.storage_account, container, retired) \
                and not signed_with_one_of(sas, cloud.storage_account, container, current):
            return SAS_KEY_RENEWED.format(account=cloud.storage_account)
        return None

    def _registry_refusal(self, pipeline: dict) -> None:
        """Pipelines work only on Premium registries: a registry moved off Premium fails its runs."""
        registry = self.store.get(pipeline["id"].rsplit("/", 2)[0])
        refusal = registry and pipeline_refused(registry, is_export=False)
        _fail_if(refusal and refusal[1])

    def _cloud_of(self, resource_id: str):
        subscription = resource_id.split("/")[2].lower()
        return next(c for c in self.config.clouds if c.subscription_id == subscription)

    def _registry_upstream_of(self, run_id: str) -> str:
        return self._cloud_of(run_id).registry_upstream_url

    def _progress_recorder(self, run_id: str):
        last_saved = {"percent": -PROGRESS_SAVE_STEP}

        def record(percent: int) -> None:
            # Persist every few percent only: the store rewrites its file on each change.
            if percent - last_saved["percent"] >= PROGRESS_SAVE_STEP or percent == 100:
                last_saved["percent"] = percent
                run = self.store.get(run_id)
                if run and run_in_progress(run):
                    run["properties"]["response"]["progress"] = {"percentage": str(percent)}
                    self.store.put(run_id, run)
        return record

    def _finish(self, run_id: str, operation_id: Optional[str], *, outcome=None, failure: Optional[str] = None):
        run = self.store.get(run_id)
        if run is None:
            return
        response = run["properties"]["response"]
        response["finishTime"] = utc_now()
        run["properties"]["provisioningState"] = self.shape.provisioning_state_at_end(failed=failure is not None)
        if failure is not None:
            response["status"] = "Failed"
            response["pipelineRunErrorMessage"] = failure
            log.info("run %s failed: %s", run_id, failure)
        else:
            response["status"] = "Succeeded"
            response["progress"] = {"percentage": "100"}
            response["importedArtifacts"] = list(outcome.imported_artifacts)
            response["catalogDigest"] = outcome.catalog_digest
            if outcome.skipped_artifacts:
                response["pipelineRunErrorMessage"] = SKIPPED_NOTE.format("; ".join(outcome.skipped_artifacts))
            log.info("run %s succeeded: %s", run_id, ", ".join(outcome.imported_artifacts))
        self._describe_storage(run)
        self.store.put(run_id, run)
        # In the spec shape the operation was finished (Succeeded) when the PUT answered: it stays as it was.
        if operation_id and not self.shape.operation_done_at_start:
            self._save_operation(operation_id, _operation_record(operation_id, run, run_id=run_id))

    def _describe_storage(self, run: dict) -> None:
        """response.source / response.target: where the blob was read or written (no secrets)."""
        run_request = run["properties"]["request"]
        pipeline = self.store.get(run_request["pipelineResourceId"]) or {"properties": {}, "type": ""}
        side, storage_key = ("source", "source") if "source" in run_request else ("target", "target")
        storage = pipeline["properties"].get(storage_key)
        if storage:
            # As the spec has it: the uri names the blob; the request's `name` is not repeated here.
            blob_uri = storage["uri"].rstrip("/") + "/" + run_request[side]["name"]
            described = {"type": "AzureStorageBlob", "uri": blob_uri}
            if storage.get("keyVaultUri"):
                described["keyVaultUri"] = storage["keyVaultUri"]
            described["storageAccessMode"] = storage["storageAccessMode"]
            run["properties"]["response"][side] = described


def _operation_record(operation_id: str, run: dict, run_id: Optional[str] = None) -> dict:
    status = operation_status(run)
    response = run.get("properties", {}).get("response", {})
    record = {"id": operation_id, "name": operation_id, "runId": run_id or run.get("id"), "status": status,
              "startTime": response.get("startTime", utc_now())}
    if status in TERMINAL_RUN_STATES:
        # A spec-shape operation ends when the run is accepted, before the run has a finishTime.
        record["endTime"] = response.get("finishTime") or utc_now()
    if status == "Failed":
        record["error"] = {"code": "PipelineRunFailed", "message": response.get("pipelineRunErrorMessage", "")}
    return record
