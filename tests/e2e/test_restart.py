"""State survives a restart; a run cut by the restart ends Failed with a message that says so."""
import pytest

from .conftest import FAILED_RUN_PROVISIONING_STATE, unique
from .workflow import create_export_pipeline, export_blob, show_run

LARGE_IMAGE_MB = 400


@pytest.mark.run_lifecycle
def test_restart_keeps_state_and_fails_the_cut_run(sandbox, source):
    pipeline = unique("restart")
    principal = create_export_pipeline(source, pipeline)
    finished_blob = export_blob(source, pipeline, "hello-world:latest")
    finished_runs = {r["name"] for r in source.acr("pipeline-run", "list")}
    sandbox.cli("push-large-image", "--cloud", "source", "--image", "large:restart", "--size-mb", str(LARGE_IMAGE_MB))

    cut = unique("cut")
    source.acr("pipeline-run", "create", "--pipeline", pipeline, "--name", cut, "--pipeline-type", "export",
               "--storage-blob", unique("blob"), "--artifacts", "large:restart", "--no-wait")
    sandbox.down()
    sandbox.up()

    run = show_run(source, cut)
    assert run["response"]["status"] == "Failed", "the large export finished before the restart could cut it"
    assert run["provisioningState"] == FAILED_RUN_PROVISIONING_STATE
    assert "interrupted" in run["response"]["pipelineRunErrorMessage"]
    assert "--force-redeploy" in run["response"]["pipelineRunErrorMessage"]

    kept = source.acr("export-pipeline", "show", "--name", pipeline)
    assert kept["identity"]["principalId"] == principal
    assert finished_runs <= {r["name"] for r in source.acr("pipeline-run", "list")}
    assert source.blob_exists(finished_blob)
    # The Key Vault access policy persisted too: the pipeline still exports.
    assert export_blob(source, pipeline, "hello-world:v2")
