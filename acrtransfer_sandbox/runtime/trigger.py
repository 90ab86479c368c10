"""The source trigger: import pipelines with the trigger enabled watch their container and start one run per new
transfer blob, as the service does (it polls every few minutes; the sandbox every few seconds).

A blob qualifies when it carries the metadata category=acr-transfer-blob, has a Content-MD5 and was modified
within the last 60 days. Each blob (name + Last-Modified) starts at most one run per pipeline.

The trigger's clock can be moved forward by writing a number of days into `<state>/trigger-clock-offset-days`
(`python -m acrtransfer_sandbox clock --advance-days N`): Azurite always stamps Last-Modified with the current
time, so this is how "a blob older than 60 days" is rehearsed.
"""
import asyncio
import datetime
import email.utils
import hashlib
import logging
from pathlib import Path
from typing import Optional

from ..plumbing.config import TRIGGER_MAX_BLOB_AGE_DAYS, SandboxConfig
from .executor import RunExecutor, RunFailure
from ..plumbing.clock import utc_now
from ..rules.pipelines import new_run_document
from ..plumbing.store import ResourceStore
from ..transfer import TransferError

log = logging.getLogger("acrtransfer_sandbox.trigger")

SEEN_KEY = "trigger_seen"
TRANSFER_BLOB_CATEGORY = "acr-transfer-blob"
TRIGGER_CALLER = "acr-transfer-source-trigger"


def clock_offset_file(config: SandboxConfig) -> Path:
    return config.state_dir / "trigger-clock-offset-days"


def scan_count_file(config: SandboxConfig) -> Path:
    """How many polls the trigger has finished since the sandbox started: tests wait for it to move instead of
    sleeping before they assert that a blob started no run."""
    return config.state_dir / "trigger-scans"


def trigger_now(config: SandboxConfig) -> datetime.datetime:
    path = clock_offset_file(config)
    days = float(path.read_text().strip() or 0) if path.exists() else 0.0
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


def qualifies(blob, now: datetime.datetime) -> tuple:
    """(True, '') when the blob should start an import run, else (False, why not)."""
    category = {k.lower(): v for k, v in (blob.metadata or {}).items()}.get("category")
    if category != TRANSFER_BLOB_CATEGORY:
        return False, f"metadata category is {category!r}, not {TRANSFER_BLOB_CATEGORY!r}"
    if not blob.content_md5:
        return False, "no Content-MD5"
    modified = _parse_http_date(blob.last_modified)
    if modified is None or now - modified > datetime.timedelta(days=TRIGGER_MAX_BLOB_AGE_DAYS):
        return False, f"Last-Modified {blob.last_modified} is more than {TRIGGER_MAX_BLOB_AGE_DAYS} days ago"
    return True, ""


def _parse_http_date(text: Optional[str]) -> Optional[datetime.datetime]:
    try:
        return email.utils.parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None


class SourceTrigger:
    def __init__(self, config: SandboxConfig, store: ResourceStore, executor: RunExecutor):
        self.config = config
        self.store = store
        self.executor = executor
        self._reported = set()   # (pipeline, blob, reason) already logged, so the log does not repeat every poll

    async def run_forever(self) -> None:
        scans = 0
        while True:
            try:
                await self.poll_once()
            except Exception:  # pylint: disable=broad-except
                # A bad poll must not stop the trigger for good; the next poll tries again.
                log.exception("source trigger poll failed")
            scans += 1
            scan_count_file(self.config).write_text(str(scans))
            await asyncio.sleep(self.config.trigger_interval)

    async def poll_once(self) -> None:
        for pipeline in self._enabled_import_pipelines():
            await self._poll_pipeline(pipeline)

    def _enabled_import_pipelines(self) -> list:
        return [doc for doc in self.store.all_resources()
                if doc["type"].endswith("/importPipelines")
                and doc["properties"].get("trigger", {}).get("sourceTrigger", {}).get("status") == "Enabled"]

    async def _poll_pipeline(self, pipeline: dict) -> None:
        storage = pipeline["properties"]["source"]
        options = set(pipeline["properties"].get("options") or [])
        try:
            container = self.executor.open_container(pipeline, storage, "DeleteSourceBlobOnSuccess" in options)
            blobs = await container.list_blobs()
        except (RunFailure, TransferError) as exc:
            self._report_once(pipeline["id"], "", f"cannot list the container: {getattr(exc, 'message', exc)}")
            return
        now = trigger_now(self.config)
        seen = self.store.get_bookkeeping(SEEN_KEY, {})
        pipeline_seen = set(seen.get(pipeline["id"].lower(), []))
        for blob in blobs:
            blob_key = f"{blob.name}@{blob.last_modified}"
            if blob_key in pipeline_seen:
                continue
            ok, reason = qualifies(blob, now)
            if not ok:
                self._report_once(pipeline["id"], blob.name, reason)
                continue
            pipeline_seen.add(blob_key)
            seen[pipeline["id"].lower()] = sorted(pipeline_seen)
            self.store.set_bookkeeping(SEEN_KEY, seen)
            self._start_run(pipeline, blob.name, blob_key)

    def _start_run(self, pipeline: dict, blob_name: str, blob_key: str) -> None:
        # The service names triggered runs '<something>_<something>'; '_' is what tells them from user runs.
        digest = hashlib.sha256(f"{pipeline['id'].lower()}|{blob_key}".encode()).hexdigest()[:20]
        name = f"{pipeline['name']}_{digest}"
        registry_id = pipeline["id"].rsplit("/importPipelines/", 1)[0]
        run_id = f"{registry_id}/pipelineRuns/{name}"
        run_request = {"pipelineResourceId": pipeline["id"], "source": {"type": "AzureStorageBlob", "name": blob_name}}
        document = new_run_document(run_id, name, run_request, None, TRIGGER_CALLER, None, self.executor.shape)
        document["properties"]["response"]["trigger"] = {"sourceTrigger": {"timestamp": utc_now()}}
        self.store.put(run_id, document)
        self.executor.start(run_id)
        log.info("source trigger: blob %s started run %s", blob_name, name)

    def _report_once(self, pipeline_id: str, blob_name: str, reason: str) -> None:
        key = (pipeline_id, blob_name, reason)
        if key not in self._reported:
            self._reported.add(key)
            log.info("source trigger: %s %s skipped: %s", pipeline_id.rsplit("/", 1)[-1], blob_name or "", reason)
