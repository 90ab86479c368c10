"""Microsoft.Authorization: the role-definition lookup and role assignment `az role assignment create` makes, the
listings, and the storage-role check the executor relies on."""
import uuid

import pytest

from acrtransfer_sandbox.rules.roles import StorageRoleMissing, assigned_role_names, require_storage_role

from .harness import STORAGE_ROLE_IDS

API = "?api-version=2022-04-01"
PRINCIPAL = str(uuid.uuid4())
CONTRIBUTOR = "Storage Blob Data Contributor"


async def _role_definition_id(client, scope, role_name):
    response = await client.get(f"{scope}/providers/Microsoft.Authorization/roleDefinitions{API}",
                                params={"$filter": f"roleName eq '{role_name}'"})
    return (await response.json())["value"]


async def _assign(client, scope, principal=PRINCIPAL, role=CONTRIBUTOR, name=None):
    """What `az role assignment create --assignee-object-id --assignee-principal-type ServicePrincipal --role
    <name> --scope <scope>` sends: the role lookup, then a PUT under a new GUID."""
    [definition] = await _role_definition_id(client, scope, role)
    response = await client.put(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name or uuid.uuid4()}{API}",
        json={"properties": {"roleDefinitionId": definition["id"], "principalId": principal,
                             "principalType": "ServicePrincipal"}})
    return response.status, await response.json()


def test_role_definition_lookup_by_name_answers_azures_role_id(sandbox):
    cloud = sandbox.target

    async def scenario(client):
        found = await _role_definition_id(client, cloud.storage_account_id, "storage blob data contributor")
        everything = await _role_definition_id(client, cloud.storage_account_id, "No Such Role")
        by_id = await client.get(f"/subscriptions/{cloud.subscription_id}/providers/Microsoft.Authorization/"
                                 f"roleDefinitions/{STORAGE_ROLE_IDS['Reader']}{API}")
        missing = await client.get(f"/subscriptions/{cloud.subscription_id}/providers/Microsoft.Authorization/"
                                   f"roleDefinitions/{uuid.uuid4()}{API}")
        return found, everything, await by_id.json(), missing.status

    [definition], none, reader, missing = sandbox.run(scenario, cloud)
    assert definition["name"] == STORAGE_ROLE_IDS[CONTRIBUTOR]
    assert definition["id"] == (f"/subscriptions/{cloud.subscription_id}/providers/Microsoft.Authorization/"
                                f"roleDefinitions/{STORAGE_ROLE_IDS[CONTRIBUTOR]}")
    assert definition["properties"]["roleName"] == CONTRIBUTOR
    assert definition["properties"]["permissions"][0]["dataActions"] == [
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"]
    assert none == []
    assert reader["properties"]["roleName"] == "Reader"
    assert missing == 404


def test_role_assignment_create_answers_201_and_the_role_counts_for_the_account(sandbox):
    cloud = sandbox.target
    name = str(uuid.uuid4())

    async def scenario(client):
        return await _assign(client, cloud.storage_account_id, name=name)

    status, body = sandbox.run(scenario, cloud)
    assert status == 201
    assert body["id"] == f"{cloud.storage_account_id}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert body["properties"]["scope"] == cloud.storage_account_id
    assert body["properties"]["principalId"] == PRINCIPAL
    assert body["properties"]["principalType"] == "ServicePrincipal"
    assert body["properties"]["roleDefinitionId"].endswith(STORAGE_ROLE_IDS[CONTRIBUTOR])
    assert assigned_role_names(sandbox.store, PRINCIPAL, cloud.storage_account_id) == {CONTRIBUTOR}
    require_storage_role(sandbox.store, PRINCIPAL, cloud.storage_account_id, needs_write=True)


def test_the_same_assignment_twice_is_a_409_naming_the_first(sandbox):
    cloud = sandbox.target
    first_name = str(uuid.uuid4())

    async def scenario(client):
        first = await _assign(client, cloud.storage_account_id, name=first_name)
        second = await _assign(client, cloud.storage_account_id.upper())
        other_role = await _assign(client, cloud.storage_account_id, role="Storage Blob Data Reader")
        return first[0], second, other_role[0]

    first, (status, body), other_role = sandbox.run(scenario, cloud)
    assert (first, status, other_role) == (201, 409, 201)
    assert body["error"]["code"] == "RoleAssignmentExists" and first_name in body["error"]["message"]


@pytest.mark.parametrize("properties,code", [
    ({"roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}",
      "principalId": PRINCIPAL}, "RoleDefinitionDoesNotExist"),
    ({"roleDefinitionId": STORAGE_ROLE_IDS[CONTRIBUTOR]}, "InvalidPrincipalId"),
])
def test_an_assignment_that_cannot_be_made_is_a_400(sandbox, properties, code):
    cloud = sandbox.target

    async def scenario(client):
        response = await client.put(f"{cloud.storage_account_id}/providers/Microsoft.Authorization/roleAssignments/"
                                    f"{uuid.uuid4()}{API}", json={"properties": properties})
        return response.status, await response.json()

    status, body = sandbox.run(scenario, cloud)
    assert (status, body["error"]["code"]) == (400, code)
    assert assigned_role_names(sandbox.store, PRINCIPAL, cloud.storage_account_id) == set()


def test_list_get_and_delete_assignments(sandbox):
    cloud = sandbox.target
    other = str(uuid.uuid4())
    name = str(uuid.uuid4())
    listing = "/providers/Microsoft.Authorization/roleAssignments" + API

    async def scenario(client):
        await _assign(client, cloud.storage_account_id, name=name)
        await _assign(client, cloud.vault_id, principal=other, role="Key Vault Secrets User")
        on_account = await (await client.get(cloud.storage_account_id + listing)).json()
        in_subscription = await (await client.get(
            f"/subscriptions/{cloud.subscription_id}{listing}", params={"$filter": f"principalId eq '{other}'"})).json()
        got = await client.get(f"{cloud.storage_account_id}/providers/Microsoft.Authorization/roleAssignments/"
                               f"{name}{API}")
        deleted = await client.delete(f"{cloud.storage_account_id}/providers/Microsoft.Authorization/"
                                      f"roleAssignments/{name}{API}")
        again = await client.delete(f"{cloud.storage_account_id}/providers/Microsoft.Authorization/"
                                    f"roleAssignments/{name}{API}")
        return on_account, in_subscription, got.status, deleted.status, again.status

    on_account, in_subscription, got, deleted, again = sandbox.run(scenario, cloud)
    # At the account: its own assignment and the one inherited from the subscription (the operator's Owner).
    assert sorted((a["properties"]["principalId"], a["properties"]["scope"]) for a in on_account["value"]) == sorted(
        [(PRINCIPAL, cloud.storage_account_id), (cloud.operator_object_id, f"/subscriptions/{cloud.subscription_id}")])
    assert [a["properties"]["scope"] for a in in_subscription["value"]] == [cloud.vault_id]
    assert (got, deleted, again) == (200, 200, 204)
    assert assigned_role_names(sandbox.store, PRINCIPAL, cloud.storage_account_id) == set()


def test_role_names_are_per_principal_and_per_resource(sandbox):
    cloud = sandbox.target
    sandbox.assign_role(PRINCIPAL, "Storage Blob Data Reader", cloud.storage_account_id, name="a1")
    sandbox.assign_role(PRINCIPAL, "Key Vault Secrets User", cloud.vault_id, name="a2")
    sandbox.assign_role(PRINCIPAL, CONTRIBUTOR, sandbox.source.storage_account_id, name="a3")

    assert assigned_role_names(sandbox.store, PRINCIPAL.upper(), cloud.storage_account_id) == {
        "Storage Blob Data Reader"}
    assert assigned_role_names(sandbox.store, PRINCIPAL, cloud.vault_id) == {"Key Vault Secrets User"}
    assert assigned_role_names(sandbox.store, str(uuid.uuid4()), cloud.storage_account_id) == set()


def test_require_storage_role_says_which_role_is_missing_where(sandbox):
    cloud = sandbox.target
    sandbox.assign_role(PRINCIPAL, "Storage Blob Data Reader", cloud.storage_account_id)

    require_storage_role(sandbox.store, PRINCIPAL, cloud.storage_account_id, needs_write=False)
    with pytest.raises(StorageRoleMissing) as raised:
        require_storage_role(sandbox.store, PRINCIPAL, cloud.storage_account_id, needs_write=True)
    message = str(raised.value)
    assert "403 (AuthorizationPermissionMismatch)" in message
    assert f"no '{CONTRIBUTOR}' role assignment on storage account '{cloud.storage_account}'" in message
    assert cloud.storage_account_id in message
