"""Following runs through az: live progress while create waits, `pipeline-run wait` by name and by blob (the run
a source trigger starts), its timeout and a failed run's outcome, re-running a name, list filters, not-found."""
import json
import re

import pytest

from .conftest import SAMPLE_REPOSITORY, unique
from .workflow import copy_blob, create_export_pipeline, create_import_pipeline, export_blob, show_run

LATEST = f"{SAMPLE_REPOSITORY}:latest"
LARGE_IMAGE = "large:progress"
LARGE_IMAGE_MB = 400  # long enough to still run when a second az has started
pytestmark = pytest.mark.run_lifecycle


@pytest.fixture(scope="module")
def exporter(source):
    name = unique("follow")
    create_export_pipeline(source, name)
    return name


@pytest.fixture(scope="module")
def large_image(sandbox):
    sandbox.cli("push-large-image", "--cloud", "source", "--image", LARGE_IMAGE, "--size-mb", str(LARGE_IMAGE_MB))
    return LARGE_IMAGE


def _create(cloud, pipeline, name, *extra, only_show_errors=True, artifacts=(LATEST,), blob=None):
    return cloud.az_result("acr", "pipeline-run", "create", "--resource-group", cloud.group, "--registry",
                           cloud.registry, "--pipeline", pipeline, "--name", name, "--pipeline-type", "export",
                           "--storage-blob", blob or unique("blob"), "--artifacts", *artifacts, *extra,
                           only_show_errors=only_show_errors)


def _wait(cloud, *args, only_show_errors=True):
    return cloud.az_result("acr", "pipeline-run", "wait", "--resource-group", cloud.group, "--registry",
                           cloud.registry, *args, only_show_errors=only_show_errors)


def test_create_shows_progress_on_stderr_and_only_the_run_on_stdout(source, exporter, large_image):
    result = _create(source, exporter, unique("progress"), "--force-redeploy", artifacts=(large_image,),
                     only_show_errors=False)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "% done." in line]
    assert lines, result.stderr
    assert json.loads(result.stdout)["response"]["status"] == "Succeeded"
    assert "% done" not in result.stdout

    quiet = _create(source, exporter, unique("quiet"), "--force-redeploy")
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr


def test_wait_by_name_follows_a_run_started_with_no_wait(source, exporter):
    name = unique("nowait")
    started = _create(source, exporter, name, "--no-wait")
    assert started.returncode == 0 and started.stdout.strip() == "", started.stderr
    waited = _wait(source, "--name", name)
    assert waited.returncode == 0, waited.stderr
    run = json.loads(waited.stdout)
    assert run["name"] == name and run["response"]["status"] == "Succeeded"
    assert run["response"]["finishTime"]


def test_wait_for_a_failed_run_exits_non_zero_with_the_message_and_hint(source):
    pipeline = unique("nokv")
    create_export_pipeline(source, pipeline, grant=False)
    name = unique("fails")
    assert _create(source, pipeline, name, "--no-wait").returncode == 0
    waited = _wait(source, "-n", name)
    assert waited.returncode != 0 and waited.stdout.strip() == ""
    assert f"Pipeline run '{name}' failed:" in waited.stderr
    assert "Hint: the pipeline's identity could not read the SAS token secret" in waited.stderr


def test_wait_times_out_while_the_run_goes_on(source, exporter, large_image):
    name = unique("slow")
    assert _create(source, exporter, name, "--no-wait", artifacts=(large_image,)).returncode == 0
    table = source.az_result("acr", "pipeline-run", "list", "--resource-group", source.group, "--registry",
                             source.registry, "--top", "1", output="table").stdout.splitlines()
    assert table[2].startswith(name) and re.search(r"\bRunning \d+%", table[2]), table
    waited = _wait(source, "-n", name, "--timeout", "1")
    assert waited.returncode != 0
    assert f"Timed out waiting for pipeline run '{name}': it is still Running" in waited.stderr
    assert _wait(source, "-n", name).returncode == 0


def test_wait_by_blob_follows_the_run_the_source_trigger_starts(source, target, exporter):
    blob = export_blob(source, exporter, LATEST)
    importer = unique("trig")
    create_import_pipeline(target, importer, "OverwriteTags", trigger=True)
    try:
        copy_blob(source, target, blob)
        waited = _wait(target, "--pipeline", importer, "--storage-blob", blob, only_show_errors=False)
        assert waited.returncode == 0, waited.stderr
        run = json.loads(waited.stdout)
        assert run["request"]["source"]["name"] == blob and run["response"]["status"] == "Succeeded"
        assert run["response"]["trigger"]["sourceTrigger"]["timestamp"]
        assert "Waiting for the source trigger" in waited.stderr
        table = target.az_result("acr", "pipeline-run", "list", "--resource-group", target.group, "--registry",
                                 target.registry, "--pipeline", importer, output="table").stdout.splitlines()
        header, row = table[0].split(), table[2].split()
        assert row[header.index("SOURCE_TRIGGER")] == "True" and row[header.index("DURATION")], table
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)


def test_wait_by_blob_times_out_when_no_run_appears(target):
    importer = unique("never")
    create_import_pipeline(target, importer, trigger=False)
    try:
        waited = _wait(target, "--pipeline", importer, "--storage-blob", unique("absent"), "--timeout", "2")
        assert waited.returncode != 0
        assert f"No run of import pipeline '{importer}'" in waited.stderr and "within 2 seconds" in waited.stderr
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)


def test_rerunning_a_name_starts_nothing_and_keeps_the_old_outcome(source, exporter):
    name, blob = unique("again"), unique("blob")
    assert _create(source, exporter, name, blob=blob).returncode == 0
    first = show_run(source, name)
    again = _create(source, exporter, name, blob=blob, only_show_errors=False)
    assert again.returncode == 0, again.stderr
    assert (f"Nothing was started: a run '{name}' with these parameters exists; add --force-redeploy to run it "
            "again.") in again.stderr
    assert show_run(source, name)["response"]["startTime"] == first["response"]["startTime"]

    unauthorized = unique("nokv")
    create_export_pipeline(source, unauthorized, grant=False)
    failed = unique("failed")
    assert _create(source, unauthorized, failed, blob=blob).returncode != 0
    repeated = _create(source, unauthorized, failed, blob=blob, only_show_errors=False)
    assert repeated.returncode != 0 and "Nothing was started" in repeated.stderr
    assert f"Pipeline run '{failed}' failed:" in repeated.stderr


def test_list_filters_and_not_found_names(source, exporter):
    name = unique("listed")
    assert _create(source, exporter, name).returncode == 0
    mine = source.acr("pipeline-run", "list", "--pipeline", exporter, "--status", "Succeeded")
    assert name in [run["name"] for run in mine]
    assert all(run["request"]["pipelineResourceId"].endswith("/" + exporter) for run in mine)
    assert all(run["response"]["status"] == "Succeeded" for run in mine)
    starts = [run["response"]["startTime"] for run in source.acr("pipeline-run", "list")]
    assert starts == sorted(starts, reverse=True)

    missing = source.az_result("acr", "pipeline-run", "show", "--resource-group", source.group, "--registry",
                               source.registry, "--name", "nosuchrun1")
    assert missing.returncode != 0 and "Existing pipeline runs (newest first): " + name in missing.stderr
    missing_pipeline = source.az_result("acr", "export-pipeline", "show", "--resource-group", source.group,
                                        "--registry", source.registry, "--name", exporter[:-1])
    # The suite's sandbox holds dozens of pipelines: the one a misspelling most likely meant is named first.
    assert "Existing export pipelines (most like it first): " + exporter in missing_pipeline.stderr
