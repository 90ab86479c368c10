"""The workflow's steps as az commands, shared by the end-to-end tests."""
import datetime
import os
import subprocess

from .conftest import AZ, Cloud, unique, wait_for


def create_export_pipeline(cloud: Cloud, name: str, *options: str, managed_identity: bool = False,
                           secret_uri: str = None, grant: bool = True) -> str:
    """Create an export pipeline and (by default) give its identity what it needs; returns its principal id."""
    access = (["--storage-access-mode", "ManagedIdentity"] if managed_identity
              else ["--secret-uri", secret_uri or cloud["ACRSANDBOX_SECRET_URI"]])
    option_args = ["--options", *options] if options else []
    pipeline = cloud.acr("export-pipeline", "create", "--name", name, "--storage-container-uri",
                         cloud["ACRSANDBOX_STORAGE_CONTAINER_URI"], *access, *option_args)
    principal = pipeline["identity"]["principalId"]
    if grant:
        if managed_identity:
            cloud.assign_storage_role(principal, "Storage Blob Data Contributor")
        else:
            cloud.grant_secret_get(principal)
    return principal


def create_import_pipeline(cloud: Cloud, name: str, *options: str, trigger: bool = False, grant: bool = True) -> str:
    """An import pipeline in ManagedIdentity mode; returns its principal id."""
    option_args = ["--options", *options] if options else []
    pipeline = cloud.acr("import-pipeline", "create", "--name", name, "--storage-access-mode", "ManagedIdentity",
                         "--storage-container-uri", cloud["ACRSANDBOX_STORAGE_CONTAINER_URI"],
                         "--source-trigger-enabled", str(trigger).lower(), *option_args)
    principal = pipeline["identity"]["principalId"]
    if grant:
        role = "Storage Blob Data Contributor" if "DeleteSourceBlobOnSuccess" in options else "Storage Blob Data Reader"
        cloud.assign_storage_role(principal, role)
    return principal


def run_export(cloud: Cloud, pipeline: str, blob: str, *artifacts: str) -> tuple:
    """(az exit code, the run as `pipeline-run show` reports it afterwards)."""
    name = unique("export")
    result = cloud.az_result("acr", "pipeline-run", "create", "--resource-group", cloud.group, "--registry",
                             cloud.registry, "--pipeline", pipeline, "--name", name, "--pipeline-type", "export",
                             "--storage-blob", blob, "--artifacts", *artifacts, "--force-redeploy")
    return result, show_run(cloud, name)


def run_import(cloud: Cloud, pipeline: str, blob: str) -> tuple:
    name = unique("import")
    result = cloud.az_result("acr", "pipeline-run", "create", "--resource-group", cloud.group, "--registry",
                             cloud.registry, "--pipeline", pipeline, "--name", name, "--pipeline-type", "import",
                             "--storage-blob", blob, "--force-redeploy")
    return result, show_run(cloud, name)


def show_run(cloud: Cloud, name: str) -> dict:
    return cloud.acr("pipeline-run", "show", "--name", name)


def copy_blob(source: Cloud, target: Cloud, blob: str) -> None:
    """The cross-domain hop: server-side copy with a read SAS on the source blob (metadata and MD5 travel)."""
    expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    url = source.az("storage", "blob", "generate-sas", "--connection-string",
                    source["ACRSANDBOX_STORAGE_CONNECTION_STRING"], "--container-name",
                    source["ACRSANDBOX_STORAGE_CONTAINER"], "--name", blob, "--permissions", "r", "--expiry", expiry,
                    "--https-only", "--full-uri")
    copied = target.az("storage", "blob", "copy", "start", "--connection-string",
                       target["ACRSANDBOX_STORAGE_CONNECTION_STRING"], "--destination-container",
                       target["ACRSANDBOX_STORAGE_CONTAINER"], "--destination-blob", blob, "--source-uri", url)
    assert copied["copy_status"] == "success"


def triggered_runs(cloud: Cloud, pipeline: str, blob: str) -> list:
    runs = cloud.acr("pipeline-run", "list")
    return [r for r in runs if "_" in r["name"] and r["request"]["pipelineResourceId"].endswith("/" + pipeline)
            and r["request"]["source"]["name"] == blob]


def wait_for_triggered_run(cloud: Cloud, pipeline: str, blob: str, timeout: float = 60) -> dict:
    def finished():
        runs = [r for r in triggered_runs(cloud, pipeline, blob) if r["response"]["status"] in ("Succeeded", "Failed")]
        return runs[0] if runs else None
    return wait_for(finished, timeout, what=f"a source-triggered run of {pipeline} for {blob}")


def export_blob(source: Cloud, pipeline: str, *artifacts: str) -> str:
    """Export `artifacts` into a fresh blob with an existing, authorized pipeline; returns the blob name."""
    blob = unique("blob")
    result, run = run_export(source, pipeline, blob, *artifacts)
    assert result.returncode == 0, result.stderr
    assert (run["provisioningState"], run["response"]["status"]) == ("Succeeded", "Succeeded")
    return blob


def create_batch(cloud: Cloud, *args: str, output: str = "json") -> subprocess.CompletedProcess:
    """`az acr pipeline-run create-batch -g -r ...` with warnings on, so its plan and progress on stderr show."""
    argv = ["acr", "pipeline-run", "create-batch", "--resource-group", cloud.group, "--registry", cloud.registry,
            *args, "--output", output]
    env = {**os.environ, **cloud.env, "AZURE_CORE_ONLY_SHOW_ERRORS": "false"}
    return subprocess.run([AZ, *argv], env=env, capture_output=True, text=True, timeout=900, check=False,
                          cwd=cloud.az_cwd)
