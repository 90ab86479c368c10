# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Help for every group and command, with examples (the workflow's commands among them)."""

from knack.help_files import helps

from ._access_guidance import STORAGE_READER_ROLE, STORAGE_WRITER_ROLE

helps['acr export-pipeline'] = """
type: group
short-summary: Manage ACR Transfer export pipelines, which write artifacts as one blob into a storage container.
long-summary: >
    An export pipeline points at a storage container. It reaches it either with a SAS token kept in a Key Vault
    secret (SasToken mode, --secret-uri) or with its managed identity (ManagedIdentity mode). Export artifacts
    with `az acr pipeline-run create --pipeline-type export`.
"""

helps['acr export-pipeline create'] = """
type: command
short-summary: Create an export pipeline.
long-summary: >
    After creating the pipeline, the command prints (on stderr) the permission its identity still needs and a
    ready command to grant it: read access to the Key Vault secret in SasToken mode, or 'Storage Blob Data
    Contributor' on the storage account in ManagedIdentity mode. With --grant-access it grants that itself
    (as `az acr export-pipeline grant` does).
examples:
  - name: Create an export pipeline that reads its SAS token from Key Vault, with a system-assigned identity.
    text: >
        az acr export-pipeline create --resource-group $MyRG --registry $MyReg --name $MyPipeline --secret-uri
        https://$MyKV.vault.azure.net/secrets/$MySecret --storage-container-uri
        https://$MyStorage.blob.core.windows.net/$MyContainer
  - name: Create an export pipeline with options and a user-assigned identity.
    text: >
        az acr export-pipeline create --resource-group $MyRG --registry $MyReg --name $MyPipeline --secret-uri
        https://$MyKV.vault.azure.net/secrets/$MySecret --storage-container-uri
        https://$MyStorage.blob.core.windows.net/$MyContainer --options OverwriteBlobs ContinueOnErrors
        --assign-identity
        /subscriptions/$Sub/resourceGroups/$RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/$Id
  - name: Create an export pipeline that reaches storage with its system-assigned managed identity.
    text: >
        az acr export-pipeline create -g $MyRG -r $MyReg -n $MyPipeline -m ManagedIdentity -c
        https://$MyStorage.blob.core.windows.net/$MyContainer --assign-identity [system]
"""

helps['acr import-pipeline'] = """
type: group
short-summary: Manage ACR Transfer import pipelines, which import blobs of a storage container into a registry.
long-summary: >
    With its source trigger enabled (the default), an import pipeline imports every new transfer blob that
    lands in its container; an import can also be started with `az acr pipeline-run create --pipeline-type import`.
"""

helps['acr import-pipeline create'] = """
type: command
short-summary: Create an import pipeline.
long-summary: >
    After creating the pipeline, the command prints (on stderr) the permission its identity still needs and a
    ready command to grant it: read access to the Key Vault secret in SasToken mode, or 'Storage Blob Data
    Reader' on the storage account in ManagedIdentity mode ('Storage Blob Data Contributor' with
    DeleteSourceBlobOnSuccess). With --grant-access it grants that itself (as `az acr import-pipeline grant`
    does).
examples:
  - name: Create an import pipeline that reads its SAS token from Key Vault.
    text: >
        az acr import-pipeline create --resource-group $MyRG --registry $MyReg --name $MyPipeline --secret-uri
        https://$MyKV.vault.azure.net/secrets/$MySecret --storage-container-uri
        https://$MyStorage.blob.core.windows.net/$MyContainer
  - name: Create an import pipeline with options, no source trigger, and a user-assigned identity.
    text: >
        az acr import-pipeline create --resource-group $MyRG --registry $MyReg --name $MyPipeline --secret-uri
        https://$MyKV.vault.azure.net/secrets/$MySecret --storage-container-uri
        https://$MyStorage.blob.core.windows.net/$MyContainer --options DeleteSourceBlobOnSuccess
        OverwriteTags ContinueOnErrors --source-trigger-enabled False --assign-identity
        /subscriptions/$Sub/resourceGroups/$RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/$Id
  - name: Create an import pipeline that reaches storage with its managed identity.
    text: >
        az acr import-pipeline create -g $MyRG -r $MyReg -n $MyPipeline --storage-access-mode ManagedIdentity
        -c https://$MyStorage.blob.core.windows.net/$MyContainer
  - name: Create an import pipeline and grant its identity the storage role in the same step.
    text: >
        az acr import-pipeline create -g $MyRG -r $MyReg -n $MyPipeline --storage-access-mode ManagedIdentity
        -c https://$MyStorage.blob.core.windows.net/$MyContainer --grant-access
"""

helps['acr pipeline-run'] = """
type: group
short-summary: Manage ACR Transfer pipeline-runs, which export artifacts to a blob or import a blob.
"""

helps['acr pipeline-run create'] = """
type: command
short-summary: Start a pipeline-run and wait until it succeeds or fails.
long-summary: >
    While it waits, the command shows the run's progress on stderr (a progress bar on a terminal, otherwise a
    line every 10 points or 30 seconds; none with --only-show-errors); stdout carries only the finished run.
    A run that fails exits with a non-zero code and shows the service's error message, with a hint for the
    common causes (Key Vault or storage access).
    Re-running a name: a run of the same name with the same pipeline, blob and artifacts is not started again
    (the service treats the request as a no-op): the command says "Nothing was started", shows that run's
    outcome and exits non-zero only if that run failed. Add --force-redeploy to run it again.
examples:
  - name: Export two artifacts, by tag and by digest, into one blob.
    text: >
        az acr pipeline-run create --resource-group $MyRG --registry $MyReg --pipeline $MyPipeline --name
        $MyPipelineRun --pipeline-type export --storage-blob $MyBlob --artifacts hello-world:latest
        hello-world@sha256:90659bf80b44ce6be8234e6ff90a1ac34acbeb826903b02cfa0da11c82cbc042 --force-redeploy
  - name: Import a blob.
    text: >
        az acr pipeline-run create --resource-group $MyRG --registry $MyReg --pipeline $MyPipeline --name
        $MyPipelineRun --pipeline-type import --storage-blob $MyBlob --force-redeploy
  - name: Start an import without waiting for it.
    text: >
        az acr pipeline-run create -g $MyRG -r $MyReg -p $MyPipeline -n $MyPipelineRun -t import -b $MyBlob --no-wait
  - name: Export a signed image with its signatures, SBOMs and attestations.
    text: >
        az acr pipeline-run create -g $MyRG -r $MyReg -p $MyPipeline -n $MyPipelineRun -t export -b $MyBlob
        --artifacts myapp:v1 --include-referrers
"""

helps['acr pipeline-run create-batch'] = """
type: command
short-summary: Export or import any number of artifacts as concurrent, resumable pipeline-runs of at most 50.
long-summary: >
    Export: the artifacts (from --artifacts, --artifacts-file and the tags of --repository, in that order,
    duplicates dropped) are split in their order into batches of at most 50; batch n is run <name-prefix>n into
    blob <storage-blob-prefix>-n (n zero-padded to 3 digits), so the same input always gives the same batches.
    Every reference is checked before any run starts. Running the same command again skips the batches whose run
    Succeeded with the same artifacts, runs the failed ones again with a fresh forceUpdateTag, and waits for
    those still running. At most --max-concurrent-runs runs go at once (default 5: enough to overlap the runs'
    waiting, few enough to keep the polling under half of ARM's classic read limit and not to split the
    registry's and storage's bandwidth further). Progress goes to stderr; the command exits non-zero when any
    batch failed, after all the others finished. --manifest-file records per batch the run, blob, artifacts,
    importedArtifacts, catalogDigest and status: carry it across with the blobs, and import from it. An import
    batch skips blobs the source trigger already imported. Interrupted, the runs already started go on in the
    service: the same command again follows them.
    With --manifest-file, --include-referrers or --since-manifest every reference is first resolved to its digest
    on the registry's data plane (the manifest records it, for `pipeline-run verify` on the far side).
    --include-referrers adds each image's referrers (signatures, SBOMs, attestations, and theirs) as
    <repository>@<digest> (cosign's .sig/.att/.sbom by their tag), in the same run as the image; --dry-run lists
    them. --since-manifest OLD.json exports only the references whose digest differs from the one OLD.json
    records (or that it lacks) and reports the rest as unchanged; the new manifest names its base.
examples:
  - name: Export the artifacts listed in a file and every v1.x tag of a repository, writing a manifest.
    text: >
        az acr pipeline-run create-batch -g $MyRG -r $MyReg --pipeline $MyExportPipeline --name-prefix rel42
        --storage-blob-prefix rel42 --artifacts-file artifacts.txt --repository myapp --tag-filter '^v1\\.'
        --manifest-file rel42.json
  - name: Show the batches without starting anything.
    text: >
        az acr pipeline-run create-batch -g $MyRG -r $MyReg -p $MyExportPipeline --name-prefix rel42
        --storage-blob-prefix rel42 --repository myapp --dry-run -o table
  - name: In the target cloud, import the blobs of the carried manifest.
    text: >
        az acr pipeline-run create-batch -t import -g $MyRG -r $MyReg -p $MyImportPipeline --name-prefix rel42in
        --manifest-file rel42.json -o table
  - name: Export only what changed since the last export, signatures and SBOMs included.
    text: >
        az acr pipeline-run create-batch -g $MyRG -r $MyReg -p $MyExportPipeline --name-prefix rel43
        --storage-blob-prefix rel43 --repository myapp --include-referrers --since-manifest rel42.json
        --manifest-file rel43.json
  - name: Import blobs by name, two runs at a time.
    text: >
        az acr pipeline-run create-batch -t import -g $MyRG -r $MyReg -p $MyImportPipeline --name-prefix rel42in
        --storage-blobs rel42-001 rel42-002 rel42-003 --max-concurrent-runs 2
"""

helps['acr pipeline-run verify'] = """
type: command
short-summary: Check that what an export carried arrived in this registry, as it was exported. Read-only.
long-summary: >
    With --manifest-file, every reference the export manifest lists must exist here and, where the manifest
    records its digest, point at that digest; every carried referrer must exist and be found from its subject
    (by the referrers API, or for cosign by its sha256-<hex>.sig/.att/.sbom tag). With --name, the artifacts the
    run imported (or requested) must exist. Each artifact is listed as Verified, Missing (not here) or Mismatch
    (a tag points at another digest, or a referrer cannot be found from its subject), with the expected and the
    found digest. The command exits non-zero, after printing the list, unless every artifact is Verified.
examples:
  - name: In the target cloud, after the import, check everything the export manifest lists.
    text: >
        az acr pipeline-run verify -g $MyRG -r $MyReg --manifest-file rel42.json -o table
  - name: Check the artifacts an import run brought in.
    text: >
        az acr pipeline-run verify -g $MyRG -r $MyReg --name $MyImportRun
"""

helps['acr pipeline-run show'] = """
type: command
short-summary: Show a pipeline-run.
examples:
  - name: Show a pipeline-run.
    text: >
        az acr pipeline-run show --resource-group $MyRG --registry $MyReg --name $MyPipelineRun
"""

helps['acr pipeline-run list'] = """
type: command
short-summary: List the pipeline-runs of a registry, newest first.
long-summary: >
    Runs are listed by start time, the most recent first (runs not started yet last). In the table, a running
    run's STATUS shows its progress and ERROR_MESSAGE shows the start of the message (the whole message is in
    -o json).
examples:
  - name: List the failed runs of one pipeline.
    text: >
        az acr pipeline-run list --resource-group $MyRG --registry $MyReg --pipeline $MyPipeline --status Failed
        --output table
  - name: List all pipeline-runs as a table.
    text: >
        az acr pipeline-run list --resource-group $MyRG --registry $MyReg --output table
  - name: List the 10 most recent pipeline-runs.
    text: >
        az acr pipeline-run list --resource-group $MyRG --registry $MyReg --top 10
"""

helps['acr pipeline-run delete'] = """
type: command
short-summary: Delete a pipeline-run.
examples:
  - name: Delete a pipeline-run.
    text: >
        az acr pipeline-run delete --resource-group $MyRG --registry $MyReg --name $MyPipelineRun
"""

helps['acr pipeline-run clean'] = """
type: command
short-summary: Delete every failed pipeline-run of a registry.
examples:
  - name: List the failed pipeline-runs that would be deleted.
    text: >
        az acr pipeline-run clean --resource-group $MyRG --registry $MyReg --dry-run --output table
  - name: Delete all failed pipeline-runs.
    text: >
        az acr pipeline-run clean --resource-group $MyRG --registry $MyReg
"""

helps['acr pipeline-run wait'] = """
type: command
short-summary: Wait until a pipeline-run ends, by its name or as the run a source trigger starts for a blob.
long-summary: >
    Shows the run's progress like `pipeline-run create` does and ends the same way: the finished run on stdout,
    or a non-zero exit with the service's error message (and a hint) when the run failed. With --pipeline and
    --storage-blob it first waits for the import pipeline's source trigger to start a run for the blob (the
    service notices a new blob within 15 minutes), then for that run.
examples:
  - name: Wait for a run started with --no-wait.
    text: >
        az acr pipeline-run wait --resource-group $MyRG --registry $MyReg --name $MyPipelineRun
  - name: Wait at most 30 minutes for the import the source trigger starts for a blob.
    text: >
        az acr pipeline-run wait --resource-group $MyRG --registry $MyReg --pipeline $MyImportPipeline
        --storage-blob $MyBlob --timeout 1800
"""


# The show, list, delete, check and grant entries of the two pipeline kinds differ only where the kinds do: each is
# written once and filled per kind.
SHOW_HELP = """
type: command
short-summary: Show an {kind} pipeline, including the principal id of its identity.
examples:
  - name: Show an {kind} pipeline.
    text: >
        az acr {kind}-pipeline show --resource-group $MyRG --registry $MyReg --name $MyPipeline
{more_examples}"""

PRINCIPAL_ID_EXAMPLE = """\
  - name: Get the principal id to grant access to Key Vault or storage.
    text: >
        az acr {kind}-pipeline show --resource-group $MyRG --registry $MyReg --name $MyPipeline --query
        identity.principalId --output tsv
"""

LIST_HELP = """
type: command
short-summary: List the {kind} pipelines of a registry.
examples:
  - name: List {kind} pipelines as a table.
    text: >
        az acr {kind}-pipeline list --resource-group $MyRG --registry $MyReg --output table
"""

DELETE_HELP = """
type: command
short-summary: Delete an {kind} pipeline.
examples:
  - name: Delete an {kind} pipeline.
    text: >
        az acr {kind}-pipeline delete --resource-group $MyRG --registry $MyReg --name $MyPipeline
"""

CHECK_HELP = """
type: command
short-summary: Check everything a run of the {kind} pipeline needs, before a run fails on it.
long-summary: >
    Runs every check that applies and reports each as Passed, Failed, Warning or Skipped (with why), and for
    each problem a ready command line that fixes it (`fix`). The pipeline is Succeeded and its identity known;
    in SasToken mode the Key Vault is found (by the secret URI's origin), the identity may get the secret
    (access policy, or a role with Azure RBAC), the secret exists, and the SAS token is valid, HTTPS-only, for
    the blob service, with srt=sco and the permissions the pipeline needs, and storage accepts it; in
    ManagedIdentity mode the identity holds its role on the storage account.{trigger_check} The exit code is 1
    when a check Failed. The SAS token itself is never shown.
examples:
  - name: Check a pipeline and show the result as a table.
    text: >
        az acr {kind}-pipeline check --resource-group $MyRG --registry $MyReg --name $MyPipeline --output table
  - name: Also check the blob of the next run.
    text: >
        az acr {kind}-pipeline check -g $MyRG -r $MyReg -n $MyPipeline --storage-blob $MyBlob
{more_examples}\
  - name: List only the failed checks and their fixes.
    text: >
        az acr {kind}-pipeline check -g $MyRG -r $MyReg -n $MyPipeline --query "[?status=='Failed'].[name,fix]"
        --output tsv
"""

TRIGGER_CHECK = ' With the source trigger enabled, every blob of the container is judged eligible or not.'

ARTIFACTS_CHECK_EXAMPLE = """\
  - name: Also check that the artifacts of the next run exist in the registry.
    text: >
        az acr {kind}-pipeline check -g $MyRG -r $MyReg -n $MyPipeline --artifacts hello-world:latest
        hello-world@sha256:90659bf80b44ce6be8234e6ff90a1ac34acbeb826903b02cfa0da11c82cbc042
"""

GRANT_HELP = """
type: command
short-summary: Grant the {kind} pipeline's identity what its runs need, and nothing when it has it already.
long-summary: >
    SasToken mode: secret get on the Key Vault, as an access policy (every other policy is kept) or, for a vault
    with Azure RBAC, the role 'Key Vault Secrets User' on the vault. ManagedIdentity mode: {storage_roles} on the
    storage account{storage_role_note}. When you may not grant it, the error names the command someone who may
    can run.
examples:
  - name: Grant a pipeline access to its Key Vault secret or storage account.
    text: >
        az acr {kind}-pipeline grant --resource-group $MyRG --registry $MyReg --name $MyPipeline
"""

PER_KIND = {
    'export': {'show': PRINCIPAL_ID_EXAMPLE, 'check': ARTIFACTS_CHECK_EXAMPLE, 'trigger_check': '',
               'storage_roles': "'{}'".format(STORAGE_WRITER_ROLE), 'storage_role_note': ''},
    'import': {'show': '', 'check': '', 'trigger_check': TRIGGER_CHECK,
               'storage_roles': "'{}'".format(STORAGE_READER_ROLE),
               'storage_role_note': " ('{}' with DeleteSourceBlobOnSuccess)".format(STORAGE_WRITER_ROLE)},
}


def _add_pipeline_help():
    for kind, fills in PER_KIND.items():
        group = 'acr {}-pipeline '.format(kind)
        helps[group + 'show'] = SHOW_HELP.format(kind=kind, more_examples=fills['show'].format(kind=kind))
        helps[group + 'list'] = LIST_HELP.format(kind=kind)
        helps[group + 'delete'] = DELETE_HELP.format(kind=kind)
        helps[group + 'check'] = CHECK_HELP.format(kind=kind, trigger_check=fills['trigger_check'],
                                                   more_examples=fills['check'].format(kind=kind))
        helps[group + 'grant'] = GRANT_HELP.format(kind=kind, storage_roles=fills['storage_roles'],
                                                   storage_role_note=fills['storage_role_note'])


_add_pipeline_help()
