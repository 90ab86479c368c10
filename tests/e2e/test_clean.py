"""`az acr pipeline-run clean` through az: it deletes exactly the failed runs (in the spec's lifecycle a failed run
still reads provisioningState Succeeded) and keeps the succeeded ones; --dry-run only lists them."""
import json

import pytest

from .conftest import FAILED_RUN_PROVISIONING_STATE, SAMPLE_REPOSITORY, unique
from .workflow import create_export_pipeline, run_export

pytestmark = pytest.mark.run_lifecycle
LATEST = f"{SAMPLE_REPOSITORY}:latest"


def _clean(cloud, *args):
    return cloud.az_result("acr", "pipeline-run", "clean", "--resource-group", cloud.group, "--registry",
                           cloud.registry, *args, only_show_errors=False)


def _failed_names(cloud) -> set:
    return {run["name"] for run in cloud.acr("pipeline-run", "list", "--status", "Failed")}


def test_clean_deletes_exactly_the_failed_run_and_keeps_the_succeeded_one(source):
    working, denied = unique("cleanok"), unique("cleanno")
    create_export_pipeline(source, working)
    create_export_pipeline(source, denied, grant=False)      # its identity may not read the SAS secret: it fails
    succeeded_result, succeeded = run_export(source, working, unique("blob"), LATEST)
    failed_result, failed = run_export(source, denied, unique("blob"), LATEST)
    assert succeeded_result.returncode == 0, succeeded_result.stderr
    assert succeeded["response"]["status"] == "Succeeded"
    assert failed_result.returncode != 0
    assert (failed["provisioningState"], failed["response"]["status"]) == (FAILED_RUN_PROVISIONING_STATE, "Failed")

    failed_before = _failed_names(source)           # other tests of the session may have left failed runs too
    assert failed["name"] in failed_before and succeeded["name"] not in failed_before

    dry = _clean(source, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert {run["name"] for run in json.loads(dry.stdout)} == failed_before
    assert f"{len(failed_before)} failed pipeline-run(s) would be deleted." in dry.stderr
    assert failed["name"] in {run["name"] for run in source.acr("pipeline-run", "list")}   # nothing deleted yet

    cleaned = _clean(source)
    assert cleaned.returncode == 0, cleaned.stderr
    summary = json.loads(cleaned.stdout)
    assert set(summary["deletedRuns"]) == failed_before
    assert (summary["deleted"], summary["failed"]) == (len(failed_before), 0)
    remaining = {run["name"] for run in source.acr("pipeline-run", "list")}
    assert failed["name"] not in remaining and succeeded["name"] in remaining
    assert _failed_names(source) == set()
