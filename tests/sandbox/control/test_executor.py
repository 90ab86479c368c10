"""The run executor's decisions: which identity may reach the storage, what a run that may not fails with, and what a
restart does to a run that was cut. The transfer engine and storage are fakes; the store and access rules are real.
"""
import asyncio

import pytest

from acrtransfer_sandbox.plumbing.certs import ensure_certificates
from acrtransfer_sandbox.plumbing.config import SECRET_NAME
from acrtransfer_sandbox.runtime.executor import RunExecutor, storage_account_of
from acrtransfer_sandbox.rules.vaults import new_secret_version
from acrtransfer_sandbox.rules.pipelines import (EXPORT, IMPORT, build_pipeline_document, new_run_document,
                                                 pipeline_principal_id)
from acrtransfer_sandbox.plumbing.store import ResourceStore

from .harness import export_pipeline_body, import_pipeline_body, managed_storage, run_path, sas_storage

RUN_NAME = "run12345"


def _pipeline(sandbox, cloud, kind, storage, options=()) -> dict:
    collection_body = export_pipeline_body if kind is EXPORT else import_pipeline_body
    pipeline_id = f"{cloud.registry_id}/{kind.collection}/pipeline1"
    document = build_pipeline_document(kind, pipeline_id, "pipeline1", collection_body(storage, options=options),
                                       None, cloud.tenant_id, cloud.client_id)
    sandbox.store.put(pipeline_id, document)
    return document


def _run(sandbox, cloud, pipeline, name=RUN_NAME) -> str:
    if pipeline["type"].endswith("importPipelines"):
        run_request = {"pipelineResourceId": pipeline["id"], "source": {"type": "AzureStorageBlob", "name": "b.tar"}}
    else:
        run_request = {"pipelineResourceId": pipeline["id"], "target": {"type": "AzureStorageBlob", "name": "b.tar"},
                       "artifacts": ["hello-world:latest"]}
    run_id = run_path(cloud, name)
    sandbox.store.put(run_id, new_run_document(run_id, name, run_request, None, cloud.client_id, None))
    return run_id


def _execute(sandbox, run_id) -> dict:
    async def scenario():
        sandbox.executor.start(run_id)
        return await sandbox.wait_finished(run_id)
    return sandbox.run_executor(scenario)


def _outcome(run) -> tuple:
    response = run["properties"]["response"]
    return run["properties"]["provisioningState"], response.get("pipelineRunErrorMessage")


def _seeded_sas(sandbox, cloud) -> str:
    return sandbox.store.secret_versions(cloud.vault_id, SECRET_NAME)[-1]["value"]


# SasToken mode: the secret is read only with Key Vault access
def test_sas_token_run_without_secret_get_fails_with_the_key_vault_403(sandbox, engine):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline), permissions=["list", "set"])

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed"
    assert "Status: 403 (Forbidden)" in message
    assert f"'oid={pipeline_principal_id(pipeline)}' does not have secrets get permission" in message
    assert cloud.vault_name in message
    assert _seeded_sas(sandbox, cloud) not in message
    assert engine.calls == []


def test_sas_token_run_with_secret_get_uses_the_vaults_sas_against_the_pipelines_container(sandbox, engine):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline), permissions=["Get"])

    run = _execute(sandbox, _run(sandbox, cloud, pipeline))
    assert _outcome(run) == ("Succeeded", None)
    [container] = [call["container"] for call in engine.calls]
    assert container.container_url == cloud.container_uri
    assert container.sas == _seeded_sas(sandbox, cloud) and container.account_key is None
    assert _seeded_sas(sandbox, cloud) not in str(run)


def test_sas_token_run_reads_the_newest_secret_version(sandbox, engine):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))
    sandbox.store.add_secret_version(cloud.vault_id, SECRET_NAME, new_secret_version("sv=rotated", {}, None))

    _execute(sandbox, _run(sandbox, cloud, pipeline))
    assert engine.calls[0]["container"].sas == "sv=rotated"


def test_rbac_vault_ignores_access_policies_and_needs_a_secrets_role(sandbox, engine):
    cloud = sandbox.source
    vault = sandbox.store.get(cloud.vault_id)
    vault["properties"]["enableRbacAuthorization"] = True
    sandbox.store.put(cloud.vault_id, vault)
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    principal = pipeline_principal_id(pipeline)
    sandbox.grant_secret_get(cloud, principal)

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline, "denied1")))
    assert state == "Failed"
    assert "ForbiddenByRbac" in message and f"oid={principal}" in message and "403" in message

    sandbox.assign_role(principal, "Key Vault Secrets User", cloud.vault_id)
    assert _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline, "allowed1"))) == ("Succeeded", None)
    assert len(engine.calls) == 1


@pytest.mark.parametrize("secret_uri,code", [
    ("https://127.0.0.1:1/secrets/acrtransfer-sas", "VaultNotFound"),
    ("{vault}secrets/no-such-secret", "SecretNotFound"),
    ("{vault}secrets/acrtransfer-sas/0123456789abcdef0123456789abcdef", "SecretNotFound"),
])
def test_sas_token_run_with_a_missing_secret_fails_saying_what_is_missing(sandbox, engine, secret_uri, code):
    cloud = sandbox.source
    storage = dict(sas_storage(cloud), keyVaultUri=secret_uri.format(vault=cloud.vault_url))
    pipeline = _pipeline(sandbox, cloud, EXPORT, storage)
    sandbox.grant_secret_get(cloud, pipeline_principal_id(pipeline))

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed" and f"({code})" in message and "404" in message
    assert engine.calls == []


# ManagedIdentity mode: a data role on the storage account
@pytest.mark.parametrize("kind,options,role,allowed", [
    (EXPORT, (), None, False),
    (EXPORT, (), "Storage Blob Data Reader", False),
    (EXPORT, (), "Reader", False),
    (EXPORT, (), "Storage Blob Data Contributor", True),
    (IMPORT, (), None, False),
    (IMPORT, (), "Reader", False),
    (IMPORT, (), "Storage Blob Data Reader", True),
    (IMPORT, (), "Storage Blob Data Contributor", True),
    (IMPORT, ("DeleteSourceBlobOnSuccess",), "Storage Blob Data Reader", False),
    (IMPORT, ("DeleteSourceBlobOnSuccess",), "Storage Blob Data Contributor", True),
])
def test_managed_identity_run_needs_a_storage_data_role(sandbox, engine, kind, options, role, allowed):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, kind, managed_storage(cloud), options)
    principal = pipeline_principal_id(pipeline)
    if role:
        sandbox.assign_role(principal, role, cloud.storage_account_id)

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    if allowed:
        assert (state, message) == ("Succeeded", None)
        container = engine.calls[0]["container"]
        assert container.account_key == sandbox.credentials.storage_keys[cloud.name] and container.sas is None
        assert container.container_url == cloud.container_uri
    else:
        wanted = "Storage Blob Data Contributor" if kind is EXPORT or options else "Storage Blob Data Reader"
        assert state == "Failed"
        assert message.startswith("Storage request failed: 403 (AuthorizationPermissionMismatch)")
        assert f"principal {principal}" in message and f"'{wanted}'" in message
        assert cloud.storage_account in message
        assert engine.calls == []


@pytest.mark.parametrize("scope_of,allowed", [
    (lambda cloud: cloud.group_id, True),
    (lambda cloud: f"/subscriptions/{cloud.subscription_id}", True),
    (lambda cloud: cloud.storage_account_id + "/blobServices/default/containers/transfer", True),
    (lambda cloud: cloud.storage_account_id.upper(), True),
    (lambda cloud: cloud.storage_account_id + "x", False),
    (lambda cloud: cloud.registry_id, False),
])
def test_a_role_counts_from_the_scope_it_covers(sandbox, engine, scope_of, allowed):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Contributor", scope_of(cloud))

    state, _ = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == ("Succeeded" if allowed else "Failed")


def test_another_principals_role_does_not_count(sandbox):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
    sandbox.assign_role(cloud.operator_object_id, "Storage Blob Data Contributor", cloud.storage_account_id)

    assert _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))[0] == "Failed"


@pytest.mark.parametrize("uri_of", [lambda sandbox: "https://elsewhere.blob.core.windows.net/transfer",
                                    lambda sandbox: sandbox.source.container_uri],
                         ids=["outside the sandbox", "the other cloud's account"])
def test_container_of_an_account_outside_the_cloud_fails_the_run(sandbox, engine, uri_of):
    cloud = sandbox.target
    storage = dict(managed_storage(cloud), uri=uri_of(sandbox))
    pipeline = _pipeline(sandbox, cloud, IMPORT, storage)
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Contributor",
                        sandbox.source.storage_account_id)

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed"
    assert f"'{uri_of(sandbox)}' is not part of this cloud (its account: targetstorage)" in message
    assert engine.calls == []


def test_the_other_clouds_vault_is_not_found_even_with_a_policy(sandbox, engine):
    cloud = sandbox.target
    storage = dict(sas_storage(cloud), keyVaultUri=sandbox.source.secret_uri)
    pipeline = _pipeline(sandbox, cloud, IMPORT, storage)
    sandbox.grant_secret_get(sandbox.source, pipeline_principal_id(pipeline))

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Failed"
    assert "(VaultNotFound)" in message and sandbox.source.secret_uri in message
    assert engine.calls == []


@pytest.mark.parametrize("uri,expected", [
    ("https://127.0.0.1:47120/targetstorage/transfer", ("targetstorage", "transfer")),
    ("https://127.0.0.1:47120/TargetStorage/transfer/", ("targetstorage", "transfer")),
    ("https://sourcestorage.blob.core.acrsandbox.local/transfer", ("sourcestorage", "transfer")),
])
def test_storage_account_of_path_and_host_style_uris(uri, expected):
    assert storage_account_of(uri) == expected


def test_the_pipeline_of_a_run_deleted_before_it_runs_fails_the_run(sandbox, engine):
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    run_id = _run(sandbox, cloud, pipeline)
    sandbox.store.delete(pipeline["id"])

    state, message = _outcome(_execute(sandbox, run_id))
    assert state == "Failed" and message == f"The pipeline '{pipeline['id']}' of this run no longer exists."


def test_an_unexpected_engine_error_still_ends_the_run_with_its_reason(sandbox, engine):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Reader", cloud.storage_account_id)
    engine.error = KeyError("layers")

    run_id = _run(sandbox, cloud, pipeline)
    state, message = _outcome(_execute(sandbox, run_id))
    assert state == "Failed"
    assert message == "The sandbox failed while running the pipeline: KeyError: 'layers'"
    assert sandbox.store.get(run_id)["properties"]["response"]["finishTime"]


def test_skipped_artifacts_are_reported_on_a_succeeded_run(sandbox, engine):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud), ("ContinueOnErrors",))
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Reader", cloud.storage_account_id)
    engine.skipped = ["a:1 (not found)", "b:2 (not found)"]

    state, message = _outcome(_execute(sandbox, _run(sandbox, cloud, pipeline)))
    assert state == "Succeeded"
    assert message == "Completed with ContinueOnErrors; skipped artifacts: a:1 (not found); b:2 (not found)"


def test_the_run_goes_to_the_registry_of_its_own_cloud(sandbox, engine):
    for cloud in (sandbox.source, sandbox.target):
        pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
        sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Reader", cloud.storage_account_id,
                            name="assignment-" + cloud.name)
        _execute(sandbox, _run(sandbox, cloud, pipeline))
    assert [call["registry"].base_url for call in engine.calls] == [sandbox.source.registry_upstream_url,
                                                                    sandbox.target.registry_upstream_url]


def test_progress_is_saved_while_the_run_goes(sandbox, engine):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Reader", cloud.storage_account_id)
    engine.hold = True
    run_id = _run(sandbox, cloud, pipeline)

    async def scenario():
        sandbox.executor.start(run_id)
        while not engine.calls:
            await _yield()
        during = sandbox.store.get(run_id)["properties"]
        engine.release()
        return during, await sandbox.wait_finished(run_id)

    during, finished = sandbox.run_executor(scenario)
    assert during["provisioningState"] == "Creating"
    assert during["response"]["progress"] == {"percentage": "40"}
    assert finished["properties"]["response"]["progress"] == {"percentage": "100"}


async def _yield():
    await asyncio.sleep(0)


# Restarts
def test_a_run_cut_by_a_restart_ends_failed_with_a_clear_message(sandbox, engine):
    cloud = sandbox.target
    pipeline = _pipeline(sandbox, cloud, IMPORT, managed_storage(cloud))
    sandbox.assign_role(pipeline_principal_id(pipeline), "Storage Blob Data Reader", cloud.storage_account_id)
    finished_id = _run(sandbox, cloud, pipeline, "finished1")
    _execute(sandbox, finished_id)
    engine.hold = True
    run_id = _run(sandbox, cloud, pipeline)

    async def cut():
        operation_id = sandbox.executor.start(run_id)
        while not engine.calls[1:]:
            await _yield()
        await sandbox.executor.shutdown()        # the sandbox stops with the run in the middle
        return operation_id

    operation_id = sandbox.run_executor(cut)
    assert sandbox.store.get(run_id)["properties"]["provisioningState"] == "Creating"
    assert sandbox.executor.operation(operation_id)["status"] == "InProgress"

    ensure_certificates(sandbox.config.home / "tls")
    restarted = RunExecutor(sandbox.config, sandbox.credentials, ResourceStore(sandbox.config.state_dir
                                                                               / "resources.json"))

    async def restart():
        await restarted.startup()
        await restarted.shutdown()
    sandbox.run_executor(restart)

    run = restarted.store.get(run_id)
    state, message = _outcome(run)
    assert state == "Failed" and run["properties"]["response"]["status"] == "Failed"
    assert message.startswith("The pipeline run was interrupted: the sandbox stopped while it was in progress "
                              "(at 40%).")
    assert "--force-redeploy" in message
    assert run["properties"]["response"]["finishTime"]
    operation = restarted.operation(operation_id)
    assert operation["status"] == "Failed" and operation["error"]["message"] == message
    assert _outcome(restarted.store.get(finished_id)) == ("Succeeded", None)


def test_an_unfinished_operation_of_a_deleted_run_ends_failed_on_restart(sandbox):
    sandbox.store.set_bookkeeping("operations", {"op1": {"id": "op1", "name": "op1", "status": "InProgress",
                                                         "runId": run_path(sandbox.source, "gone1"),
                                                         "startTime": "2026-01-01T00:00:00+00:00"}})
    sandbox.executor.fail_interrupted_runs()
    assert sandbox.executor.operation("op1")["status"] == "Failed"


def test_terminal_operations_are_kept_but_only_the_newest_ones(sandbox, monkeypatch):
    from acrtransfer_sandbox.runtime import executor as executor_module
    monkeypatch.setattr(executor_module, "MAX_KEPT_OPERATIONS", 3)
    cloud = sandbox.source
    pipeline = _pipeline(sandbox, cloud, EXPORT, sas_storage(cloud))
    run = _execute(sandbox, _run(sandbox, cloud, pipeline))
    operations = [sandbox.executor.record_operation(run) for _ in range(5)]

    assert [sandbox.executor.operation(op) is not None for op in operations] == [False, False, True, True, True]
    assert sandbox.executor.operation(operations[-1])["status"] == "Failed"
