"""The source trigger: which blobs start an import run, that none starts two, and what the runs look like.
The container listing is fake storage; the pipelines, access checks, store and executor are real."""
import datetime
import email.utils

import pytest

from acrtransfer_sandbox.rules.pipelines import (EXPORT, IMPORT, NAME_PATTERN, build_pipeline_document,
                                                 pipeline_principal_id)
from acrtransfer_sandbox.plumbing.store import ResourceStore
from acrtransfer_sandbox.transfer.storage import BlobProperties
from acrtransfer_sandbox.runtime.trigger import SourceTrigger, clock_offset_file, qualifies

from .harness import export_pipeline_body, import_pipeline_body, managed_storage, sas_storage

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="


def _http_date(moment: datetime.datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def _blob(name="export1.tar", metadata=None, md5=MD5, age=datetime.timedelta(hours=1), now=NOW):
    return BlobProperties(name=name, size=10, metadata={"category": "acr-transfer-blob"} if metadata is None
                          else metadata, content_md5=md5, last_modified=_http_date(now - age))


@pytest.mark.parametrize("blob,ok,why", [
    (_blob(), True, ""),
    (_blob(metadata={"Category": "acr-transfer-blob"}), True, ""),
    (_blob(age=datetime.timedelta(days=59, hours=23)), True, ""),
    (_blob(metadata={}), False, "metadata category is None"),
    (_blob(metadata={"category": "something-else"}), False, "'something-else'"),
    (_blob(md5=None), False, "no Content-MD5"),
    (_blob(md5=""), False, "no Content-MD5"),
    (_blob(age=datetime.timedelta(days=60, minutes=1)), False, "more than 60 days ago"),
    (BlobProperties(name="b", size=1, metadata={"category": "acr-transfer-blob"}, content_md5=MD5,
                    last_modified="yesterday"), False, "Last-Modified yesterday"),
    (BlobProperties(name="b", size=1, metadata={"category": "acr-transfer-blob"}, content_md5=MD5,
                    last_modified=None), False, "Last-Modified None"),
])
def test_which_blobs_qualify(blob, ok, why):
    got_ok, got_why = qualifies(blob, NOW)
    assert got_ok is ok
    assert why in got_why and (got_why == "") is ok


def _import_pipeline(sandbox, name="importpipe1", trigger="Enabled", options=(), storage=None, grant=True) -> dict:
    cloud = sandbox.target
    pipeline_id = f"{cloud.registry_id}/importPipelines/{name}"
    body = import_pipeline_body(storage or managed_storage(cloud), options=options, trigger=trigger)
    document = build_pipeline_document(IMPORT, pipeline_id, name, body, None, cloud.tenant_id, cloud.client_id)
    sandbox.store.put(pipeline_id, document)
    if grant:
        sandbox.assign_role(pipeline_principal_id(document), "Storage Blob Data Contributor",
                            cloud.storage_account_id, name="assignment-" + name)
    return document


def _triggered_runs(sandbox) -> list:
    return sandbox.store.children(sandbox.target.registry_id, "pipelineRuns")


def _poll(sandbox, polls=1, trigger=None):
    trigger = trigger or SourceTrigger(sandbox.config, sandbox.store, sandbox.executor)

    async def scenario():
        for _ in range(polls):
            await trigger.poll_once()
        for run in _triggered_runs(sandbox):
            await sandbox.wait_finished(run["id"])
    sandbox.run_executor(scenario)
    return trigger


def test_a_new_transfer_blob_starts_one_import_run_named_with_an_underscore(sandbox, fake_storage, engine):
    pipeline = _import_pipeline(sandbox)
    fake_storage.blobs[:] = [_blob(now=datetime.datetime.now(datetime.timezone.utc))]

    _poll(sandbox, polls=3)
    [run] = _triggered_runs(sandbox)
    assert "_" in run["name"] and run["name"].startswith("importpipe1_")
    assert not NAME_PATTERN.match(run["name"])      # never the name of a user's run
    assert run["properties"]["request"] == {"pipelineResourceId": pipeline["id"],
                                            "source": {"type": "AzureStorageBlob", "name": "export1.tar"}}
    assert run["properties"]["response"]["trigger"]["sourceTrigger"]["timestamp"]
    assert run["systemData"]["createdBy"] == "acr-transfer-source-trigger"
    assert run["properties"]["provisioningState"] == "Succeeded"
    assert [call["blob"] for call in engine.calls] == ["export1.tar"]


def test_only_qualifying_blobs_start_runs(sandbox, fake_storage, engine):
    now = datetime.datetime.now(datetime.timezone.utc)
    _import_pipeline(sandbox)
    fake_storage.blobs[:] = [_blob("good.tar", now=now), _blob("nocategory.tar", metadata={}, now=now),
                             _blob("nomd5.tar", md5=None, now=now),
                             _blob("old.tar", age=datetime.timedelta(days=61), now=now)]

    _poll(sandbox, polls=2)
    assert [run["properties"]["request"]["source"]["name"] for run in _triggered_runs(sandbox)] == ["good.tar"]


def test_the_same_blob_never_starts_a_second_run_even_after_a_restart(sandbox, fake_storage):
    _import_pipeline(sandbox)
    blob = _blob(now=datetime.datetime.now(datetime.timezone.utc))
    fake_storage.blobs[:] = [blob]
    _poll(sandbox)

    sandbox.store = ResourceStore(sandbox.config.state_dir / "resources.json")
    sandbox.executor.store = sandbox.store
    _poll(sandbox, polls=2)
    assert len(_triggered_runs(sandbox)) == 1

    # The same name written again is a new blob (a new Last-Modified): it is imported again.
    fake_storage.blobs[:] = [_blob(now=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5))]
    _poll(sandbox)
    runs = _triggered_runs(sandbox)
    assert len(runs) == 2 and len({run["name"] for run in runs}) == 2


def test_a_blob_that_did_not_qualify_is_not_remembered_as_seen(sandbox, fake_storage):
    now = datetime.datetime.now(datetime.timezone.utc)
    _import_pipeline(sandbox)
    fake_storage.blobs[:] = [_blob(metadata={}, now=now)]
    _poll(sandbox)
    assert _triggered_runs(sandbox) == []

    fake_storage.blobs[:] = [_blob(now=now)]    # same name and Last-Modified: the metadata was fixed in place
    _poll(sandbox)
    assert len(_triggered_runs(sandbox)) == 1


def test_each_enabled_import_pipeline_gets_its_own_run(sandbox, fake_storage):
    _import_pipeline(sandbox, "importpipe1")
    _import_pipeline(sandbox, "importpipe2")
    _import_pipeline(sandbox, "disabledpipe", trigger="Disabled")
    export_id = f"{sandbox.target.registry_id}/exportPipelines/exportpipe1"
    sandbox.store.put(export_id, build_pipeline_document(
        EXPORT, export_id, "exportpipe1",
        export_pipeline_body(managed_storage(sandbox.target)), None, sandbox.target.tenant_id, "x"))
    fake_storage.blobs[:] = [_blob(now=datetime.datetime.now(datetime.timezone.utc))]

    _poll(sandbox)
    names = sorted(run["name"].split("_")[0] for run in _triggered_runs(sandbox))
    assert names == ["importpipe1", "importpipe2"]


def test_a_pipeline_whose_identity_may_not_list_the_container_starts_nothing(sandbox, fake_storage, engine):
    _import_pipeline(sandbox, grant=False)
    _import_pipeline(sandbox, "sastokenpipe", storage=sas_storage(sandbox.target), grant=False)
    fake_storage.blobs[:] = [_blob(now=datetime.datetime.now(datetime.timezone.utc))]

    _poll(sandbox, polls=2)
    assert _triggered_runs(sandbox) == []
    assert fake_storage.opened == [] and engine.calls == []


def test_the_trigger_clock_can_be_moved_past_sixty_days(sandbox, fake_storage):
    _import_pipeline(sandbox)
    fake_storage.blobs[:] = [_blob(now=datetime.datetime.now(datetime.timezone.utc))]
    clock_offset_file(sandbox.config).parent.mkdir(parents=True, exist_ok=True)
    clock_offset_file(sandbox.config).write_text("61\n")

    _poll(sandbox)
    assert _triggered_runs(sandbox) == []

    clock_offset_file(sandbox.config).write_text("59")
    _poll(sandbox)
    assert len(_triggered_runs(sandbox)) == 1


def test_a_failed_poll_does_not_stop_the_trigger(sandbox, monkeypatch):
    _import_pipeline(sandbox)
    trigger = SourceTrigger(sandbox.config, sandbox.store, sandbox.executor)
    polls = []

    async def failing_poll():
        polls.append(1)
        if len(polls) == 1:
            raise RuntimeError("listing broke")
        raise _Stop()

    monkeypatch.setattr(trigger, "poll_once", failing_poll)

    async def scenario():
        with pytest.raises(_Stop):
            await trigger.run_forever()
    sandbox.run_executor(scenario)
    assert len(polls) == 2


class _Stop(BaseException):
    pass
