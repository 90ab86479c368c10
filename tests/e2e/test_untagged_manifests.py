"""An image exported by digest only arrives untagged, and az reaches it as in ACR: `az acr repository show --image
<repo>@sha256:...` and `az acr manifest list-metadata` through the sandbox's registry front."""
import subprocess

from .conftest import SAMPLE_REPOSITORY, unique
from .workflow import copy_blob, create_export_pipeline, create_import_pipeline, export_blob, run_import


def _copy_within(cloud, source_reference: str, target_reference: str) -> None:
    backend = cloud["ACRSANDBOX_REGISTRY_BACKEND"]
    subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{backend}/{source_reference}", f"docker://{backend}/{target_reference}"],
                   check=True, capture_output=True, timeout=120)


def test_an_image_imported_by_digest_only_is_reachable_untagged(source, target):
    repository = unique("untagged") + "/hello"
    _copy_within(source, f"{SAMPLE_REPOSITORY}:latest", f"{repository}:seed")
    digest = source.manifest_digest(f"{repository}:seed")
    exporter, importer = unique("export"), unique("import")
    create_export_pipeline(source, exporter)
    blob = export_blob(source, exporter, f"{repository}@{digest}")
    copy_blob(source, target, blob)
    create_import_pipeline(target, importer)
    try:
        result, run = run_import(target, importer, blob)
        assert result.returncode == 0 and run["response"]["status"] == "Succeeded", result.stderr
        assert target.has_manifest(f"{repository}@{digest}")

        shown = target.az("acr", "repository", "show", "--name", target.registry, "--image",
                          f"{repository}@{digest}")
        assert shown["digest"] == digest and shown["tags"] == []
        listed = target.az("acr", "manifest", "list-metadata", "--registry", target.registry, "--name", repository)
        assert [(item["digest"], item.get("tags") or []) for item in listed] == [(digest, [])]
        assert target.az("acr", "repository", "show-tags", "--name", target.registry, "--repository",
                         repository) == []
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)
