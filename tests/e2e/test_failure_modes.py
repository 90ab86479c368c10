"""Each way the workflow fails in real life, reproduced against the sandbox: the run's status and message, and
what the registries hold afterwards."""
import base64
import datetime
import hashlib
import subprocess

import pytest

from .conftest import FAILED_RUN_PROVISIONING_STATE, SAMPLE_REPOSITORY, unique
from .workflow import (copy_blob, create_export_pipeline, create_import_pipeline, export_blob, run_export,
                       run_import, triggered_runs, wait_for_triggered_run)

LATEST = f"{SAMPLE_REPOSITORY}:latest"
pytestmark = pytest.mark.run_lifecycle


def _container_sas(cloud, permissions: str, expiry: datetime.datetime) -> str:
    return cloud.az("storage", "container", "generate-sas", "--connection-string",
                    cloud["ACRSANDBOX_STORAGE_CONNECTION_STRING"], "--name", cloud["ACRSANDBOX_STORAGE_CONTAINER"],
                    "--permissions", permissions, "--expiry", expiry.strftime("%Y-%m-%dT%H:%MZ"), "--https-only")


def _assert_failed(result, run, *fragments):
    assert result.returncode != 0, "az should exit non-zero when the run fails"
    assert run["provisioningState"] == FAILED_RUN_PROVISIONING_STATE
    assert run["response"]["status"] == "Failed"
    message = run["response"]["pipelineRunErrorMessage"]
    for fragment in fragments:
        assert fragment in message, message
    assert message[:60] in result.stderr, "az should show the run's error message"


def test_no_key_vault_access_fails_with_key_vault_403(source):
    pipeline = unique("nokv")
    create_export_pipeline(source, pipeline, grant=False)
    blob = unique("blob")
    result, run = run_export(source, pipeline, blob, LATEST)
    _assert_failed(result, run, "403", "does not have secrets get permission on key vault")
    assert not source.blob_exists(blob)


def test_expired_sas_fails_with_storage_403(source):
    expired = _container_sas(source, "racwdl", datetime.datetime.now(datetime.timezone.utc)
                             - datetime.timedelta(days=1))
    secret_uri = source.put_secret(unique("expired"), expired)
    pipeline = unique("expired")
    create_export_pipeline(source, pipeline, secret_uri=secret_uri)
    blob = unique("blob")
    result, run = run_export(source, pipeline, blob, LATEST)
    _assert_failed(result, run, "403")
    assert expired not in run["response"]["pipelineRunErrorMessage"]
    assert not source.blob_exists(blob)


def test_read_only_sas_cannot_export(source):
    read_only = _container_sas(source, "rl", datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1))
    pipeline = unique("readonly")
    create_export_pipeline(source, pipeline, secret_uri=source.put_secret(unique("readonly"), read_only))
    blob = unique("blob")
    result, run = run_export(source, pipeline, blob, LATEST)
    _assert_failed(result, run, "403")
    assert not source.blob_exists(blob)


def test_managed_identity_without_role_assignment_fails_then_works_with_it(source):
    pipeline = unique("norole")
    principal = create_export_pipeline(source, pipeline, managed_identity=True, grant=False)
    result, run = run_export(source, pipeline, unique("blob"), LATEST)
    _assert_failed(result, run, "403", "AuthorizationPermissionMismatch", principal)

    source.assign_storage_role(principal, "Storage Blob Data Contributor")
    result, run = run_export(source, pipeline, unique("blob"), LATEST)
    assert result.returncode == 0, result.stderr
    assert run["response"]["importedArtifacts"] == [LATEST]


def test_reader_role_does_not_allow_export(source):
    pipeline = unique("reader")
    principal = create_export_pipeline(source, pipeline, managed_identity=True, grant=False)
    source.assign_storage_role(principal, "Storage Blob Data Reader")
    result, run = run_export(source, pipeline, unique("blob"), LATEST)
    _assert_failed(result, run, "403", "Storage Blob Data Contributor")


def test_blob_exists_without_overwrite_blobs(source):
    plain, overwriting = unique("noover"), unique("over")
    create_export_pipeline(source, plain)
    create_export_pipeline(source, overwriting, "OverwriteBlobs")
    blob = export_blob(source, plain, LATEST)
    first_md5 = source.blob(blob)["properties"]["contentSettings"]["contentMd5"]

    result, run = run_export(source, plain, blob, f"{SAMPLE_REPOSITORY}:v2")
    _assert_failed(result, run, blob, "OverwriteBlobs")
    assert source.blob(blob)["properties"]["contentSettings"]["contentMd5"] == first_md5

    result, run = run_export(source, overwriting, blob, f"{SAMPLE_REPOSITORY}:v2")
    assert result.returncode == 0, result.stderr
    assert source.blob(blob)["properties"]["contentSettings"]["contentMd5"] != first_md5


def test_continue_on_errors_skips_a_missing_artifact(source):
    strict, lenient = unique("strict"), unique("lenient")
    create_export_pipeline(source, strict)
    create_export_pipeline(source, lenient, "ContinueOnErrors")
    missing = f"{SAMPLE_REPOSITORY}:doesnotexist"

    blob = unique("blob")
    result, run = run_export(source, strict, blob, LATEST, missing)
    _assert_failed(result, run, missing)
    assert not source.blob_exists(blob)

    result, run = run_export(source, lenient, blob, LATEST, missing)
    assert result.returncode == 0, result.stderr
    assert run["response"]["status"] == "Succeeded"
    assert run["response"]["importedArtifacts"] == [LATEST]
    assert missing in run["response"]["pipelineRunErrorMessage"]


def _push_conflicting_tag(source, target, repository: str, sample_digests) -> None:
    """`<repository>:1.0` is hello-world:latest in the source and hello-world:v2 in the target."""
    for cloud, tag in ((source, "latest"), (target, "v2")):
        src = f"docker://{source['ACRSANDBOX_REGISTRY_BACKEND']}/{SAMPLE_REPOSITORY}:{tag}"
        dest = f"docker://{cloud['ACRSANDBOX_REGISTRY_BACKEND']}/{repository}:1.0"
        subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                        "--dest-tls-verify=false", src, dest], check=True, capture_output=True, timeout=120)
    assert target.manifest_digest(f"{repository}:1.0") == sample_digests["v2"]


def test_tag_exists_without_overwrite_tags(source, target, sample_digests):
    repository = f"conflict/{unique('app')}"
    _push_conflicting_tag(source, target, repository, sample_digests)
    exporter = unique("export")
    create_export_pipeline(source, exporter)
    blob = export_blob(source, exporter, f"{repository}:1.0")
    copy_blob(source, target, blob)

    keep, overwrite = unique("keep"), unique("overwrite")
    create_import_pipeline(target, keep)
    create_import_pipeline(target, overwrite, "OverwriteTags")
    result, run = run_import(target, keep, blob)
    _assert_failed(result, run, f"{repository}:1.0", "OverwriteTags")
    assert target.manifest_digest(f"{repository}:1.0") == sample_digests["v2"]

    result, run = run_import(target, overwrite, blob)
    assert result.returncode == 0, result.stderr
    assert target.manifest_digest(f"{repository}:1.0") == sample_digests["latest"]


def test_delete_source_blob_on_success(source, target, sample_digests):
    exporter = unique("export")
    create_export_pipeline(source, exporter)
    blob = export_blob(source, exporter, f"{SAMPLE_REPOSITORY}:v2")
    copy_blob(source, target, blob)
    importer = unique("delete")
    create_import_pipeline(target, importer, "DeleteSourceBlobOnSuccess", "OverwriteTags")
    result, run = run_import(target, importer, blob)
    assert result.returncode == 0, result.stderr
    assert run["response"]["status"] == "Succeeded"
    assert not target.blob_exists(blob)
    assert target.manifest_digest(f"{SAMPLE_REPOSITORY}:v2") == sample_digests["v2"]


def test_blob_older_than_60_days_is_not_triggered(sandbox, source, target):
    """Azurite stamps Last-Modified itself, so the blob is made 'old' by moving the trigger's clock 61 days ahead
    (`python -m acrtransfer_sandbox clock --advance-days 61`); back at real time the same blob does trigger."""
    exporter = unique("export")
    create_export_pipeline(source, exporter)
    blob = export_blob(source, exporter, LATEST)
    importer = unique("old")
    sandbox.cli("clock", "--advance-days", "61")
    try:
        copy_blob(source, target, blob)
        create_import_pipeline(target, importer, trigger=True)
        # A whole trigger poll passes with the blob in the container and the role in place.
        sandbox.wait_for_full_trigger_scans()
        assert triggered_runs(target, importer, blob) == []
    finally:
        sandbox.cli("clock", "--advance-days", "0")
    try:
        run = wait_for_triggered_run(target, importer, blob)
        assert run["response"]["status"] == "Succeeded"
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)


def test_blob_without_transfer_metadata_is_not_triggered(sandbox, target):
    importer = unique("nometa")
    blob, data = unique("plain"), "not a transfer blob"
    target.az("storage", "blob", "upload", "--connection-string", target["ACRSANDBOX_STORAGE_CONNECTION_STRING"],
              "--container-name", target["ACRSANDBOX_STORAGE_CONTAINER"], "--name", blob, "--data", data,
              "--content-md5", base64.b64encode(hashlib.md5(data.encode()).digest()).decode())
    create_import_pipeline(target, importer, trigger=True)
    try:
        sandbox.wait_for_full_trigger_scans()
        assert triggered_runs(target, importer, blob) == []
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)


def test_trigger_starts_one_run_per_blob(sandbox, source, target):
    exporter = unique("export")
    create_export_pipeline(source, exporter)
    blob = export_blob(source, exporter, LATEST)
    importer = unique("once")
    copy_blob(source, target, blob)
    create_import_pipeline(target, importer, "OverwriteTags", trigger=True)
    try:
        wait_for_triggered_run(target, importer, blob)
        sandbox.wait_for_full_trigger_scans()   # the trigger has seen the blob again since its run started
        assert len(triggered_runs(target, importer, blob)) == 1
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)


def test_key_vault_with_rbac_needs_the_secrets_user_role(source):
    """With `--enable-rbac-authorization` the access policy no longer counts: the identity needs a Key Vault role
    (what the extension's guidance prints first)."""
    vault = source["ACRSANDBOX_KEYVAULT"]
    pipeline = unique("rbac")
    principal = create_export_pipeline(source, pipeline)   # has the access policy, which RBAC mode ignores
    source.az("keyvault", "update", "--name", vault, "--enable-rbac-authorization", "true")
    try:
        result, run = run_export(source, pipeline, unique("blob"), LATEST)
        _assert_failed(result, run, "403", "ForbiddenByRbac", principal)
        source.az("role", "assignment", "create", "--assignee-object-id", principal, "--assignee-principal-type",
                  "ServicePrincipal", "--role", "Key Vault Secrets User", "--scope", source["ACRSANDBOX_KEYVAULT_ID"])
        result, run = run_export(source, pipeline, unique("blob"), LATEST)
        assert result.returncode == 0, result.stderr
        assert run["response"]["status"] == "Succeeded"
    finally:
        source.az("keyvault", "update", "--name", vault, "--enable-rbac-authorization", "false")
