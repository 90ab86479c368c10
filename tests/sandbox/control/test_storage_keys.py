"""storageAccounts/listKeys: the account key az (and check in ManagedIdentity mode) asks ARM for."""
from .harness import API


def test_list_keys_answers_the_accounts_own_key_and_only_for_its_account(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        own = await client.post(f"{cloud.storage_account_id}/listKeys{API}")
        other = await client.post(f"{cloud.storage_account_id}x/listKeys{API}")
        foreign = await client.post(f"{sandbox.target.storage_account_id}/listKeys{API}")
        return own.status, await own.json(), other.status, foreign.status

    status, body, other, foreign = sandbox.run(scenario, cloud)
    assert status == 200
    assert [key["value"] for key in body["keys"]] == [sandbox.credentials.storage_keys["source"]]
    assert (other, foreign) == (404, 404)


def test_list_keys_needs_a_token(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.post(f"{cloud.storage_account_id}/listKeys{API}", headers={"Authorization": ""})
        return response.status

    assert sandbox.run(scenario, cloud) == 401
