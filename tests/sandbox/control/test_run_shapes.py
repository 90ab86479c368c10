"""The two run lifecycles the sandbox serves (ACRSANDBOX_RUN_SHAPE): the spec's through the cloud front, with the
fake transfer engine; the rules that decide "in progress" in both; the setting itself."""
import pytest

from acrtransfer_sandbox.__main__ import main
from acrtransfer_sandbox.plumbing.config import RUN_SHAPES, SandboxConfig
from acrtransfer_sandbox.plumbing.store import ResourceStore
from acrtransfer_sandbox.rules.run_shapes import SHAPES, operation_status, run_in_progress, run_shape_named
from acrtransfer_sandbox.runtime.executor import RunExecutor
from acrtransfer_sandbox.plumbing.certs import ensure_certificates
from acrtransfer_sandbox.transfer import TransferError

from .harness import API, CATALOG_DIGEST, export_pipeline_body, export_run_body, pipeline_path, run_path, sas_storage

RUN_NAME = "specrun1"
FAILURE = "Storage request failed: (AuthorizationFailure) This request is not authorized. Status: 403"


def _run(provisioning: str, status=None) -> dict:
    response = {} if status is None else {"response": {"status": status}}
    return {"properties": {"provisioningState": provisioning, **response}}


# The rules
@pytest.mark.parametrize("run, in_progress", [
    (_run("Creating", "Running"), True),          # default shape, going
    (_run("Succeeded", "Running"), True),         # spec shape, going: provisioningState says nothing yet
    (_run("Succeeded", "Succeeded"), False),
    (_run("Succeeded", "Failed"), False),         # spec shape: failed under provisioningState Succeeded
    (_run("Succeeded", "Canceled"), False),
    (_run("Failed", "Running"), False),           # a failed provisioning ends the run whatever the status says
    (_run("Canceled", "Running"), False),
    (_run("Deleting", "Succeeded"), False),
    (_run("Creating"), True),                     # no response yet: judged by provisioningState
    (_run("Succeeded"), False),
])
def test_a_run_is_in_progress_until_its_status_or_a_failed_provisioning_ends_it(run, in_progress):
    assert run_in_progress(run) is in_progress


def test_the_operation_follows_provisioning_state():
    assert operation_status(_run("Creating", "Running")) == "InProgress"
    assert operation_status(_run("Succeeded", "Running")) == "Succeeded"
    assert operation_status(_run("Failed", "Failed")) == "Failed"


def test_each_shape_the_setting_accepts_is_defined_and_only_those():
    assert set(SHAPES) == set(RUN_SHAPES) == {"default", "spec"}
    default, spec = run_shape_named("default"), run_shape_named("spec")
    assert run_shape_named(None) is default
    assert [default.provisioning_state_at_start(rerun) for rerun in (False, True)] == ["Creating", "Updating"]
    assert [default.provisioning_state_at_end(failed) for failed in (False, True)] == ["Succeeded", "Failed"]
    assert [spec.provisioning_state_at_start(rerun) for rerun in (False, True)] == ["Succeeded", "Succeeded"]
    assert [spec.provisioning_state_at_end(failed) for failed in (False, True)] == ["Succeeded", "Succeeded"]
    assert (default.operation_done_at_start, spec.operation_done_at_start) == (False, True)


# The setting
@pytest.mark.parametrize("value, expected", [(None, "default"), ("", "default"), ("spec", "spec"),
                                             ("default", "default")])
def test_the_setting_names_the_shape(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("ACRSANDBOX_RUN_SHAPE", raising=False)
    else:
        monkeypatch.setenv("ACRSANDBOX_RUN_SHAPE", value)
    assert SandboxConfig.from_environment().run_shape == expected


def test_an_unknown_shape_is_refused_with_the_ones_there_are(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ACRSANDBOX_HOME", str(tmp_path))
    monkeypatch.setenv("ACRSANDBOX_RUN_SHAPE", "Spec2")
    with pytest.raises(ValueError, match="ACRSANDBOX_RUN_SHAPE='Spec2'.*default, spec"):
        SandboxConfig.from_environment()
    assert main(["status"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ACRSANDBOX_RUN_SHAPE='Spec2' is not a run lifecycle") and "Traceback" not in error


# The spec's lifecycle through the front
async def _start_run(sandbox, client, cloud, **run_kwargs):
    pipeline = await (await client.put(pipeline_path(cloud, "exportPipelines", "exportpipe1") + API,
                                       json=export_pipeline_body(sas_storage(cloud)))).json()
    sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
    response = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline["id"], **run_kwargs))
    return pipeline, response


def _local(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def _get_run(client, cloud) -> dict:
    return await (await client.get(run_path(cloud, RUN_NAME) + API)).json()


def test_spec_put_answers_201_running_under_provisioning_succeeded_with_its_operation_done(spec_sandbox, engine):
    cloud = spec_sandbox.source
    engine.hold = True

    async def scenario(client):
        _, response = await _start_run(spec_sandbox, client, cloud)
        created = (response.status, await response.json())
        operation = await client.get(_local(response.headers["Azure-AsyncOperation"]))
        operation = (operation.headers.get("Retry-After"), await operation.json())
        while not engine.calls:
            await _get_run(client, cloud)
        during = await _get_run(client, cloud)
        engine.release()
        await spec_sandbox.wait_finished(run_path(cloud, RUN_NAME))
        after = await _get_run(client, cloud)
        operation_after = await (await client.get(_local(response.headers["Azure-AsyncOperation"]))).json()
        return created, operation, during, after, operation_after

    (status, created), (retry_after, operation), during, after, operation_after = spec_sandbox.run(scenario)
    assert status == 201
    assert created["properties"]["provisioningState"] == "Succeeded"
    assert created["properties"]["response"]["status"] == "Running"
    assert created["properties"]["response"]["progress"] == {"percentage": "0"}
    assert (retry_after, operation["status"]) == (None, "Succeeded") and operation["endTime"]
    # Only a later GET shows the run move on: Running with a string percentage while the engine holds it.
    assert during["properties"]["provisioningState"] == "Succeeded"
    assert during["properties"]["response"]["status"] == "Running"
    assert during["properties"]["response"]["progress"] == {"percentage": "40"}
    assert after["properties"]["provisioningState"] == "Succeeded"
    assert after["properties"]["response"]["status"] == "Succeeded"
    assert after["properties"]["response"]["progress"] == {"percentage": "100"}
    assert after["properties"]["response"]["catalogDigest"] == CATALOG_DIGEST
    assert operation_after == operation       # the operation was finished when the PUT answered


def test_spec_failing_run_fails_in_its_status_with_its_message_under_provisioning_succeeded(spec_sandbox, engine):
    cloud = spec_sandbox.source
    engine.error = TransferError(FAILURE)

    async def scenario(client):
        _, response = await _start_run(spec_sandbox, client, cloud)
        await spec_sandbox.wait_finished(run_path(cloud, RUN_NAME))
        operation = await (await client.get(_local(response.headers["Azure-AsyncOperation"]))).json()
        return await _get_run(client, cloud), operation

    run, operation = spec_sandbox.run(scenario)
    assert run["properties"]["provisioningState"] == "Succeeded"
    assert run["properties"]["response"]["status"] == "Failed"
    assert run["properties"]["response"]["pipelineRunErrorMessage"] == FAILURE
    assert operation["status"] == "Succeeded" and "error" not in operation


def test_spec_running_run_is_busy_for_other_puts_and_deletes_and_a_retried_put_is_idempotent(spec_sandbox, engine):
    cloud = spec_sandbox.source
    engine.hold = True

    async def scenario(client):
        pipeline, first = await _start_run(spec_sandbox, client, cloud)
        while not engine.calls:
            await _get_run(client, cloud)
        retried = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline["id"]))
        retried_operation = await (await client.get(_local(retried.headers["Azure-AsyncOperation"]))).json()
        other = await client.put(run_path(cloud, RUN_NAME) + API,
                                 json=export_run_body(pipeline["id"], blob="other.tar"))
        busy_delete = await client.delete(run_path(cloud, RUN_NAME) + API)
        engine.release()
        await spec_sandbox.wait_finished(run_path(cloud, RUN_NAME))
        delete = await client.delete(run_path(cloud, RUN_NAME) + API)
        return first.status, retried.status, retried_operation["status"], other.status, busy_delete.status, \
            delete.status

    assert spec_sandbox.run(scenario) == (201, 201, "Succeeded", 409, 409, 200)
    assert len(engine.calls) == 1


def test_spec_rerun_with_a_new_force_update_tag_runs_again_under_provisioning_succeeded(spec_sandbox, engine):
    cloud = spec_sandbox.source

    async def scenario(client):
        pipeline, _ = await _start_run(spec_sandbox, client, cloud)
        await spec_sandbox.wait_finished(run_path(cloud, RUN_NAME))
        engine.hold = True
        rerun = await client.put(run_path(cloud, RUN_NAME) + API,
                                 json=export_run_body(pipeline["id"], force_update_tag="again1"))
        rerun_body = await rerun.json()
        engine.release()
        await spec_sandbox.wait_finished(run_path(cloud, RUN_NAME))
        return rerun.status, rerun_body

    status, rerun = spec_sandbox.run(scenario)
    assert status == 200
    assert (rerun["properties"]["provisioningState"], rerun["properties"]["response"]["status"]) == \
        ("Succeeded", "Running")
    assert len(engine.calls) == 2


def test_spec_run_cut_by_a_restart_fails_in_its_status(spec_sandbox, engine):
    cloud = spec_sandbox.source
    engine.hold = True

    async def scenario(client):
        await _start_run(spec_sandbox, client, cloud)
        while not engine.calls:
            await _get_run(client, cloud)
    spec_sandbox.run(scenario)          # stops the executor with the run in the middle
    assert run_in_progress(spec_sandbox.store.get(run_path(cloud, RUN_NAME)))

    config = spec_sandbox.config
    ensure_certificates(config.home / "tls")
    restarted = RunExecutor(config, spec_sandbox.credentials, ResourceStore(config.state_dir / "resources.json"))

    async def restart():
        await restarted.startup()
        await restarted.shutdown()
    spec_sandbox.run_executor(restart)
    run = restarted.store.get(run_path(cloud, RUN_NAME))
    assert run["properties"]["provisioningState"] == "Succeeded"
    assert run["properties"]["response"]["status"] == "Failed"
    assert run["properties"]["response"]["pipelineRunErrorMessage"].startswith("The pipeline run was interrupted")
