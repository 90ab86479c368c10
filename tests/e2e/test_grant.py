"""`az acr export-pipeline|import-pipeline grant` and `--grant-access` through the real az against the sandbox:
a fresh pipeline gets exactly what check asks for, a second grant is a no-op, other access policies survive."""
import json

from .conftest import unique
from .test_check import assert_export_succeeds, assert_passes, check, export_pipeline, failed, import_pipeline


def grant(cloud, kind, pipeline):
    return cloud.acr(f"{kind}-pipeline", "grant", "--name", pipeline)


def policies(cloud) -> dict:
    vault = cloud.az("keyvault", "show", "--name", cloud["ACRSANDBOX_KEYVAULT"])
    return {p["objectId"]: sorted(p["permissions"]["secrets"] or []) for p in vault["properties"]["accessPolicies"]}


def test_grant_on_an_access_policy_vault_adds_get_and_keeps_other_policies(source):
    exporter, principal = export_pipeline(source)
    assert set(failed(check(source, "export", exporter)[1])) == {"KeyVaultAccess"}
    before = policies(source)
    first = grant(source, "export", exporter)
    assert first["granted"] == ["secrets: get"] and first["principalId"] == principal
    after = policies(source)
    assert after[principal] == ["get"]
    assert {k: v for k, v in after.items() if k != principal} == before, "other access policies must survive"
    second = grant(source, "export", exporter)
    assert second["granted"] == [] and second["action"].startswith("Nothing to do")
    assert policies(source) == after
    assert_passes(source, "export", exporter)
    assert_export_succeeds(source, exporter)


def test_grant_keeps_the_principals_other_secret_permissions(source):
    exporter, principal = export_pipeline(source)
    source.az("keyvault", "set-policy", "--name", source["ACRSANDBOX_KEYVAULT"], "--secret-permissions", "list",
              "--object-id", principal)
    assert grant(source, "export", exporter)["granted"] == ["secrets: get"]
    assert policies(source)[principal] == ["get", "list"]


def test_grant_on_an_rbac_vault_assigns_key_vault_secrets_user(source):
    exporter, principal = export_pipeline(source)
    vault = source["ACRSANDBOX_KEYVAULT"]
    source.az("keyvault", "update", "--name", vault, "--enable-rbac-authorization", "true")
    try:
        assert set(failed(check(source, "export", exporter)[1])) == {"KeyVaultAccess"}
        first = grant(source, "export", exporter)
        assert first["granted"] == ["Key Vault Secrets User"]
        assert first["scope"].lower() == source["ACRSANDBOX_KEYVAULT_ID"].lower()
        roles = source.az("role", "assignment", "list", "--assignee", principal, "--scope",
                          source["ACRSANDBOX_KEYVAULT_ID"])
        assert [r["roleDefinitionId"].rsplit("/", 1)[-1] for r in roles] == ["4633458b-17de-408a-b874-0445c86b69e6"]
        assert grant(source, "export", exporter)["granted"] == []
        assert_passes(source, "export", exporter)
        assert_export_succeeds(source, exporter)
    finally:
        source.az("keyvault", "update", "--name", vault, "--enable-rbac-authorization", "false")


def test_grant_for_managed_identity_assigns_the_storage_role(source):
    importer, _ = import_pipeline(source, "--storage-access-mode", "ManagedIdentity", "--options",
                                  "DeleteSourceBlobOnSuccess", container=source["ACRSANDBOX_STORAGE_CONTAINER_URI"])
    assert set(failed(check(source, "import", importer)[1])) == {"StorageRole"}
    first = grant(source, "import", importer)
    assert first["granted"] == ["Storage Blob Data Contributor"]
    assert first["scope"].lower() == source["ACRSANDBOX_STORAGE_ACCOUNT_ID"].lower()
    assert grant(source, "import", importer)["granted"] == []
    assert_passes(source, "import", importer)

    exporter, _ = export_pipeline(source, "--storage-access-mode", "ManagedIdentity")
    assert grant(source, "export", exporter)["granted"] == ["Storage Blob Data Contributor"]
    assert_passes(source, "export", exporter)
    assert_export_succeeds(source, exporter)


def test_grant_access_on_create(source):
    result = source.az_result("acr", "export-pipeline", "create", "--resource-group", source.group, "--registry",
                              source.registry, "--name", unique("grantnow"), "--secret-uri",
                              source["ACRSANDBOX_SECRET_URI"], "--storage-container-uri",
                              source["ACRSANDBOX_STORAGE_CONTAINER_URI"], "--grant-access")
    assert result.returncode == 0, result.stderr
    exporter = json.loads(result.stdout)["name"]
    assert_passes(source, "export", exporter)
    assert_export_succeeds(source, exporter)
