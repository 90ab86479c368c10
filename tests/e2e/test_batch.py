"""`az acr pipeline-run create-batch` end to end: 120 artifacts of several repositories (tags and digests) exported in
3 concurrent runs, carried, imported from the manifest with equal digests; the same commands again do nothing; a
batch that fails fails alone and a rerun after the fix runs only it; blobs the source trigger imported are not
imported twice; and the sandbox refuses a run of 51 artifacts as the service does."""
import json

import pytest

from .conftest import Cloud, unique, wait_for
from .workflow import copy_blob, create_batch, create_export_pipeline, create_import_pipeline


def push_small_images(sandbox, repository: str, count: int, tag_prefix: str = "v") -> dict:
    """reference -> digest of `count` new images in the source registry (the sandbox's command line)."""
    return json.loads(sandbox.cli("push-small-images", "--cloud", "source", "--repository", repository,
                                  "--count", str(count), "--tag-prefix", tag_prefix).stdout)


def runs_named(cloud: Cloud, prefix: str) -> dict:
    return {run["name"]: run for run in cloud.acr("pipeline-run", "list") if run["name"].startswith(prefix)}


@pytest.mark.run_lifecycle
def test_120_artifacts_in_3_concurrent_batches_carried_and_imported_from_the_manifest(
        sandbox, source, target, tmp_path):
    tagged = unique("batcha")
    listed = unique("batchb")
    pinned = "team/" + unique("batchc")
    digests = {**push_small_images(sandbox, tagged, 50), **push_small_images(sandbox, listed, 40),
               **push_small_images(sandbox, pinned, 30)}
    pinned_refs = sorted(ref for ref in digests if ref.startswith(pinned))
    by_digest = [f"{pinned}@{digests[ref]}" for ref in pinned_refs[:15]]
    by_tag = pinned_refs[15:]
    artifacts_file = tmp_path / "artifacts.txt"
    artifacts_file.write_text("# the second repository, by tag\n\n" + "\n".join(
        f"{ref}   # pushed for the test" if number % 7 == 0 else ref
        for number, ref in enumerate(sorted(ref for ref in digests if ref.startswith(listed)))) + "\n")
    requested = by_digest + by_tag + sorted(r for r in digests if r.startswith(listed)) + \
        sorted(r for r in digests if r.startswith(tagged))
    assert len(set(requested)) == 120

    export_pipeline = unique("bexp")
    create_export_pipeline(source, export_pipeline)
    prefix, manifest_path = unique("rel"), tmp_path / "manifest.json"
    export_args = ("--pipeline", export_pipeline, "--name-prefix", prefix, "--storage-blob-prefix", prefix,
                   "--artifacts", *by_digest, *by_tag, by_tag[0], "--artifacts-file", str(artifacts_file),
                   "--repository", tagged, "--tag-filter", r"^v\d+$", "--manifest-file", str(manifest_path))

    planned = create_batch(source, *export_args, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert [(item["name"], item["storageBlob"], len(item["artifacts"]), item["action"])
            for item in json.loads(planned.stdout)] == [(f"{prefix}001", f"{prefix}-001", 50, "create"),
                                                        (f"{prefix}002", f"{prefix}-002", 50, "create"),
                                                        (f"{prefix}003", f"{prefix}-003", 20, "create")]
    assert runs_named(source, prefix) == {} and not manifest_path.exists()

    exported = create_batch(source, *export_args)
    assert exported.returncode == 0, exported.stderr
    runs = json.loads(exported.stdout)
    assert [run["name"] for run in runs] == [f"{prefix}001", f"{prefix}002", f"{prefix}003"]
    assert [run["request"]["artifacts"] for run in runs] == [requested[:50], requested[50:100], requested[100:]]
    assert f"Export batch of 3 run(s) with pipeline '{export_pipeline}': 3 start." in exported.stderr
    assert f"{prefix}002: Succeeded, 50 artifact(s)." in exported.stderr
    # The three runs ran at the same time: each started before any of them finished.
    assert max(run["response"]["startTime"] for run in runs) < min(run["response"]["finishTime"] for run in runs)

    manifest = json.loads(manifest_path.read_text())
    assert manifest["pipeline"] == export_pipeline and manifest["pipelineType"] == "export"
    assert [(b["index"], b["runName"], b["blob"], b["status"]) for b in manifest["batches"]] == [
        (index, f"{prefix}00{index}", f"{prefix}-00{index}", "Succeeded") for index in (1, 2, 3)]
    for batch, run in zip(manifest["batches"], runs):
        assert batch["artifacts"] == run["request"]["artifacts"]
        assert sorted(batch["importedArtifacts"]) == sorted(batch["artifacts"])
        assert batch["catalogDigest"] == run["response"]["catalogDigest"]

    for batch in manifest["batches"]:
        copy_blob(source, target, batch["blob"])
    import_pipeline = unique("bimp")
    create_import_pipeline(target, import_pipeline, trigger=False)
    import_prefix = unique("relin")
    imported = create_batch(target, "--pipeline-type", "import", "--pipeline", import_pipeline, "--name-prefix",
                            import_prefix, "--manifest-file", str(manifest_path), "--max-concurrent-runs", "2")
    assert imported.returncode == 0, imported.stderr
    assert "Batch: " in imported.stderr and " waiting." in imported.stderr   # progress over the batch
    import_runs = json.loads(imported.stdout)
    assert [(run["name"], run["request"]["source"]["name"], run["response"]["status"]) for run in import_runs] == [
        (f"{import_prefix}00{index}", f"{prefix}-00{index}", "Succeeded") for index in (1, 2, 3)]
    assert [run["response"]["catalogDigest"] for run in import_runs] == [b["catalogDigest"]
                                                                         for b in manifest["batches"]]
    for reference in requested:
        if "@" in reference:
            assert target.has_manifest(reference), reference
            assert target.manifest_digest(reference) == reference.split("@")[1]
        else:
            assert target.manifest_digest(reference) == digests[reference], reference

    # The same commands again: every batch is skipped, no run is touched, the manifest is the same.
    before_source, before_target = runs_named(source, prefix), runs_named(target, import_prefix)
    again = create_batch(source, *export_args)
    assert again.returncode == 0, again.stderr
    assert "3 skip." in again.stderr and "Succeeded before with the same artifacts" in again.stderr
    again_import = create_batch(target, "-t", "import", "-p", import_pipeline, "--name-prefix", import_prefix,
                                "--manifest-file", str(manifest_path))
    assert again_import.returncode == 0, again_import.stderr
    assert "3 skip." in again_import.stderr
    assert runs_named(source, prefix) == before_source and runs_named(target, import_prefix) == before_target
    assert json.loads(manifest_path.read_text()) == manifest

    table = create_batch(source, *export_args, output="table")
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()[2:]]
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        (f"{prefix}001", f"{prefix}-001", "50", "Succeeded"), (f"{prefix}002", f"{prefix}-002", "50", "Succeeded"),
        (f"{prefix}003", f"{prefix}-003", "20", "Succeeded")]


@pytest.mark.run_lifecycle
def test_a_failed_batch_fails_alone_and_a_rerun_after_the_fix_runs_only_it(sandbox, source, tmp_path):
    repository = unique("batchfail")
    push_small_images(sandbox, repository, 60)
    late = f"{repository}:late1"   # does not exist yet: its batch fails (no ContinueOnErrors)
    artifacts = [f"{repository}:v{number}" for number in range(1, 61)] + [late]
    pipeline = unique("bfail")
    create_export_pipeline(source, pipeline)
    prefix, manifest_path = unique("fix"), tmp_path / "manifest.json"
    args = ("-p", pipeline, "--name-prefix", prefix, "--storage-blob-prefix", prefix, "--artifacts", *artifacts,
            "--manifest-file", str(manifest_path))

    failed = create_batch(source, *args)
    assert failed.returncode != 0
    assert f"1 of 2 batch(es) failed:\n  {prefix}002 (blob '{prefix}-002'): Pipeline run '{prefix}002' failed:" \
        in failed.stderr
    assert late in failed.stderr
    first = runs_named(source, prefix)
    assert first[f"{prefix}001"]["response"]["status"] == "Succeeded"
    assert first[f"{prefix}002"]["response"]["status"] == "Failed"
    assert [b["status"] for b in json.loads(manifest_path.read_text())["batches"]] == ["Succeeded", "Failed"]
    assert "errorMessage" in json.loads(manifest_path.read_text())["batches"][1]

    push_small_images(sandbox, repository, 1, tag_prefix="late")
    fixed = create_batch(source, *args)
    assert fixed.returncode == 0, fixed.stderr
    assert f"{prefix}001 (blob '{prefix}-001', 50 artifact(s)): skip" in fixed.stderr
    assert f"{prefix}002 (blob '{prefix}-002', 11 artifact(s)): run again, Failed before" in fixed.stderr
    second = runs_named(source, prefix)
    assert second[f"{prefix}001"] == first[f"{prefix}001"]
    rerun = second[f"{prefix}002"]
    assert rerun["response"]["status"] == "Succeeded" and rerun["forceUpdateTag"]
    assert rerun["response"]["startTime"] > first[f"{prefix}002"]["response"]["startTime"]
    assert late in rerun["response"]["importedArtifacts"]
    assert [b["status"] for b in json.loads(manifest_path.read_text())["batches"]] == ["Succeeded", "Succeeded"]


@pytest.mark.run_lifecycle
def test_blobs_the_source_trigger_imported_are_reported_and_not_imported_twice(sandbox, source, target, tmp_path):
    repository = unique("batchtrig")
    push_small_images(sandbox, repository, 55)
    pipeline = unique("btrig")
    create_export_pipeline(source, pipeline)
    prefix, manifest_path = unique("trig"), tmp_path / "manifest.json"
    exported = create_batch(source, "-p", pipeline, "--name-prefix", prefix, "--storage-blob-prefix", prefix,
                            "--repository", repository, "--manifest-file", str(manifest_path))
    assert exported.returncode == 0, exported.stderr
    blobs = [batch["blob"] for batch in json.loads(manifest_path.read_text())["batches"]]
    assert len(blobs) == 2

    import_pipeline = unique("btrigimp")
    create_import_pipeline(target, import_pipeline, trigger=True)
    try:
        for blob in blobs:
            copy_blob(source, target, blob)

        def triggered_all():
            runs = [run for run in target.acr("pipeline-run", "list") if "_" in run["name"]
                    and run["request"]["pipelineResourceId"].endswith("/" + import_pipeline)
                    and run["request"]["source"]["name"] in blobs and run["response"]["status"] == "Succeeded"]
            return runs if len(runs) == len(blobs) else None
        triggered = wait_for(triggered_all, 90, what="source-triggered imports of both blobs")

        import_prefix = unique("trigin")
        result = create_batch(target, "-t", "import", "-p", import_pipeline, "--name-prefix", import_prefix,
                              "--manifest-file", str(manifest_path))
        assert result.returncode == 0, result.stderr
        for run in triggered:
            assert f"already imported by source-trigger run {run['name']}" in result.stderr
        assert sorted(run["name"] for run in json.loads(result.stdout)) == sorted(run["name"] for run in triggered)
        assert runs_named(target, import_prefix) == {}
    finally:
        target.acr("import-pipeline", "delete", "--name", import_pipeline)


def test_the_sandbox_refuses_a_run_of_51_artifacts_as_the_service_does(source):
    pipeline = unique("blimit")
    create_export_pipeline(source, pipeline)
    pipeline_id = source.acr("export-pipeline", "show", "--name", pipeline)["id"]
    run_id = pipeline_id.replace(f"exportPipelines/{pipeline}", "pipelineRuns/" + unique("limit"))
    body = {"properties": {"request": {"pipelineResourceId": pipeline_id,
                                       "target": {"type": "AzureStorageBlob", "name": unique("blob")},
                                       "artifacts": [f"hello-world:t{number}" for number in range(51)]}}}
    refused = source.az_result("rest", "--method", "put", "--url",
                               f"{source['ACRSANDBOX_ARM_ENDPOINT'].rstrip('/')}{run_id}?api-version="
                               "2025-06-01-preview", "--body", json.dumps(body))
    assert refused.returncode != 0
    assert "between 1 and 50 artifacts; got 51" in refused.stderr


def test_the_tags_of_a_repository_are_listed_across_pages_of_the_registry(sandbox, source):
    repository = unique("batchpages")
    pushed = push_small_images(sandbox, repository, 130)    # the client asks for 100 tags a page
    pipeline = unique("bpages")
    create_export_pipeline(source, pipeline, grant=False)
    planned = create_batch(source, "-p", pipeline, "--name-prefix", unique("pg"), "--storage-blob-prefix", "pages",
                           "--repository", repository, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    listed = [artifact for batch in json.loads(planned.stdout) for artifact in batch["artifacts"]]
    assert listed == sorted(pushed) and len(listed) == 130
    filtered = create_batch(source, "-p", pipeline, "--name-prefix", unique("pg"), "--storage-blob-prefix", "pages",
                            "--repository", repository, "--tag-filter", r"^v12\d$", "--dry-run")
    assert [batch["artifacts"] for batch in json.loads(filtered.stdout)] == [
        [f"{repository}:v{number}" for number in range(120, 130)]]
    missing = create_batch(source, "-p", pipeline, "--name-prefix", unique("pg"), "--storage-blob-prefix", "pages",
                           "--repository", unique("nosuchrepo"))
    assert missing.returncode != 0 and "was not found in registry" in missing.stderr
