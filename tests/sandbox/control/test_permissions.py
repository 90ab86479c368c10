"""ARM's Microsoft.Authorization/permissions: the caller's effective permissions at a subscription, group or
resource scope, from its role assignments at that scope or above; the role definitions behind them."""
import uuid

import pytest

from acrtransfer_sandbox.rules.roles import ROLE_ACTIONS, allows, effective_permissions

from .harness import API, export_pipeline_body, export_run_body, pipeline_path, run_path, sas_storage

TRANSFER_ROLE_ID = "bf94e731-3a51-4a7c-8c54-a1ab9971dfc1"
PERMISSIONS = "/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"


def _assignment(sandbox, cloud, principal, role_id, scope, name=None):
    name = name or str(uuid.uuid4())
    sandbox.store.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {"roleDefinitionId": f"/subscriptions/{cloud.subscription_id}/providers/"
                                           f"Microsoft.Authorization/roleDefinitions/{role_id}",
                       "principalId": principal, "scope": scope}})


def _permissions(sandbox, cloud, scopes, object_id=None):
    async def scenario(client):
        answers = []
        for scope in scopes:
            response = await client.get(scope + PERMISSIONS)
            answers.append((response.status, await response.json()))
        return answers
    token = sandbox.token(cloud, object_id=object_id) if object_id else None
    return sandbox.run(scenario, cloud, token=token)


def test_the_operator_holds_owner_on_its_subscription_at_every_scope(sandbox):
    cloud = sandbox.source
    answers = _permissions(sandbox, cloud, [f"/subscriptions/{cloud.subscription_id}", cloud.group_id,
                                            cloud.registry_id])
    for status, body in answers:
        assert status == 200
        assert body["value"] == [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]


def test_a_transfer_role_on_the_registry_shows_there_and_not_on_the_group(sandbox):
    cloud = sandbox.source
    caller = str(uuid.uuid4())
    _assignment(sandbox, cloud, caller, TRANSFER_ROLE_ID, cloud.registry_id)
    answers = _permissions(sandbox, cloud, [cloud.registry_id, cloud.group_id], caller)
    (on_registry_status, on_registry), (_, on_group) = answers
    assert on_registry_status == 200
    [entry] = on_registry["value"]
    assert "Microsoft.ContainerRegistry/registries/pipelineRuns/*" in entry["actions"]
    assert on_group["value"] == []


def test_a_reader_on_the_group_reads_only(sandbox):
    cloud = sandbox.source
    caller = str(uuid.uuid4())
    _assignment(sandbox, cloud, caller, "acdd72a7-3385-48ef-bd42-f606fba81ae7", cloud.group_id)
    [(_, body)] = _permissions(sandbox, cloud, [cloud.registry_id], caller)
    assert body["value"] == [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]


def test_assignments_of_others_and_of_the_other_cloud_do_not_count(sandbox):
    cloud = sandbox.source
    caller = str(uuid.uuid4())
    _assignment(sandbox, cloud, str(uuid.uuid4()), TRANSFER_ROLE_ID, cloud.registry_id)
    _assignment(sandbox, sandbox.target, caller, TRANSFER_ROLE_ID, sandbox.target.registry_id)
    assert effective_permissions(sandbox.store, caller, cloud.registry_id) == []


def test_permissions_need_a_token_and_a_scope_of_this_cloud(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        anonymous = await client.get(cloud.registry_id + PERMISSIONS, headers={"Authorization": ""})
        foreign = await client.get(sandbox.target.registry_id + PERMISSIONS)
        root = await client.get("/providers/Microsoft.Management/managementGroups/g1" + PERMISSIONS)
        return anonymous.status, foreign.status, root.status

    assert sandbox.run(scenario, cloud) == (401, 404, 403)


@pytest.mark.parametrize("role_id, action", [(TRANSFER_ROLE_ID, "Microsoft.ContainerRegistry/registries/"
                                                                "exportPipelines/*"),
                                             ("b24988ac-6180-42a0-ab88-20f7382dd24c", "*")])
def test_role_definitions_carry_their_actions(sandbox, role_id, action):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.get(f"/subscriptions/{cloud.subscription_id}/providers/Microsoft.Authorization/"
                                    f"roleDefinitions/{role_id}{API}")
        return await response.json()

    assert action in sandbox.run(scenario, cloud)["properties"]["permissions"][0]["actions"]


# Role assignments are enforced on the pipeline and run writes, as ARM does before the resource provider sees them.
def _writes_as(sandbox, cloud, caller):
    async def scenario(client):
        pipeline_id = pipeline_path(cloud, "exportPipelines", "export1")
        put_pipeline = await client.put(pipeline_id + API, json=export_pipeline_body(sas_storage(cloud)))
        put_run = await client.put(run_path(cloud, "exportrun1") + API, json=export_run_body(pipeline_id))
        delete_run = await client.delete(run_path(cloud, "exportrun1") + API)
        return [(r.status, await r.json() if r.status == 403 else None)
                for r in (put_pipeline, put_run, delete_run)]
    return sandbox.run(scenario, cloud, token=sandbox.token(cloud, object_id=caller))


def test_a_reader_may_not_write_pipelines_or_runs(sandbox):
    cloud = sandbox.source
    reader = str(uuid.uuid4())
    _assignment(sandbox, cloud, reader, "acdd72a7-3385-48ef-bd42-f606fba81ae7", cloud.group_id)
    answers = _writes_as(sandbox, cloud, reader)
    assert [status for status, _ in answers] == [403, 403, 403]
    messages = [body["error"]["message"] for _, body in answers]
    assert all(body["error"]["code"] == "AuthorizationFailed" for _, body in answers)
    assert f"'{reader}'" in messages[0] and "registries/exportPipelines/write" in messages[0]
    assert "registries/pipelineRuns/write" in messages[1] and cloud.registry_id in messages[1]
    assert "registries/pipelineRuns/delete" in messages[2]
    assert sandbox.store.get(pipeline_path(cloud, "exportPipelines", "export1")) is None


def test_the_transfer_role_on_the_registry_may_write_pipelines_and_runs(sandbox):
    cloud = sandbox.source
    caller = str(uuid.uuid4())
    _assignment(sandbox, cloud, caller, TRANSFER_ROLE_ID, cloud.registry_id)
    statuses = [status for status, _ in _writes_as(sandbox, cloud, caller)]
    assert statuses[:2] == [200, 201]
    assert statuses[2] in (200, 202, 204, 409)   # deleted, or refused while the run still goes: never 403
    assert sandbox.store.get(pipeline_path(cloud, "exportPipelines", "export1")) is not None


def _entry(role):
    actions, not_actions = ROLE_ACTIONS[role]
    return {"actions": actions, "notActions": not_actions, "dataActions": [], "notDataActions": []}


@pytest.mark.parametrize("role, action, allowed", [
    ("Owner", "Microsoft.ContainerRegistry/registries/pipelineRuns/write", True),
    ("Contributor", "Microsoft.ContainerRegistry/registries/pipelineRuns/write", True),
    ("Contributor", "Microsoft.Authorization/roleAssignments/write", False),     # a notAction subtracts
    ("Reader", "Microsoft.ContainerRegistry/registries/pipelineRuns/read", True),
    ("Reader", "Microsoft.ContainerRegistry/registries/pipelineRuns/write", False),
    ("Container Registry Transfer Pipeline Contributor", "microsoft.containerregistry/registries/PIPELINERUNS/write",
     True),                                                                   # actions match in any case
    ("Container Registry Transfer Pipeline Contributor", "Microsoft.Authorization/roleAssignments/read", True),
    ("Container Registry Transfer Pipeline Contributor", "Microsoft.ContainerRegistry/registries/write", False),
])
def test_an_action_is_allowed_by_the_roles_wildcards_less_their_not_actions(role, action, allowed):
    assert allows([_entry(role)], action) is allowed


def test_a_not_action_subtracts_only_within_its_own_role():
    contributor_and_owner = [_entry("Contributor"), _entry("Owner")]
    assert allows(contributor_and_owner, "Microsoft.Authorization/roleAssignments/write")
    assert not allows([], "Microsoft.ContainerRegistry/registries/pipelineRuns/read")
