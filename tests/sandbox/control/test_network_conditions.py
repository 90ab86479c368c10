"""Sandbox settings for hostile networks and slow services: run DELETE answering 202 + Location, added latency,
and faults injected at a rate with a seed (acrtransfer_sandbox/fronts/faults.py)."""
import asyncio
import time
import uuid

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acrtransfer_sandbox.fronts import pipelines
from acrtransfer_sandbox.fronts.faults import FaultInjector
from acrtransfer_sandbox.plumbing.network_conditions import NetworkConditions

from .harness import API, export_pipeline_body, export_run_body, run_path, sas_storage
from .test_authorization import _assign


def test_a_run_delete_can_answer_202_with_a_location_the_client_follows(sandbox, monkeypatch):
    monkeypatch.setenv(pipelines.ASYNC_RUN_DELETE_SETTING, "1")
    monkeypatch.setattr(pipelines, "ASYNC_DELETE_SECONDS", 0.2)
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await (await client.put(f"{cloud.registry_id}/exportPipelines/exportpipe1{API}",
                                           json=export_pipeline_body(sas_storage(cloud)))).json()
        await client.put(run_path(cloud, "exportrun1") + API, json=export_run_body(pipeline["id"]))
        await sandbox.wait_finished(run_path(cloud, "exportrun1"))
        deleted = await client.delete(run_path(cloud, "exportrun1") + API)
        location = deleted.headers["Location"]
        during = await client.get(location.split(str(cloud.front_port), 1)[1])
        run_during = await (await client.get(run_path(cloud, "exportrun1") + API)).json()
        # Poll the operation as a client would (bounded) rather than sleeping past ASYNC_DELETE_SECONDS and
        # hoping the machine kept up.
        for _ in range(200):
            after = await client.get(location.split(str(cloud.front_port), 1)[1])
            if after.status != 202:
                break
            await asyncio.sleep(0.05)
        run_after = await client.get(run_path(cloud, "exportrun1") + API)
        return deleted, during.status, run_during, after.status, run_after.status

    deleted, during, run_during, after, run_after = sandbox.run(scenario)
    assert deleted.status == 202 and deleted.headers["Retry-After"] == "1"
    location = deleted.headers["Location"]
    assert location.startswith(cloud.front_url + run_path(cloud, "exportrun1") + "/operationResults/")
    assert during == 202 and run_during["properties"]["provisioningState"] == "Deleting"
    assert after == 204 and run_after == 404


def test_settings_are_read_from_the_environment_and_checked():
    conditions = NetworkConditions.from_environment({
        "ACRSANDBOX_LATENCY_MS": "50", "ACRSANDBOX_FAULT_RATE": "0.2", "ACRSANDBOX_FAULT_SEED": "7",
        "ACRSANDBOX_FAULT_FRONTS": "arm", "ACRSANDBOX_FAULT_KINDS": "429, reset"})
    assert (conditions.latency_ms, conditions.fault_rate, conditions.seed) == (50, 0.2, 7)
    assert conditions.fronts == ("arm",) and conditions.kinds == ("429", "reset") and conditions.active
    assert not NetworkConditions.from_environment({}).active
    for bad in ({"ACRSANDBOX_FAULT_RATE": "1.5"}, {"ACRSANDBOX_FAULT_KINDS": "teapot"},
                {"ACRSANDBOX_FAULT_FRONTS": "dns"}):
        with pytest.raises(ValueError):
            NetworkConditions.from_environment(bad)


def test_the_same_seed_gives_the_same_faults_at_the_given_rate():
    def sequence(seed):
        injector = FaultInjector(NetworkConditions(fault_rate=0.2, seed=seed))
        return [injector.draw("arm") for _ in range(2000)]
    first = sequence(3)
    assert first == sequence(3) and first != sequence(4)
    assert 300 < sum(kind is not None for kind in first) < 500
    assert {kind for kind in first if kind} == {"429", "500", "503", "reset", "slow"}
    injector = FaultInjector(NetworkConditions(fault_rate=1, fronts=("keyvault",)))
    assert injector.draw("arm") is None and injector.draw("keyvault") is not None


def _serve(injector, scenario, exempt=lambda _request: False):
    handled = []

    async def handler(request):
        handled.append(request.path)
        return web.json_response({"ok": True})

    async def main():
        app = web.Application()
        app.router.add_get("/{tail:.*}", handler)
        injector.apply(app, "arm", exempt)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            return await scenario(client)
    return asyncio.run(main()), handled


@pytest.mark.parametrize("kind, status, code", [("429", 429, "TooManyRequests"), ("500", 500, "InternalServerError"),
                                                ("503", 503, "ServiceUnavailable")])
def test_status_faults_answer_an_arm_error_before_the_request_is_handled(kind, status, code):
    async def scenario(client):
        response = await client.get("/resource")
        return response.status, response.headers.get("Retry-After"), await response.json()

    (answered, retry_after, body), handled = _serve(FaultInjector(NetworkConditions(fault_rate=1, kinds=(kind,))),
                                                    scenario)
    assert answered == status and body["error"]["code"] == code and handled == []
    assert (retry_after == "1") == (kind == "429")


def test_a_reset_fault_drops_the_connection_before_or_after_handling():
    async def scenario(client):
        outcomes = []
        for _ in range(12):
            try:
                await client.get("/resource")
                outcomes.append("answered")
            except aiohttp.ClientConnectionError:
                outcomes.append("reset")
        return outcomes

    outcomes, handled = _serve(FaultInjector(NetworkConditions(fault_rate=1, kinds=("reset",), seed=1)), scenario)
    assert outcomes == ["reset"] * 12
    assert 0 < len(handled) < 12  # some requests took effect although their answer was lost


def test_slow_answers_latency_and_exempt_paths():
    async def scenario(client):
        started = time.monotonic()
        slow = await client.get("/resource")
        slow_seconds = time.monotonic() - started
        exempt = await client.get("/tenant/oauth2/v2.0/token")
        return slow.status, slow_seconds, exempt.status

    injector = FaultInjector(NetworkConditions(latency_ms=100, fault_rate=1, kinds=("slow",), slow_seconds=0.3))
    (status, seconds, exempt), handled = _serve(injector, scenario, exempt=lambda request: "/oauth2/" in request.path)
    assert status == 200 and seconds >= 0.4 and exempt == 200 and len(handled) == 2
    assert injector.injected["slow"] == 1


def test_a_role_assignment_put_retried_after_a_lost_answer_is_idempotent(sandbox):
    cloud = sandbox.target
    name = str(uuid.uuid4())

    async def scenario(client):
        first = await _assign(client, cloud.storage_account_id, name=name)
        again = await _assign(client, cloud.storage_account_id, name=name)
        return first, again

    (first, created), (again, repeated) = sandbox.run(scenario, cloud)
    assert (first, again) == (201, 200) and repeated == created
