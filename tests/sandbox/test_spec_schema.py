"""The spec checker that holds the sandbox's responses against ../shared/spec: it must pass the spec's own
examples and catch every name the spec does not declare, wherever it sits."""
import glob
import json
import os

import pytest

from spec_schema import SPEC_DIR, definition_for_path, load_definitions, unknown_names, \
    unknown_names_in_response_log

RUN_ID = ("/subscriptions/x/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/pipelineRuns/"
          "myrun01")


@pytest.fixture(scope="module")
def definitions():
    return load_definitions()


def _run(response):
    return {"id": RUN_ID, "name": "myrun01", "type": "Microsoft.ContainerRegistry/registries/pipelineRuns",
            "properties": {"provisioningState": "Succeeded", "response": response}}


def _example_bodies():
    for path in sorted(glob.glob(os.path.join(SPEC_DIR, "examples", "*.json"))):
        with open(path, encoding="utf-8") as f:
            example = json.load(f)
        for status, answer in example["responses"].items():
            if isinstance(answer.get("body"), dict):
                yield os.path.basename(path), status, answer["body"]


def test_the_spec_examples_have_no_unknown_names(definitions):
    definition_of = {"PipelineRunList": "PipelineRunListResult", "ExportPipelineList": "ExportPipelineListResult",
                     "ImportPipelineList": "ImportPipelineListResult"}
    checked = 0
    for file_name, status, body in _example_bodies():
        stem = file_name[:-len(".json")]
        definition = definition_of.get(stem) or next(name for name in ("ExportPipeline", "ImportPipeline",
                                                                       "PipelineRun") if stem.startswith(name))
        assert unknown_names(definitions, definition, body) == [], (file_name, status)
        checked += 1
    assert checked >= 10


def test_a_run_with_the_spec_names_passes(definitions):
    response = {"status": "Succeeded", "startTime": "t", "finishTime": "t", "progress": {"percentage": "100"},
                "trigger": {"sourceTrigger": {"timestamp": "t"}},
                "source": {"type": "AzureStorageBlob", "uri": "https://a/c/b", "storageAccessMode": "SasToken",
                           "keyVaultUri": "https://v/secrets/s"}}
    assert unknown_names(definitions, "PipelineRun", _run(response)) == []


def test_invented_names_are_caught_at_any_depth(definitions):
    response = {"finishedTime": "t", "target": {"type": "AzureStorageBlob", "name": "b.tar", "uri": "https://a/c/b"},
                "progress": {"percentage": "5", "bytes": 1}}
    body = _run(response)
    body["location"] = "here"          # runs have no location
    body["identity"] = {"type": "SystemAssigned"}
    assert sorted(unknown_names(definitions, "PipelineRun", body)) == [
        "identity", "location", "properties.response.finishedTime", "properties.response.progress.bytes",
        "properties.response.target.name"]


def test_allof_parents_and_additional_properties_are_followed(definitions):
    pipeline = {"id": "i", "name": "n", "type": "t", "location": "l",
                "systemData": {"createdBy": "me", "createdAtt": "x"},
                "identity": {"type": "userAssigned",
                             "userAssignedIdentities": {"/any/id": {"principalId": "p", "clientId": "c", "oops": 1}}},
                "properties": {"target": {"uri": "https://a/c"}}}
    assert sorted(unknown_names(definitions, "ExportPipeline", pipeline)) == [
        "identity.userAssignedIdentities./any/id.oops", "systemData.createdAtt"]


def test_list_results_check_every_item(definitions):
    listing = {"value": [_run({"status": "Running"}), _run({"statuss": "Running"})], "nextLink": "https://n"}
    assert unknown_names(definitions, "PipelineRunListResult", listing) == ["value[1].properties.response.statuss"]


def test_paths_map_to_their_definitions():
    registry = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
    assert definition_for_path(registry + "/exportPipelines/p1") == "ExportPipeline"
    assert definition_for_path(registry + "/importpipelines") == "ImportPipelineListResult"
    assert definition_for_path(registry + "/pipelineRuns/run_1") == "PipelineRun"
    assert definition_for_path(registry + "/pipelineRuns/r/operationStatuses/o") is None
    assert definition_for_path(registry) is None


def test_the_response_log_is_checked_line_by_line(definitions, tmp_path):
    log = tmp_path / "responses.jsonl"
    path = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/pipelineRuns/myrun1"
    entries = [{"method": "GET", "path": path, "status": 200, "body": _run({"finishTime": "t"})},
               {"method": "PUT", "path": path, "status": 201, "body": _run({"finishedTime": "t"})},
               {"method": "GET", "path": path, "status": 404, "body": {"error": {"code": "NotFound"}}}]
    log.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    assert unknown_names_in_response_log(definitions, str(log)) == [
        f"PUT {path}: properties.response.finishedTime"]
