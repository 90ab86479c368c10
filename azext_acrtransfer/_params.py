# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Arguments of every command, with their options and help together."""

from azure.cli.core.commands.parameters import get_enum_type, get_three_state_flag

from ._runs import OUTCOMES as RUN_STATUSES
from ._validators import DEFAULT_MAX_CONCURRENT_RUNS, MAX_CONCURRENT_RUNS
from ._wire import EXPORT_OPTIONS, IMPORT_OPTIONS, STORAGE_ACCESS_MODES

OPTION_HELP = {
    'OverwriteBlobs': 'an export replaces a blob of the same name instead of failing',
    'OverwriteTags': 'an import moves existing tags of the target registry to the imported images instead of '
                     'failing',
    'DeleteSourceBlobOnSuccess': 'a successful import deletes the blob from the storage container',
    'ContinueOnErrors': 'artifacts that fail are skipped and reported, the others still transfer',
}
INCLUDE_REFERRERS_HELP = ('Export only: also export each artifact\'s referrers (signatures, SBOMs, attestations, and '
                          'theirs), found by the OCI referrers API, the referrers tag schema and cosign\'s .sig/.att/'
                          '.sbom tags; they count toward the 50 artifacts of a run.')
REGISTRY_HELP = ('The name of the container registry. You can configure the default registry name using '
                 '`az config set defaults.acr=<registry name>`.')


def load_arguments(self, _):
    with self.argument_context('acr') as c:
        c.argument('registry_name', options_list=['--registry', '-r'], configured_default='acr',
                   help=REGISTRY_HELP)

    for kind, allowed in (('export', EXPORT_OPTIONS), ('import', IMPORT_OPTIONS)):
        with self.argument_context('acr {}-pipeline'.format(kind)) as c:
            c.argument('pipeline_name', options_list=['--name', '-n'], help='The name of the {} pipeline.'.format(kind))
        with self.argument_context('acr {}-pipeline create'.format(kind)) as c:
            c.argument('storage_container_uri', options_list=['--storage-container-uri', '-c'],
                       help='The URI of the storage container the pipeline {} blobs, e.g. '
                            'https://mystorage.blob.core.windows.net/transfer.'
                            .format('writes' if kind == 'export' else 'imports'))
            c.argument('secret_uri', options_list=['--secret-uri', '-s'],
                       help='The URI of the Key Vault secret holding the SAS token for the storage container '
                            '(SasToken mode), e.g. https://myvault.vault.azure.net/secrets/acrtransfersas.')
            c.argument('storage_access_mode', options_list=['--storage-access-mode', '-m'],
                       arg_type=get_enum_type(STORAGE_ACCESS_MODES),
                       help='How the pipeline reaches storage. Defaults to SasToken when --secret-uri is given.')
            c.argument('options', options_list=['--options', '-z'], nargs='+',
                       help='Space-separated pipeline options: {}.'.format(
                           '; '.join('{} ({})'.format(name, OPTION_HELP[name]) for name in allowed)))
            c.argument('grant_access', options_list=['--grant-access'], action='store_true',
                       help="Grant the pipeline identity what it needs in the same step, as `az acr {}-pipeline "
                            "grant` does: secret get on the Key Vault (access policy or 'Key Vault Secrets User'), "
                            "or its storage role on the account in ManagedIdentity mode.".format(kind))
            c.argument('assign_identity', options_list=['--assign-identity', '-i'],
                       help="'[system]' for a system-assigned identity (the default) or the resource id of a "
                            "user-assigned identity.")

        with self.argument_context('acr {}-pipeline check'.format(kind)) as c:
            c.argument('storage_blob', options_list=['--storage-blob', '-b'],
                       help='Also check this blob: ' + ('it must not exist unless the pipeline has OverwriteBlobs.'
                                                        if kind == 'export' else
                                                        'it must exist with a Content-MD5.'))
    with self.argument_context('acr export-pipeline check') as c:
        c.argument('artifacts', options_list=['--artifacts', '-a'], nargs='+',
                   help='Also check that these artifacts exist in the registry, as pipeline-run create takes them: '
                        '<repository>:<tag> or <repository>@sha256:<digest>; at most 50.')

    with self.argument_context('acr import-pipeline create') as c:
        c.argument('source_trigger_enabled', options_list=['--source-trigger-enabled', '-e'],
                   arg_type=get_three_state_flag(), default=True,
                   help='Whether the pipeline imports new blobs of its container automatically. Default: true.')

    with self.argument_context('acr pipeline-run') as c:
        c.argument('run_name', options_list=['--name', '-n'], help='The name of the pipeline-run.')
    with self.argument_context('acr pipeline-run create') as c:
        c.argument('pipeline_name', options_list=['--pipeline', '-p'], help='The name of the pipeline to run.')
        c.argument('pipeline_type', options_list=['--pipeline-type', '-t'],
                   arg_type=get_enum_type(['import', 'export']), help='The type of the pipeline.')
        c.argument('storage_blob', options_list=['--storage-blob', '-b'],
                   help='The name of the blob: written by an export run, imported by an import run.')
        c.argument('artifacts', options_list=['--artifacts', '-a'], nargs='+',
                   help='Export runs only: space-separated artifacts to export, <repository>:<tag> or '
                        '<repository>@sha256:<digest> (a bare repository means :latest); at most 50.')
        c.argument('force_redeploy', options_list=['--force-redeploy', '-f'], action='store_true',
                   help='Run again even if a run of this name with the same parameters exists. Without it, '
                        're-using the name of a run with the same pipeline, blob and artifacts starts nothing '
                        'and shows that run\'s outcome; other parameters replace the run with a new one.')
    with self.argument_context('acr pipeline-run list') as c:
        c.argument('top', type=int, help='List only the n most recent pipeline-runs (after the filters).')
        c.argument('pipeline_name', options_list=['--pipeline', '-p'],
                   help='Only the runs of the export or import pipeline of this name.')
        c.argument('status', arg_type=get_enum_type(RUN_STATUSES),
                   help='Only the runs that ended so, or (Running) have not finished yet.')
    with self.argument_context('acr pipeline-run wait') as c:
        c.argument('run_name', options_list=['--name', '-n'], help='The name of the pipeline-run to wait for.')
        c.argument('pipeline_name', options_list=['--pipeline', '-p'],
                   help='With --storage-blob: the import pipeline whose source trigger imports the blob.')
        c.argument('storage_blob', options_list=['--storage-blob', '-b'],
                   help='With --pipeline: the blob whose source-triggered import run to wait for.')
        c.argument('timeout', type=int,
                   help='Seconds to wait in all. Default: until the run ends; with --storage-blob, the run must '
                        'appear within the 15 minutes the service takes to notice a blob.')
    with self.argument_context('acr pipeline-run clean') as c:
        c.argument('dry_run', action='store_true', help='List the failed pipeline-runs that would be deleted.')

    _load_batch_arguments(self)
    _load_product_arguments(self)


def _load_batch_arguments(self):
    with self.argument_context('acr pipeline-run create-batch') as c:
        c.argument('pipeline_name', options_list=['--pipeline', '-p'], help='The name of the pipeline to run.')
        c.argument('pipeline_type', options_list=['--pipeline-type', '-t'],
                   arg_type=get_enum_type(['import', 'export']), default='export',
                   help='The type of the pipeline. Default: export.')
        c.argument('name_prefix', options_list=['--name-prefix'],
                   help='2-47 letters and digits; the runs are named <prefix>001, <prefix>002, ...')
        c.argument('storage_blob_prefix', options_list=['--storage-blob-prefix'],
                   help='Export only: the blobs are named <prefix>-001, <prefix>-002, ...')
        c.argument('artifacts', options_list=['--artifacts', '-a'], nargs='+',
                   help='Export only: space-separated artifacts, <repository>:<tag> or <repository>@sha256:<digest> '
                        '(a bare repository means :latest); any number, 50 per run.')
        c.argument('artifacts_file', options_list=['--artifacts-file'],
                   help="Export only: a file with one artifact reference a line; blank lines and '#' comments are "
                        "ignored.")
        c.argument('repository', options_list=['--repository'], nargs='+',
                   help="Export only: export the tags of these repositories (listed on the registry's data plane).")
        c.argument('tag_filter', options_list=['--tag-filter'],
                   help='Export only, with --repository: a regular expression the tags must contain a match of '
                        "(anchor it with ^ and $ for whole tags), e.g. '^v1\\.'.")
        c.argument('storage_blobs', options_list=['--storage-blobs'], nargs='+',
                   help='Import only: the blobs to import, one run each.')
        c.argument('manifest_file', options_list=['--manifest-file'],
                   help='Export: write a JSON manifest of the batches here (pipeline; per batch run, blob, artifacts, '
                        'importedArtifacts, catalogDigest, status; per reference the digest it resolved to and the '
                        'referrers carried with it). Import: import the blobs of this manifest.')
        c.argument('max_concurrent_runs', options_list=['--max-concurrent-runs'], type=int,
                   help='How many runs go at once, 1-{}. Default: {}.'.format(
                       MAX_CONCURRENT_RUNS, DEFAULT_MAX_CONCURRENT_RUNS))
        c.argument('dry_run', action='store_true',
                   help='List the batches (run, blob, artifacts) and what would be done with each; start nothing.')


def _load_product_arguments(self):
    """Referrers, incremental exports and verify."""
    with self.argument_context('acr pipeline-run create') as c:
        c.argument('include_referrers', options_list=['--include-referrers'], action='store_true',
                   help=INCLUDE_REFERRERS_HELP)
    with self.argument_context('acr pipeline-run create-batch') as c:
        c.argument('include_referrers', options_list=['--include-referrers'], action='store_true',
                   help=INCLUDE_REFERRERS_HELP + ' Each image and its referrers go in the same run.')
        c.argument('since_manifest', options_list=['--since-manifest'],
                   help='Export only: the manifest of an earlier export. Only references whose digest differs from '
                        'the one it records, or that it lacks, are exported; the rest are reported unchanged. The '
                        'new manifest names its base.')
    with self.argument_context('acr pipeline-run verify') as c:
        c.argument('manifest_file', options_list=['--manifest-file'],
                   help='The manifest `create-batch --manifest-file` wrote at export: verify everything it lists.')
        c.argument('run_name', options_list=['--name', '-n'],
                   help='A pipeline-run of this registry: verify the artifacts it imported (or requested).')
