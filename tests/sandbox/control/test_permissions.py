"""ARM's Microsoft.Authorization/permissions: the caller's effective permissions at a subscription, group or
resource scope, from its role assignments at that scope or above; the role definitions behind them."""
import uuid

import pytest

from acrtransfer_sandbox.rules.roles import effective_permissions

from .harness import API

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
