"""Issue 17 end to end, through the real az: an image with a signature (by the OCI 1.1 referrers API) and an SBOM (by
cosign's tag scheme) exported with `--include-referrers`, carried, imported; `pipeline-run verify` passes and the
target finds both from the image; verify fails naming the artifact when a target tag moves or an artifact is missing;
and an incremental export (`--since-manifest`) after one tag changes exports exactly that one, with its referrer."""
import json
import subprocess

import pytest
import requests

from .conftest import E2E_PORT_BASE, SAMPLE_REPOSITORY, Sandbox, _wheel, unique
from .workflow import copy_blob, create_batch, create_export_pipeline, create_import_pipeline

SIGNATURE = "application/vnd.cncf.notary.signature"
SBOM = "application/spdx+json"


def _copy_within(cloud, source_reference: str, target_reference: str) -> None:
    backend = cloud["ACRSANDBOX_REGISTRY_BACKEND"]
    subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{backend}/{source_reference}", f"docker://{backend}/{target_reference}"],
                   check=True, capture_output=True, timeout=120)


def _delete_manifest(cloud, reference: str) -> None:
    subprocess.run(["skopeo", "delete", "--tls-verify=false",
                    f"docker://{cloud['ACRSANDBOX_REGISTRY_BACKEND']}/{reference}"],
                   check=True, capture_output=True, timeout=60)


def _push_referrer(sandbox, subject: str, artifact_type: str, scheme: str) -> str:
    """The sandbox's command line; the referrer as repo@sha256:... (its last line)."""
    output = sandbox.cli("push-referrer", "--cloud", "source", "--subject", subject, "--artifact-type",
                         artifact_type, "--scheme", scheme).stdout
    return output.strip().splitlines()[-1]


def _referrers_api(cloud, repository: str, digest: str) -> list:
    """The descriptors GET /v2/<repo>/referrers/<digest> lists (see _referrers_response)."""
    response = _referrers_response(cloud, repository, digest)
    assert response.status_code == 200, response.text
    return response.json()["manifests"]


def _referrers_response(cloud, repository: str, digest: str) -> requests.Response:
    """GET /v2/<repo>/referrers/<digest> on the registry's login server, with the token `az acr login
    --expose-token` gives (exchanged for a pull token as docker would)."""
    login = cloud.az("acr", "login", "--name", cloud.registry, "--expose-token")
    server, verify = login["loginServer"], cloud["REQUESTS_CA_BUNDLE"]
    token = requests.post(f"https://{server}/oauth2/token", verify=verify, timeout=30, data={
        "grant_type": "refresh_token", "service": server, "scope": f"repository:{repository}:pull",
        "refresh_token": login["accessToken"]}).json()["access_token"]
    return requests.get(f"https://{server}/v2/{repository}/referrers/{digest}", verify=verify, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _verify(cloud, manifest_path) -> tuple:
    """(exit code, {artifact: result}) of `az acr pipeline-run verify --manifest-file`."""
    result = cloud.az_result("acr", "pipeline-run", "verify", "--resource-group", cloud.group, "--registry",
                             cloud.registry, "--manifest-file", str(manifest_path))
    return result.returncode, {item["artifact"]: item for item in json.loads(result.stdout or "[]")}


def _export(source, pipeline, manifest_path, *args) -> dict:
    prefix = unique("ref")
    exported = create_batch(source, "--pipeline", pipeline, "--name-prefix", prefix, "--storage-blob-prefix", prefix,
                            "--include-referrers", "--manifest-file", str(manifest_path), *args)
    assert exported.returncode == 0, exported.stderr
    return json.loads(manifest_path.read_text())


def _carry_and_import(source, target, pipeline, manifest_path) -> None:
    for batch in json.loads(manifest_path.read_text())["batches"]:
        copy_blob(source, target, batch["blob"])
    imported = create_batch(target, "--pipeline-type", "import", "--pipeline", pipeline, "--name-prefix",
                            unique("refin"), "--manifest-file", str(manifest_path))
    assert imported.returncode == 0, imported.stderr


@pytest.fixture(scope="module", name="sandbox_without_api")
def fixture_sandbox_without_api(tmp_path_factory):
    """A second sandbox whose registries have no referrers API (ACRSANDBOX_REFERRERS_API=off), on the ports
    E2E base+50..+70, so that the extension's fallback to the referrers tag schema runs end to end."""
    instance = Sandbox(tmp_path_factory.mktemp("sandbox-without-api"), _wheel())
    instance.env.update({"ACRSANDBOX_PORT_BASE": str(E2E_PORT_BASE + 50), "ACRSANDBOX_REFERRERS_API": "off"})
    try:
        instance.up()
        yield instance
    finally:
        instance.down()


def test_signature_and_sbom_travel_verify_and_incremental_export(sandbox, source, target, tmp_path):
    repository = unique("signed") + "/app"
    v1, v2 = f"{repository}:v1", f"{repository}:v2"
    _copy_within(source, f"{SAMPLE_REPOSITORY}:latest", v1)
    _copy_within(source, f"{SAMPLE_REPOSITORY}:v2", v2)
    v1_digest, v2_digest = source.manifest_digest(v1), source.manifest_digest(v2)
    signature = _push_referrer(sandbox, v1, SIGNATURE, "api")
    sbom = _push_referrer(sandbox, v1, SBOM, "cosign")
    sbom_tag = f"{repository}:{v1_digest.replace(':', '-')}.sbom"
    assert signature.startswith(f"{repository}@sha256:") and sbom.startswith(f"{repository}@sha256:")
    assert source.manifest_digest(sbom_tag) == sbom.split("@")[1]

    exporter, importer = unique("rexp"), unique("rimp")
    create_export_pipeline(source, exporter)
    create_import_pipeline(target, importer, "OverwriteTags")
    try:
        # ---- export with referrers, carry, import, verify ----------------------------------------------------------
        first = tmp_path / "rel1.json"
        manifest = _export(source, exporter, first, "--artifacts", v1, v2)
        products = {product["reference"]: product for product in manifest["products"]}
        assert products[v1]["digest"] == v1_digest and products[v2]["digest"] == v2_digest
        assert sorted((item["reference"], item["scheme"]) for item in products[v1]["referrers"]) == sorted(
            [(signature, "api"), (sbom_tag, "cosign")])
        assert products[v2]["referrers"] == []
        assert sorted(manifest["batches"][0]["artifacts"]) == sorted([v1, v2, signature, sbom_tag])

        _carry_and_import(source, target, importer, first)
        code, results = _verify(target, first)
        assert code == 0 and {artifact: item["status"] for artifact, item in results.items()} == {
            v1: "Verified", v2: "Verified", signature: "Verified", sbom_tag: "Verified"}
        # The target finds both from the image: the signature by the referrers API; the SBOM by cosign's tag (a
        # cosign referrer has no `subject`, so no referrers API can list it: cosign looks for the tag).
        listed = _referrers_api(target, repository, v1_digest)
        assert [(item["digest"], item["artifactType"]) for item in listed] == [(signature.split("@")[1], SIGNATURE)]
        assert target.manifest_digest(sbom_tag) == sbom.split("@")[1]
        assert target.manifest_digest(v1) == v1_digest

        table = target.az_result("acr", "pipeline-run", "verify", "--resource-group", target.group, "--registry",
                                 target.registry, "--manifest-file", str(first), output="table")
        assert table.returncode == 0 and signature in table.stdout and "Verified" in table.stdout

        # ---- a target tag moved to another digest: Mismatch, naming it -------------------------------------------
        _copy_within(target, v2, v1)
        code, results = _verify(target, first)
        assert code != 0
        assert results[v1]["status"] == "Mismatch" and results[v1]["expected"] == v1_digest
        assert results[v1]["found"] == v2_digest
        assert [artifact for artifact, item in results.items() if item["status"] != "Verified"] == [v1]
        _copy_within(target, f"{repository}@{v1_digest}", v1)
        assert _verify(target, first)[0] == 0

        # ---- an artifact missing from the target: Missing, naming it ---------------------------------------------
        _delete_manifest(target, signature)
        code, results = _verify(target, first)
        assert code != 0 and results[signature]["status"] == "Missing" and results[signature]["found"] is None
        assert [artifact for artifact, item in results.items() if item["status"] != "Verified"] == [signature]

        # ---- one tag changes: the incremental export carries exactly it, with its referrer ------------------------
        _copy_within(source, f"{SAMPLE_REPOSITORY}:multiarch", v2)
        new_v2_digest = source.manifest_digest(v2)
        assert new_v2_digest != v2_digest
        new_signature = _push_referrer(sandbox, v2, SIGNATURE, "api")
        second = tmp_path / "rel2.json"
        manifest = _export(source, exporter, second, "--artifacts", v1, v2, "--since-manifest", str(first))
        assert [(product["reference"], product["digest"]) for product in manifest["products"]] == [
            (v2, new_v2_digest)]
        assert [item["reference"] for item in manifest["products"][0]["referrers"]] == [new_signature]
        assert manifest["unchanged"] == [{"reference": v1, "digest": v1_digest}]
        assert manifest["base"]["file"] == "rel1.json"
        assert [batch["artifacts"] for batch in manifest["batches"]] == [[v2, new_signature]]
        assert [sorted(batch["importedArtifacts"]) for batch in manifest["batches"]] == [sorted([v2, new_signature])]

        _carry_and_import(source, target, importer, second)
        code, results = _verify(target, second)
        assert code == 0 and {artifact: item["status"] for artifact, item in results.items()} == {
            v2: "Verified", new_signature: "Verified", v1: "Verified"}
        listed = _referrers_api(target, repository, new_v2_digest)
        assert [item["digest"] for item in listed] == [new_signature.split("@")[1]]
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)
        source.acr("export-pipeline", "delete", "--name", exporter)


def test_without_the_referrers_api_the_tag_schema_index_travels_and_verify_passes(sandbox_without_api, tmp_path):
    sandbox, source, target = sandbox_without_api, sandbox_without_api.source, sandbox_without_api.target
    repository = unique("unlisted") + "/app"
    v1 = f"{repository}:v1"
    _copy_within(source, f"{SAMPLE_REPOSITORY}:latest", v1)
    v1_digest = source.manifest_digest(v1)
    # With the API off, push-referrer attaches the signature the way a client must there: in the index tagged
    # sha256-<hex> (the referrers tag schema).
    signature = _push_referrer(sandbox, v1, SIGNATURE, "api")
    sbom = _push_referrer(sandbox, v1, SBOM, "cosign")
    index_tag = f"{repository}:{v1_digest.replace(':', '-')}"
    sbom_tag = f"{index_tag}.sbom"
    index_digest = source.manifest_digest(index_tag)
    assert _referrers_response(source, repository, v1_digest).status_code == 404

    exporter, importer = unique("nexp"), unique("nimp")
    create_export_pipeline(source, exporter)
    create_import_pipeline(target, importer)
    try:
        manifest_path = tmp_path / "unlisted.json"
        manifest = _export(source, exporter, manifest_path, "--artifacts", v1)
        assert [(item["reference"], item["digest"], item["scheme"]) for item in manifest["products"][0]["referrers"]
                ] == [(signature, signature.split("@")[1], "tag-schema"), (index_tag, index_digest, "tag-schema-index"),
                      (sbom_tag, sbom.split("@")[1], "cosign")]

        _carry_and_import(source, target, importer, manifest_path)
        code, results = _verify(target, manifest_path)
        assert code == 0 and {artifact: item["status"] for artifact, item in results.items()} == {
            v1: "Verified", signature: "Verified", index_tag: "Verified", sbom_tag: "Verified"}
        # The target has no referrers API either: it finds the signature from the image through the carried index.
        assert _referrers_response(target, repository, v1_digest).status_code == 404
        assert target.manifest_digest(index_tag) == index_digest

        _delete_manifest(target, index_tag)   # without the index, the signature is there but cannot be found
        code, results = _verify(target, manifest_path)
        assert code != 0 and results[signature]["status"] == "Mismatch" and results[index_tag]["status"] == "Missing"
        assert "not found from its subject" in results[signature]["found"]
    finally:
        target.acr("import-pipeline", "delete", "--name", importer)
        source.acr("export-pipeline", "delete", "--name", exporter)
