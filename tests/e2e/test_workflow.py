"""The seed workflow end to end: export (SasToken) -> cross-domain copy -> source-triggered and manual import
(ManagedIdentity), verified with az acr repository show-tags and by manifest digests source vs target."""
import pytest

from .conftest import SAMPLE_REPOSITORY, unique
from .workflow import (copy_blob, create_export_pipeline, create_import_pipeline, run_export, run_import,
                       wait_for_triggered_run)


@pytest.mark.run_lifecycle
def test_full_workflow(source, target, sample_digests):
    export_pipeline = unique("export")
    principal = source.acr("export-pipeline", "create", "--name", export_pipeline, "--secret-uri",
                           source["ACRSANDBOX_SECRET_URI"], "--storage-container-uri",
                           source["ACRSANDBOX_STORAGE_CONTAINER_URI"])["identity"]["principalId"]
    shown = source.acr("export-pipeline", "show", "--name", export_pipeline)
    assert shown["identity"]["principalId"] == principal
    assert shown["identity"]["type"] == "systemAssigned"
    assert shown["target"]["storageAccessMode"] == "SasToken"
    source.grant_secret_get(principal)

    blob = unique("blob")
    v2 = f"{SAMPLE_REPOSITORY}@{sample_digests['v2']}"
    result, run = run_export(source, export_pipeline, blob, f"{SAMPLE_REPOSITORY}:latest",
                             f"{SAMPLE_REPOSITORY}:multiarch", v2)
    assert result.returncode == 0, result.stderr
    assert run["provisioningState"] == "Succeeded"
    assert run["response"]["status"] == "Succeeded"
    assert run["response"]["progress"]["percentage"] == "100"
    assert run["response"]["catalogDigest"].startswith("sha256:")
    assert run["response"]["startTime"] <= run["response"]["finishTime"]
    assert sorted(run["response"]["importedArtifacts"]) == sorted(
        [f"{SAMPLE_REPOSITORY}:latest", f"{SAMPLE_REPOSITORY}:multiarch", v2])
    exported = source.blob(blob)
    assert exported["metadata"] == {"category": "acr-transfer-blob"}
    assert exported["properties"]["contentSettings"]["contentMd5"]

    copy_blob(source, target, blob)
    copied = target.blob(blob)
    assert copied["metadata"] == exported["metadata"]
    assert (copied["properties"]["contentSettings"]["contentMd5"]
            == exported["properties"]["contentSettings"]["contentMd5"])

    import_pipeline = unique("import")
    create_import_pipeline(target, import_pipeline, trigger=True)
    try:
        triggered = wait_for_triggered_run(target, import_pipeline, blob)
        assert triggered["response"]["status"] == "Succeeded", triggered["response"].get("pipelineRunErrorMessage")
        assert "_" in triggered["name"]
        assert triggered["response"]["catalogDigest"] == run["response"]["catalogDigest"]

        result, manual = run_import(target, import_pipeline, blob)
        assert result.returncode == 0, result.stderr
        assert manual["response"]["status"] == "Succeeded"
        assert manual["forceUpdateTag"]
    finally:
        target.acr("import-pipeline", "delete", "--name", import_pipeline)

    tags = target.az("acr", "repository", "show-tags", "--name", target.registry, "--repository", SAMPLE_REPOSITORY)
    assert {"latest", "multiarch"} <= set(tags)
    for reference in ("latest", "multiarch"):
        assert target.manifest_digest(f"{SAMPLE_REPOSITORY}:{reference}") == sample_digests[reference]
        shown = target.az("acr", "repository", "show", "--name", target.registry, "--image",
                          f"{SAMPLE_REPOSITORY}:{reference}")
        assert shown["digest"] == sample_digests[reference]
    assert target.manifest_digest(v2) == sample_digests["v2"]


def test_pipeline_crud_and_not_found(source):
    name = unique("crud")
    create_export_pipeline(source, name, "OverwriteBlobs", grant=False)
    listed = source.acr("export-pipeline", "list")
    assert name in [p["name"] for p in listed]
    source.acr("export-pipeline", "delete", "--name", name)
    missing = source.az_result("acr", "export-pipeline", "show", "--resource-group", source.group, "--registry",
                               source.registry, "--name", name)
    assert missing.returncode != 0
    assert "ResourceNotFound" in missing.stderr or "not found" in missing.stderr.lower()
