"""The resource store: what a restart keeps, how ids match, and that its file stays private."""
import json
import os
import stat

from acrtransfer_sandbox.plumbing.store import ResourceStore

RESOURCE_ID = "/subscriptions/s/resourceGroups/G/providers/Microsoft.ContainerRegistry/registries/R"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_everything_survives_a_restart(tmp_path):
    path = tmp_path / "state" / "resources.json"
    store = ResourceStore(path)
    store.put(RESOURCE_ID, {"id": RESOURCE_ID, "type": "t"})
    store.put(RESOURCE_ID + "/exportPipelines/gone", {"id": "gone"})
    store.delete(RESOURCE_ID + "/exportPipelines/gone")
    store.add_secret_version("/vault/V", "Secret", {"version": "1", "value": "sv=1"})
    store.add_secret_version("/vault/V", "Secret", {"version": "2", "value": "sv=2"})
    store.set_bookkeeping("trigger_seen", {"p": ["a@b"]})

    restarted = ResourceStore(path)
    assert restarted.get(RESOURCE_ID) == {"id": RESOURCE_ID, "type": "t"}
    assert restarted.get(RESOURCE_ID + "/exportPipelines/gone") is None
    assert [v["value"] for v in restarted.secret_versions("/vault/v", "secret")] == ["sv=1", "sv=2"]
    assert restarted.secret_names("/VAULT/V") == ["secret"]
    assert restarted.get_bookkeeping("trigger_seen") == {"p": ["a@b"]}
    assert restarted.get_bookkeeping("missing", {"default": True}) == {"default": True}


def test_ids_match_in_any_case_and_keep_the_clients_spelling(tmp_path):
    store = ResourceStore(tmp_path / "resources.json")
    store.put(RESOURCE_ID, {"id": RESOURCE_ID})
    assert store.get(RESOURCE_ID.lower())["id"] == RESOURCE_ID
    assert store.delete(RESOURCE_ID.upper()) is True
    assert store.delete(RESOURCE_ID) is False
    assert store.all_resources() == []


def test_children_are_the_direct_ones_of_that_type_in_creation_order(tmp_path):
    store = ResourceStore(tmp_path / "resources.json")
    for name in ("b", "a", "c"):
        store.put(f"{RESOURCE_ID}/pipelineRuns/{name}", {"name": name})
    store.put(f"{RESOURCE_ID}/pipelineRuns/a/operationStatuses/x", {"name": "nested"})
    store.put(f"{RESOURCE_ID}/exportPipelines/p", {"name": "p"})
    store.put(f"{RESOURCE_ID}2/pipelineRuns/z", {"name": "other registry"})

    assert [doc["name"] for doc in store.children(RESOURCE_ID.upper(), "PIPELINERUNS")] == ["b", "a", "c"]


def test_documents_are_copies(tmp_path):
    store = ResourceStore(tmp_path / "resources.json")
    document = {"properties": {"state": "Creating"}}
    store.put(RESOURCE_ID, document)
    document["properties"]["state"] = "changed by the caller"
    store.get(RESOURCE_ID)["properties"]["state"] = "changed by a reader"
    assert store.get(RESOURCE_ID)["properties"]["state"] == "Creating"


def test_the_state_file_is_0600_and_never_half_written(tmp_path):
    path = tmp_path / "resources.json"
    store = ResourceStore(path)
    store.put(RESOURCE_ID, {"secret": "sv=..."})
    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["resources"][RESOURCE_ID.lower()] == {"secret": "sv=..."}
    assert not path.with_suffix(".tmp").exists()


def test_the_state_file_is_0600_even_after_a_crash_left_a_readable_temporary_file(tmp_path):
    path = tmp_path / "resources.json"
    leftover = path.with_suffix(".tmp")
    leftover.write_text("{half")
    leftover.chmod(0o644)

    ResourceStore(path).add_secret_version("/vault/v", "s", {"version": "1", "value": "sv=secret"})
    assert _mode(path) == 0o600
