# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr pipeline-run: start an export or import run and follow it; show, list, delete and clean runs."""

import time
from datetime import datetime, timezone

from azure.cli.core.azclierror import AzCLIError, AzureResponseError, InvalidArgumentValueError, UnclassifiedUserFault
from azure.core.exceptions import AzureError
from knack.log import get_logger

from ._client import DEFAULT_POLLING_INTERVAL
from ._format import flatten_resource, is_running, run_status, start_time_of
from ._progress import RunProgress
from ._permissions import principal_id, vault_name
from ._utils import delete_existing, get_existing
from ._wire import MANAGED_IDENTITY, ExportRun, ImportRun

logger = get_logger(__name__)

RUN_FAILED = "Pipeline run '{name}' failed: {message}"
RUN_STILL_GOING = ("Pipeline run '{name}' failed: the service ended its operation {status} without an error message, "
                   "and the run reads '{state}'. Its own message may follow: az acr pipeline-run show -n {name}")
RUN_STARTED = "Pipeline run '%s' is running (%s of blob '%s'); waiting until it finishes."
NOTHING_STARTED = ("Nothing was started: a run '%s' with these parameters exists; add --force-redeploy to run it "
                   "again.")
WAIT_TIMED_OUT = "Timed out waiting for pipeline run '{name}': it is still {status}."
KEY_VAULT_HINT = ("Hint: the pipeline's identity could not read the SAS token secret. Grant it 'get' on secrets "
                  "(az keyvault set-policy --name {vault} --secret-permissions get --object-id {principal}) or the "
                  "'Key Vault Secrets User' role.")
STORAGE_SAS_HINT = ("Hint: storage refused the SAS token. Check that it has not expired, grants the permissions "
                    "the run needs (export: read, write, list, create, add; import: read, list, and delete with "
                    "DeleteSourceBlobOnSuccess), covers service, container and object (srt=sco), and that the "
                    "account accepts it over https.")
STORAGE_ROLE_HINT = ("Hint: storage refused the pipeline's managed identity. Assign it 'Storage Blob Data "
                     "Contributor' (export, or import with DeleteSourceBlobOnSuccess) or 'Storage Blob Data "
                     "Reader' (import) on the storage account.")
TERMINAL_STATES = ('Succeeded', 'Failed', 'Canceled')
CLEAN_SUMMARY = 'Deleted {deleted} failed pipeline-run(s); {failed} deletion(s) failed.'
# At most as many deletions in flight as the client keeps connections (_client.CONNECTIONS_PER_HOST).
DEFAULT_CLEAN_CONCURRENCY = 16
MAX_CLEAN_CONCURRENCY = 16
CLEAN_CONCURRENCY_CONFIG = ('acrtransfer', 'clean_concurrency')
BAD_CLEAN_CONCURRENCY = ("Invalid acrtransfer.clean_concurrency '{value}': give a number of deletions in flight "
                         "from 1 to {maximum}, e.g. az config set acrtransfer.clean_concurrency=4")
_FORBIDDEN_MARKERS = ('403', 'forbidden', 'authorizationfailure', 'authorizationpermissionmismatch',
                      'authenticationfailed', 'not authorized', 'does not have')
_KEY_VAULT_MARKERS = ('key vault', 'keyvault', 'vault.azure', 'secret')
# When a failed operation gives no reason, the run's own message is read until the run is terminal, this often.
FAILURE_REREADS = 12
FAILURE_REREAD_INTERVAL = 5  # seconds


def create_pipeline_run(cmd, client, resource_group_name, registry_name, pipeline_name, run_name, pipeline_type,
                        storage_blob, artifacts=None, force_redeploy=False, no_wait=False, include_referrers=False):
    """GET the pipeline (its id goes into the request), PUT the run, and follow it to a terminal state.

    A PUT with the properties of an existing run starts nothing (ARM PUTs are idempotent): without
    --force-redeploy that case is told apart up front, and the existing run's outcome is the command's.
    """
    from azure.core.exceptions import HttpResponseError

    pipelines = client.export_pipelines if pipeline_type == 'export' else client.import_pipelines
    pipeline = get_existing(pipelines, resource_group_name, registry_name, pipeline_name)
    force_update_tag = datetime.now(timezone.utc).isoformat() if force_redeploy else None
    if include_referrers:   # export only (the validator says so)
        from ._product import artifacts_with_referrers
        artifacts = artifacts_with_referrers(cmd, resource_group_name, registry_name, artifacts)
    if pipeline_type == 'export':
        run = ExportRun(pipeline['id'], storage_blob, tuple(artifacts), force_update_tag)
    else:
        run = ImportRun(pipeline['id'], storage_blob, force_update_tag)
    body = run.to_wire()

    if not force_redeploy:
        existing = _existing_run(client, resource_group_name, registry_name, run_name)
        if existing is not None and same_request(existing, body):
            logger.warning(NOTHING_STARTED, run_name)
            if no_wait:
                return None
            return follow_existing_run(cmd, client, resource_group_name, registry_name, existing, pipeline)

    progress = None if no_wait else RunProgress(cmd.cli_ctx, run_name)

    def show_progress():
        # After each status check of the operation (the outcome), the run itself, for its progress.
        progress.update(_read_quietly(client, resource_group_name, registry_name, run_name))

    poller = client.pipeline_runs.begin_create_or_update(resource_group_name, registry_name, run_name, body,
                                                         no_wait=no_wait, on_status=None if no_wait else show_progress)
    if no_wait:
        return None
    logger.warning(RUN_STARTED, run_name, pipeline_type, storage_blob)
    try:
        result = poller.result()
    except HttpResponseError as error:
        result = run_after_failed_polling(client, resource_group_name, registry_name, run_name, pipeline, error)
    finally:
        progress.end()
    return outcome(result, pipeline)


def _existing_run(client, resource_group_name, registry_name, run_name):
    from azure.core.exceptions import ResourceNotFoundError as HttpNotFound
    try:
        return client.pipeline_runs.get(resource_group_name, registry_name, run_name)
    except HttpNotFound:
        return None


def same_request(existing, body):
    """Whether a PUT of `body` would leave the existing run as it is: same pipeline, blob and artifacts."""
    def key(request):
        blob = (request.get('target') or request.get('source') or {}).get('name')
        return ((request.get('pipelineResourceId') or '').lower(), blob, list(request.get('artifacts') or []))
    existing_request = ((existing.get('properties') or {}).get('request')) or {}
    return key(existing_request) == key(body['properties']['request'])


def follow_existing_run(cmd, client, resource_group_name, registry_name, run, pipeline, deadline=None):
    """Read an existing run until it ends (or `deadline`, a time.monotonic() value, passes), showing progress."""
    progress = RunProgress(cmd.cli_ctx, run['name'])
    try:
        while is_running(flatten_resource(run)):
            progress.update(run)
            pause = DEFAULT_POLLING_INTERVAL
            if deadline is not None:
                if time.monotonic() >= deadline:
                    raise UnclassifiedUserFault(WAIT_TIMED_OUT.format(name=run['name'],
                                                                      status=run_status(flatten_resource(run))))
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(pause)
            run = client.pipeline_runs.get(resource_group_name, registry_name, run['name'])
    finally:
        progress.end()
    return outcome(run, pipeline)


def _read_quietly(client, resource_group_name, registry_name, run_name):
    """The run for its progress; a failed read only means no progress this time (the outcome is polled apart)."""
    try:
        return client.pipeline_runs.get(resource_group_name, registry_name, run_name)
    except AzureError:
        return None


def outcome(run, pipeline):
    """The run when it succeeded; its error message (and a hint) as a non-zero exit when it failed."""
    if is_failed(run):
        raise AzureResponseError(describe_failure(run, pipeline))
    return run


def run_after_failed_polling(client, resource_group_name, registry_name, run_name, pipeline, error,
                             rereads=FAILURE_REREADS, interval=None):
    """Polling ended in an error: the failed operation's code and message when the service gave them, else the
    run's own message, read until the run is terminal (a bounded number of times)."""
    from ._client import AsyncOperationFailed
    if isinstance(error, AsyncOperationFailed) and error.service_message:
        reason = '({}) {}'.format(error.code, error.service_message) if error.code else error.service_message
        raise AzureResponseError(describe_failure({'name': run_name, 'properties': {
            'response': {'pipelineRunErrorMessage': reason}}}, pipeline))
    run = client.pipeline_runs.get(resource_group_name, registry_name, run_name)
    if not isinstance(error, AsyncOperationFailed):
        if is_failed(run):
            return run
        raise error
    for _ in range(rereads):
        if is_terminal(run):
            break
        time.sleep(FAILURE_REREAD_INTERVAL if interval is None else interval)
        run = client.pipeline_runs.get(resource_group_name, registry_name, run_name)
    if is_failed(run):
        return run
    raise AzureResponseError(RUN_STILL_GOING.format(name=run_name, status=error.status,
                                                    state=run_state(run) or 'unknown'))


def run_state(run):
    properties = (run or {}).get('properties') or {}
    return (properties.get('response') or {}).get('status') or properties.get('provisioningState')


def is_terminal(run):
    properties = (run or {}).get('properties') or {}
    return properties.get('provisioningState') in TERMINAL_STATES or \
        (properties.get('response') or {}).get('status') in TERMINAL_STATES


def is_failed(run):
    properties = (run or {}).get('properties') or {}
    return 'Failed' in (properties.get('provisioningState'), (properties.get('response') or {}).get('status'))


def pipeline_storage(pipeline):
    properties = pipeline.get('properties') or {}
    return properties.get('target') or properties.get('source') or {}


def describe_failure(run, pipeline):
    """The run's own error message, and a hint when the cause is a known one (redacted on its way out by the
    commands' exception handler, see _redact.py)."""
    message = ((run.get('properties') or {}).get('response') or {}).get('pipelineRunErrorMessage') \
        or 'the service gave no error message'
    text = RUN_FAILED.format(name=run.get('name'), message=message)
    hint = failure_hint(message, pipeline)
    return '{}\n{}'.format(text, hint) if hint else text


def failure_hint(message, pipeline):
    """One line for the causes operators hit most: Key Vault access, SAS problems, missing storage roles."""
    lowered = message.lower()
    if not any(marker in lowered for marker in _FORBIDDEN_MARKERS):
        return None
    storage = pipeline_storage(pipeline)
    if any(marker in lowered for marker in _KEY_VAULT_MARKERS):
        return KEY_VAULT_HINT.format(vault=vault_name(storage.get('keyVaultUri')), principal=principal_id(pipeline))
    return STORAGE_ROLE_HINT if storage.get('storageAccessMode') == MANAGED_IDENTITY else STORAGE_SAS_HINT


def show_pipeline_run(client, resource_group_name, registry_name, run_name):
    return get_existing(client.pipeline_runs, resource_group_name, registry_name, run_name)


def list_pipeline_runs(client, resource_group_name, registry_name, top=None, pipeline_name=None, status=None):
    """Newest first by start time (runs not started yet last), filtered by pipeline and status, then --top."""
    runs = sorted(client.pipeline_runs.list(resource_group_name, registry_name), key=start_time_of, reverse=True)
    if pipeline_name:
        runs = [run for run in runs if run_pipeline_name(run).lower() == pipeline_name.lower()]
    if status:
        runs = [run for run in runs if filter_state(flatten_resource(run)) == status]
    return runs[:top] if top is not None else runs


def run_pipeline_name(run):
    request = ((run.get('properties') or {}).get('request')) or {}
    return (request.get('pipelineResourceId') or '').rstrip('/').rsplit('/', 1)[-1]


def filter_state(flat_run):
    """Succeeded, Failed, Canceled or Running: what --status filters on."""
    if is_running(flat_run):
        return 'Running'
    return (flat_run.get('response') or {}).get('status') or flat_run.get('provisioningState')


def delete_pipeline_run(client, resource_group_name, registry_name, run_name):
    delete_existing(client.pipeline_runs, resource_group_name, registry_name, run_name)


def clean_pipeline_runs(cmd, client, resource_group_name, registry_name, dry_run=False):
    """Delete every run whose provisioningState is Failed, several at a time, waiting for each deletion to end
    (200, 204, or 202 + Location followed to its end); with --dry-run only list them."""
    concurrency = clean_concurrency(cmd.cli_ctx)  # a bad setting is refused before any request
    failed = [run for run in client.pipeline_runs.list(resource_group_name, registry_name)
              if (run.get('properties') or {}).get('provisioningState') == 'Failed']
    if dry_run:
        logger.warning('%d failed pipeline-run(s) would be deleted.', len(failed))
        return failed
    names = [run['name'] for run in failed]
    errors = delete_runs(client, resource_group_name, registry_name, names, concurrency)
    deleted = [name for name in names if name not in errors]
    summary = CLEAN_SUMMARY.format(deleted=len(deleted), failed=len(errors))
    if errors:
        raise AzureResponseError('{}\n{}'.format(summary, '\n'.join(
            '{}: {}'.format(name, errors[name]) for name in names if name in errors)))
    logger.warning(summary)
    return {'deleted': len(deleted), 'failed': 0, 'deletedRuns': deleted}


def clean_concurrency(cli_ctx):
    """How many deletions `clean` keeps in flight: `az config set acrtransfer.clean_concurrency=<1-16>` or
    AZURE_ACRTRANSFER_CLEAN_CONCURRENCY (1 deletes one run after the other)."""
    section, option = CLEAN_CONCURRENCY_CONFIG
    value = cli_ctx.config.get(section, option, None)
    try:
        concurrency = int(value) if value not in (None, '') else DEFAULT_CLEAN_CONCURRENCY
    except ValueError:
        concurrency = 0
    if not 1 <= concurrency <= MAX_CLEAN_CONCURRENCY:
        raise InvalidArgumentValueError(BAD_CLEAN_CONCURRENCY.format(value=value, maximum=MAX_CLEAN_CONCURRENCY))
    return concurrency


def delete_runs(client, resource_group_name, registry_name, names, concurrency):
    """DELETE the runs, at most `concurrency` at a time, each followed to its end; {name: error text} of those
    whose deletion failed."""
    from concurrent.futures import ThreadPoolExecutor

    def delete(name):
        try:
            client.pipeline_runs.begin_delete(resource_group_name, registry_name, name).result()
            return name, None
        except (AzureError, AzCLIError) as error:
            return name, (getattr(error, 'message', None) or str(error)).strip().splitlines()[0]

    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(names))) as pool:
        return {name: error for name, error in pool.map(delete, names) if error is not None}
