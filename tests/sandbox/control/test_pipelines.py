"""The ARM API of exportPipelines, importPipelines and pipelineRuns, through the cloud front (fake transfer engine)."""
import asyncio
import json
import time
import uuid

import pytest

from acrtransfer_sandbox.rules.pipelines import EXPORT, build_pipeline_document
from acrtransfer_sandbox.transfer import TransferError

from .harness import (API, CATALOG_DIGEST, RUN_WAIT_SECONDS, export_pipeline_body, export_run_body,
                      import_pipeline_body, import_run_body, managed_storage, pipeline_path, run_path, sas_storage)

EXPORT_NAME = "exportpipe1"
IMPORT_NAME = "importpipe1"
RUN_NAME = "exportrun1"


def _is_uuid(text) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except (TypeError, ValueError):
        return False


async def _put_export_pipeline(client, cloud, name=EXPORT_NAME, **kwargs):
    response = await client.put(pipeline_path(cloud, "exportPipelines", name) + API,
                                json=export_pipeline_body(sas_storage(cloud), **kwargs))
    assert response.status == 200, await response.text()
    return await response.json()


async def _poll_operation(client, url):
    """Follow Azure-AsyncOperation as az does until the operation is terminal; return the last body."""
    deadline = time.monotonic() + RUN_WAIT_SECONDS
    while time.monotonic() < deadline:
        body = await (await client.get(_local(url))).json()
        if body["status"] != "InProgress":
            return body
        await asyncio.sleep(0.005)
    raise AssertionError(f"the operation never finished: {body}")


def _local(url: str) -> str:
    """The path and query of an absolute URL the front handed out (it names the cloud's public port)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


# Pipelines
def test_pipeline_put_answers_200_with_a_generated_system_identity(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        return await _put_export_pipeline(client, cloud, options=["OverwriteBlobs"])

    body = sandbox.run(scenario)
    assert body["id"] == pipeline_path(cloud, "exportPipelines", EXPORT_NAME)
    assert body["type"] == "Microsoft.ContainerRegistry/registries/exportPipelines"
    assert body["identity"]["type"] == "systemAssigned"
    assert _is_uuid(body["identity"]["principalId"])
    assert body["identity"]["tenantId"] == cloud.tenant_id
    assert body["properties"] == {"target": sas_storage(cloud), "options": ["OverwriteBlobs"],
                                  "provisioningState": "Succeeded"}
    assert body["systemData"]["createdBy"] == cloud.client_id


def test_pipeline_put_again_keeps_its_principal_and_another_pipeline_gets_its_own(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        first = await _put_export_pipeline(client, cloud)
        again = await _put_export_pipeline(client, cloud, options=["ContinueOnErrors"])
        other = await _put_export_pipeline(client, cloud, name="exportpipe2")
        return first, again, other

    first, again, other = sandbox.run(scenario)
    assert again["identity"]["principalId"] == first["identity"]["principalId"]
    assert again["properties"]["options"] == ["ContinueOnErrors"]
    assert again["systemData"]["createdAt"] == first["systemData"]["createdAt"]
    assert other["identity"]["principalId"] != first["identity"]["principalId"]


def test_user_assigned_identity_has_one_principal_wherever_it_is_used(sandbox):
    cloud = sandbox.target
    identity_id = f"{cloud.group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/transfer-id"
    identity = {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}}

    async def scenario(client):
        bodies = []
        for name in (IMPORT_NAME, "importpipe2"):
            response = await client.put(pipeline_path(cloud, "importPipelines", name) + API,
                                        json=import_pipeline_body(managed_storage(cloud), identity=identity))
            assert response.status == 200, await response.text()
            bodies.append(await response.json())
        return bodies

    first, second = sandbox.run(scenario, cloud)
    assert first["identity"]["type"] == "userAssigned"
    entry = first["identity"]["userAssignedIdentities"][identity_id]
    assert _is_uuid(entry["principalId"]) and _is_uuid(entry["clientId"])
    assert entry["principalId"] != entry["clientId"]
    assert second["identity"]["userAssignedIdentities"][identity_id] == entry


@pytest.mark.parametrize("identity", [
    {"type": "UserAssigned", "userAssignedIdentities": {}},
    {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/x/resourceGroups/g/providers/"
                                                        "Microsoft.Storage/storageAccounts/notanidentity": {}}},
    {"type": "None"},
])
def test_pipeline_identity_that_cannot_act_is_refused(sandbox, identity):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API,
                                    json=export_pipeline_body(sas_storage(cloud), identity=identity))
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, "InvalidIdentity")
    assert sandbox.store.get(pipeline_path(cloud, "exportPipelines", EXPORT_NAME)) is None


@pytest.mark.parametrize("name,status", [("abcde", 200), ("a" * 50, 200), ("Pipe1", 200), ("abcd", 400),
                                         ("a" * 51, 400), ("pipe-one", 400), ("pipe_one", 400)])
def test_pipeline_names_are_5_to_50_alphanumerics(sandbox, name, status):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", name) + API,
                                    json=export_pipeline_body(sas_storage(cloud)))
        return response.status, await response.json()

    got_status, body = sandbox.run(scenario)
    assert got_status == status
    if status == 400:
        assert body["error"]["code"] == "InvalidResourceName"
        assert name in body["error"]["message"]


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("keyVaultUri"), "keyVaultUri"),
    (lambda s: s.update(storageAccessMode="AccountKey"), "storageAccessMode"),
    (lambda s: s.update(type="AzureFileShare"), "AzureStorageBlobContainer"),
    (lambda s: s.pop("uri"), "uri is required"),
    (lambda s: s.update(storageAccessMode="ManagedIdentity"), "takes no keyVaultUri"),
])
def test_pipeline_storage_that_the_service_refuses_is_a_400(sandbox, change, message):
    cloud = sandbox.source
    storage = sas_storage(cloud)
    change(storage)

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API,
                                    json=export_pipeline_body(storage))
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, "InvalidParameter")
    assert message in body["error"]["message"]


def test_storage_access_mode_is_answered_in_the_service_spelling(sandbox):
    cloud = sandbox.source
    storage = dict(managed_storage(cloud), storageAccessMode="managedidentity")

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API,
                                    json=export_pipeline_body(storage))
        return await response.json()

    assert sandbox.run(scenario)["properties"]["target"]["storageAccessMode"] == "ManagedIdentity"


def test_options_of_the_other_pipeline_kind_are_refused(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API,
                                    json=export_pipeline_body(sas_storage(cloud), options=["OverwriteTags"]))
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert status == 400 and "OverwriteTags" in body["error"]["message"]


@pytest.mark.parametrize("trigger,expected", [(None, "Enabled"), ("Enabled", "Enabled"), ("Disabled", "Disabled")])
def test_import_pipeline_source_trigger_status(sandbox, trigger, expected):
    cloud = sandbox.target
    body = import_pipeline_body(managed_storage(cloud))
    if trigger is None:
        del body["properties"]["trigger"]
    else:
        body["properties"]["trigger"]["sourceTrigger"]["status"] = trigger

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "importPipelines", IMPORT_NAME) + API, json=body)
        return await response.json()

    answered = sandbox.run(scenario, cloud)
    assert answered["properties"]["trigger"] == {"sourceTrigger": {"status": expected}}
    assert answered["properties"]["source"] == managed_storage(cloud)


def test_get_of_a_missing_pipeline_is_resource_not_found(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.get(pipeline_path(cloud, "exportPipelines", "nosuchpipeline") + API)
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert status == 404
    assert body["error"]["code"] == "ResourceNotFound"
    assert f"{cloud.registry_name}/exportPipelines/nosuchpipeline" in body["error"]["message"]
    assert cloud.resource_group in body["error"]["message"]


def test_an_import_pipeline_is_not_found_as_an_export_pipeline(sandbox):
    cloud = sandbox.target

    async def scenario(client):
        await client.put(pipeline_path(cloud, "importPipelines", IMPORT_NAME) + API,
                         json=import_pipeline_body(managed_storage(cloud)))
        wrong = await client.get(pipeline_path(cloud, "exportPipelines", IMPORT_NAME) + API)
        right = await client.get(pipeline_path(cloud, "importPipelines", IMPORT_NAME) + API)
        return wrong.status, right.status

    assert sandbox.run(scenario, cloud) == (404, 200)


def test_paths_match_in_any_case_as_arm_does(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        created = await _put_export_pipeline(client, cloud)
        path = pipeline_path(cloud, "exportPipelines", EXPORT_NAME)
        response = await client.get(path.replace("resourceGroups", "resourcegroups")
                                    .replace("exportPipelines", "exportpipelines") + API)
        return created, response.status, await response.json()

    created, status, body = sandbox.run(scenario)
    assert status == 200 and body["identity"] == created["identity"]


@pytest.mark.parametrize("mangle,code", [
    (lambda cloud, p: p.replace(cloud.subscription_id, str(uuid.uuid4())), "SubscriptionNotFound"),
    (lambda cloud, p: p.replace(cloud.resource_group, "othergroup"), "ResourceGroupNotFound"),
    (lambda cloud, p: p.replace(cloud.registry_name, "otherregistry"), "ResourceNotFound"),
])
def test_pipeline_outside_this_clouds_registry_is_not_found(sandbox, mangle, code):
    cloud = sandbox.source

    async def scenario(client):
        path = mangle(cloud, pipeline_path(cloud, "exportPipelines", EXPORT_NAME))
        response = await client.put(path + API, json=export_pipeline_body(sas_storage(cloud)))
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (404, code)
    assert sandbox.store.children(cloud.registry_id, "exportPipelines") == []


def test_a_pipeline_of_the_other_cloud_is_not_served_by_this_front(sandbox):
    target = sandbox.target

    async def scenario(client):
        response = await client.get(pipeline_path(target, "importPipelines", IMPORT_NAME) + API)
        return response.status

    assert sandbox.run(scenario, sandbox.source) == 404


def test_delete_pipeline_then_it_is_gone(sandbox):
    cloud = sandbox.source
    path = pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API

    async def scenario(client):
        await _put_export_pipeline(client, cloud)
        first = await client.delete(path)
        second = await client.delete(path)
        after = await client.get(path)
        return first.status, second.status, after.status

    assert sandbox.run(scenario) == (200, 204, 404)


def test_list_pages_with_next_link_and_holds_only_its_collection(sandbox):
    cloud = sandbox.source
    names = [f"exportpipe{index:02d}" for index in range(23)]

    async def scenario(client):
        for name in names:
            await _put_export_pipeline(client, cloud, name=name)
        await client.put(pipeline_path(cloud, "importPipelines", IMPORT_NAME) + API,
                         json=import_pipeline_body(managed_storage(cloud)))
        first = await (await client.get(f"{cloud.registry_id}/exportPipelines{API}")).json()
        second = await (await client.get(_local(first["nextLink"]))).json()
        imports = await (await client.get(f"{cloud.registry_id}/importPipelines{API}")).json()
        return first, second, imports

    first, second, imports = sandbox.run(scenario)
    assert len(first["value"]) == 20
    assert "nextLink" not in second
    assert [doc["name"] for doc in first["value"] + second["value"]] == names
    assert [doc["name"] for doc in imports["value"]] == [IMPORT_NAME]
    assert "nextLink" not in imports


# Runs
def test_run_put_answers_201_with_azure_async_operation_then_succeeds(sandbox, engine):
    cloud = sandbox.source
    pipeline_id = pipeline_path(cloud, "exportPipelines", EXPORT_NAME)

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
        response = await client.put(run_path(cloud, RUN_NAME) + API,
                                    json=export_run_body(pipeline_id, artifacts=["hello-world:latest", "a:b"]))
        created = (response.status, dict(response.headers), await response.json())
        operation = await _poll_operation(client, created[1]["Azure-AsyncOperation"])
        run = await (await client.get(run_path(cloud, RUN_NAME) + API)).json()
        return created, operation, run

    (status, headers, created), operation, run = sandbox.run(scenario)
    assert status == 201
    assert headers["Retry-After"] == "1"
    operation_url = headers["Azure-AsyncOperation"]
    assert operation_url.startswith(f"{cloud.front_url}{run_path(cloud, RUN_NAME)}/operationStatuses/")
    assert operation_url.endswith(API)
    assert created["properties"]["provisioningState"] == "Creating"
    assert created["properties"]["response"]["status"] == "Running"
    assert created["properties"]["request"]["artifacts"] == ["hello-world:latest", "a:b"]
    assert operation["status"] == "Succeeded" and "runId" not in operation and operation["endTime"]
    assert run["properties"]["provisioningState"] == "Succeeded"
    response = run["properties"]["response"]
    assert response["status"] == "Succeeded"
    assert response["importedArtifacts"] == ["hello-world:latest", "a:b"]
    assert response["catalogDigest"] == CATALOG_DIGEST
    assert response["progress"] == {"percentage": "100"}
    assert response["startTime"] <= response["finishTime"]
    assert response["target"] == {"type": "AzureStorageBlob", "uri": cloud.container_uri + "/export1.tar",
                                  "keyVaultUri": cloud.secret_uri, "storageAccessMode": "SasToken"}
    assert [call["blob"] for call in engine.calls] == ["export1.tar"]


def test_operation_status_is_in_progress_with_retry_after_until_the_run_ends(sandbox, engine):
    cloud = sandbox.source
    engine.hold = True

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
        response = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline["id"]))
        operation_path = _local(response.headers["Azure-AsyncOperation"])
        while not engine.calls:
            await client.get(operation_path)
        during = await client.get(operation_path)
        during = (during.headers.get("Retry-After"), await during.json())
        retried_put = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline["id"]))
        same_operation = _local(retried_put.headers["Azure-AsyncOperation"]) == operation_path
        busy_put = await client.put(run_path(cloud, RUN_NAME) + API,
                                    json=export_run_body(pipeline["id"], blob="other.tar"))
        busy_delete = await client.delete(run_path(cloud, RUN_NAME) + API)
        engine.release()
        await sandbox.wait_finished(run_path(cloud, RUN_NAME))
        after = await client.get(operation_path)
        return during, (retried_put.status, same_operation, busy_put.status, busy_delete.status), \
            (after.headers.get("Retry-After"), await after.json())

    (retry_during, during), busy, (retry_after, after) = sandbox.run(scenario)
    assert (retry_during, during["status"]) == ("1", "InProgress")
    assert busy == (201, True, 409, 409)  # the same PUT again is idempotent; another one waits for the run
    assert len(engine.calls) == 1
    assert (retry_after, after["status"]) == (None, "Succeeded")


def test_unknown_operation_is_not_found(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.get(f"{run_path(cloud, RUN_NAME)}/operationStatuses/{uuid.uuid4()}{API}")
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (404, "OperationNotFound")


def test_failed_run_reports_the_engines_message_in_run_and_operation(sandbox, engine):
    cloud = sandbox.source
    engine.error = TransferError("Artifact 'nope:1' was not found in the source registry.")

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
        response = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline["id"]))
        operation = await _poll_operation(client, response.headers["Azure-AsyncOperation"])
        run = await (await client.get(run_path(cloud, RUN_NAME) + API)).json()
        return operation, run

    operation, run = sandbox.run(scenario)
    assert operation["status"] == "Failed"
    assert operation["error"] == {"code": "PipelineRunFailed", "message": str(engine.error)}
    assert run["properties"]["provisioningState"] == "Failed"
    assert run["properties"]["response"]["pipelineRunErrorMessage"] == str(engine.error)


def test_run_put_again_is_idempotent_unless_force_update_tag_changes(sandbox, engine):
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
        statuses = []
        for tag in (None, None, "redeploy1", "redeploy1", "redeploy2"):
            response = await client.put(run_path(cloud, RUN_NAME) + API,
                                        json=export_run_body(pipeline["id"], force_update_tag=tag))
            statuses.append(response.status)
            assert "Azure-AsyncOperation" in response.headers
            await _poll_operation(client, response.headers["Azure-AsyncOperation"])
        return statuses

    assert sandbox.run(scenario) == [201, 200, 200, 200, 200]
    assert len(engine.calls) == 3     # the first run and the two new forceUpdateTags


def test_run_put_with_other_properties_starts_a_new_run(sandbox, engine):
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
        for blob in ("first.tar", "first.tar", "second.tar"):
            response = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline["id"], blob))
            await _poll_operation(client, response.headers["Azure-AsyncOperation"])
        return await (await client.get(run_path(cloud, RUN_NAME) + API)).json()

    run = sandbox.run(scenario)
    assert [call["blob"] for call in engine.calls] == ["first.tar", "second.tar"]
    assert run["properties"]["request"]["target"]["name"] == "second.tar"


@pytest.mark.parametrize("name,status", [("abcde", 201), ("run-1x", 400), ("abcd", 400), ("r" * 51, 400)])
def test_run_names_are_5_to_50_alphanumerics(sandbox, name, status):
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        response = await client.put(run_path(cloud, name) + API, json=export_run_body(pipeline["id"]))
        return response.status

    assert sandbox.run(scenario) == status


@pytest.mark.parametrize("body_of,code", [
    (lambda p: {"properties": {"request": {}}}, "InvalidParameter"),
    (lambda p: export_run_body(p.replace(EXPORT_NAME, "missingpipe")), "InvalidPipelineResourceId"),
    (lambda p: export_run_body(p, artifacts=[]), "InvalidParameter"),
    (lambda p: export_run_body(p, artifacts=[f"repo:{i}" for i in range(51)]), "InvalidParameter"),
    (lambda p: {"properties": {"request": {"pipelineResourceId": p, "artifacts": ["a:b"]}}}, "InvalidParameter"),
    (lambda p: import_run_body(p.replace("exportPipelines/" + EXPORT_NAME, "importPipelines/" + IMPORT_NAME),
                               blob=""), "InvalidParameter"),
])
def test_run_that_cannot_run_is_a_400_and_is_not_stored(sandbox, engine, body_of, code):
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        await client.put(pipeline_path(cloud, "importPipelines", IMPORT_NAME) + API,
                         json=import_pipeline_body(managed_storage(cloud)))
        response = await client.put(run_path(cloud, RUN_NAME) + API, json=body_of(pipeline["id"]))
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, code)
    assert sandbox.store.get(run_path(cloud, RUN_NAME)) is None
    assert engine.calls == []


def test_fifty_artifacts_is_the_most_one_export_run_takes(sandbox, engine):
    cloud = sandbox.source
    artifacts = [f"repo:{i}" for i in range(50)]

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        response = await client.put(run_path(cloud, RUN_NAME) + API,
                                    json=export_run_body(pipeline["id"], artifacts=artifacts))
        return response.status

    assert sandbox.run(scenario) == 201


def test_runs_are_listed_oldest_first_and_deleted_when_finished(sandbox):
    cloud = sandbox.source
    names = [f"exportrun{index}" for index in range(3)]

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        for name in names:
            await client.put(run_path(cloud, name) + API, json=export_run_body(pipeline["id"]))
            await sandbox.wait_finished(run_path(cloud, name))
        listed = await (await client.get(f"{cloud.registry_id}/pipelineRuns{API}")).json()
        deleted = await client.delete(run_path(cloud, names[0]) + API)
        after = await (await client.get(f"{cloud.registry_id}/pipelineRuns{API}")).json()
        return listed, deleted.status, after

    listed, deleted, after = sandbox.run(scenario)
    assert [run["name"] for run in listed["value"]] == names
    assert deleted == 200
    assert [run["name"] for run in after["value"]] == names[1:]


@pytest.mark.parametrize("owner", ["other registry", "other cloud"])
def test_a_run_names_a_pipeline_of_its_own_registry_only(sandbox, engine, owner):
    cloud = sandbox.source
    elsewhere = sandbox.target if owner == "other cloud" else sandbox.source
    registry_id = elsewhere.registry_id + ("" if owner == "other cloud" else "2")
    pipeline_id = f"{registry_id}/exportPipelines/{EXPORT_NAME}"
    sandbox.store.put(pipeline_id, build_pipeline_document(EXPORT, pipeline_id, EXPORT_NAME, export_pipeline_body(
        sas_storage(elsewhere)), None, elsewhere.tenant_id, elsewhere.client_id))

    async def scenario(client):
        response = await client.put(run_path(cloud, RUN_NAME) + API, json=export_run_body(pipeline_id))
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, "InvalidPipelineResourceId")
    assert sandbox.store.get(run_path(cloud, RUN_NAME)) is None
    assert engine.calls == []


def test_a_json_body_that_is_not_an_object_is_a_400(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API, json=[1])
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, "InvalidRequestContent")
    assert sandbox.store.get(pipeline_path(cloud, "exportPipelines", EXPORT_NAME)) is None


def test_a_skip_token_it_did_not_issue_is_a_400(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.get(f"{cloud.registry_id}/exportPipelines{API}&$skipToken=abc")
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, "InvalidSkipToken")


def test_a_body_that_is_not_json_is_a_400_naming_the_problem(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.put(pipeline_path(cloud, "exportPipelines", EXPORT_NAME) + API, data="{identity:",
                                    headers={"Content-Type": "application/json"})
        return response.status, await response.json()

    status, body = sandbox.run(scenario)
    assert (status, body["error"]["code"]) == (400, "InvalidRequestContent")
    assert sandbox.store.get(pipeline_path(cloud, "exportPipelines", EXPORT_NAME)) is None


def test_the_response_log_records_pipeline_and_run_bodies_only(sandbox):
    """What the spec check after every test reads: one line per body of the three resource types."""
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await _put_export_pipeline(client, cloud)
        await client.get(f"{cloud.registry_id}/exportPipelines" + API)
        await client.get(cloud.vault_id + "?api-version=2023-07-01")
        return pipeline

    pipeline = sandbox.run(scenario)
    entries = [json.loads(line) for line in sandbox.config.response_log.read_text().splitlines()]
    assert [(entry["method"], entry["status"]) for entry in entries] == [("PUT", 200), ("GET", 200)]
    assert entries[0]["body"] == pipeline and entries[1]["body"]["value"] == [pipeline]
