# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr pipeline-run: start an export or import run and follow it; show, list, delete and clean runs."""

import time
from datetime import datetime, timezone

from azure.cli.core.azclierror import AzCLIError, AzureResponseError, InvalidArgumentValueError, UnclassifiedUserFault
from azure.core.exceptions import AzureError
from knack.log import get_logger

from . import _runs
from ._access_guidance import (KEY_VAULT_ROLE, SET_POLICY_COMMAND, STORAGE_READER_ROLE, STORAGE_WRITER_ROLE,
                               principal_id, vault_name)
from ._client import DEFAULT_POLLING_INTERVAL, is_transient
from ._existing import delete_existing, get_existing
from ._format import start_time_of
from ._progress import RunProgress
from ._wire import MANAGED_IDENTITY, ExportRun, ImportRun

logger = get_logger(__name__)

RUN_FAILED = "Pipeline run '{name}' failed: {message}"
RUN_CANCELED = "Pipeline run '{name}' was canceled: {message}"
RUN_STILL_GOING = ("Pipeline run '{name}' failed: {operation}; the run still reads '{state}'. Its own message may "
                   "follow: az acr pipeline-run show -n {name}")
RUN_STARTED = "Pipeline run '%s' is running (%s of blob '%s'); waiting until it finishes."
NOTHING_STARTED = ("Nothing was started: a run '%s' with these parameters exists; add --force-redeploy to run it "
                   "again.")
WAIT_TIMED_OUT = "Timed out waiting for pipeline run '{name}': it is still {status}."
KEY_VAULT_HINT = ("Hint: the pipeline's identity could not read the SAS token secret. Grant it 'get' on secrets "
                  "({set_policy}) or the '{role}' role.")
STORAGE_SAS_HINT = ("Hint: storage refused the SAS token. Check that it has not expired, grants the permissions "
                    "the run needs (export: read, write, list, create, add; import: read, list, and delete with "
                    "DeleteSourceBlobOnSuccess), covers service, container and object (srt=sco), and that the "
                    "account accepts it over https.")
STORAGE_ROLE_HINT = ("Hint: storage refused the pipeline's managed identity. Assign it '{writer}' (export, or import "
                     "with DeleteSourceBlobOnSuccess) or '{reader}' (import) on the storage account.")
LEFT_RUNNING = '%d pipeline-run(s) still running are left alone.'
CLEAN_SUMMARY = 'Deleted {deleted} failed pipeline-run(s); {failed} deletion(s) failed.'
CLEAN_DRY_RUN = '%d failed pipeline-run(s) would be deleted.'
CLEAN_ERROR = '{}: {}'
# At most as many deletions in flight as the client keeps connections (_client.CONNECTIONS_PER_HOST).
DEFAULT_CLEAN_CONCURRENCY = 16
MAX_CLEAN_CONCURRENCY = 16
CLEAN_CONCURRENCY_CONFIG = ('acrtransfer', 'clean_concurrency')
BAD_CLEAN_CONCURRENCY = ("Invalid acrtransfer.clean_concurrency '{value}': give a number of deletions in flight "
                         "from 1 to {maximum}, e.g. az config set acrtransfer.clean_concurrency=4")
_FORBIDDEN_MARKERS = ('403', 'forbidden', 'authorizationfailure', 'authorizationpermissionmismatch',
                      'authenticationfailed', 'not authorized', 'does not have')
_KEY_VAULT_MARKERS = ('key vault', 'keyvault', 'vault.azure', 'secret')
# After a failed operation the run is read until it is finished (for its own message), at most this often.
FAILURE_REREADS = 12


def create_pipeline_run(cmd, client, resource_group_name, registry_name, pipeline_name, run_name, pipeline_type,
                        storage_blob, artifacts=None, force_redeploy=False, no_wait=False, include_referrers=False):
    """GET the pipeline (its id goes into the request), PUT the run, and follow the run until it is finished.

    A PUT with the properties of an existing run starts nothing (ARM PUTs are idempotent): without
    --force-redeploy that case is told apart up front, and the existing run's outcome is the command's.
    """
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
        # After each status check of the operation, the run itself, for its progress.
        progress.update(_read_quietly(client, resource_group_name, registry_name, run_name))

    poller = client.pipeline_runs.begin_create_or_update(resource_group_name, registry_name, run_name, body,
                                                         no_wait=no_wait, on_status=None if no_wait else show_progress)
    if no_wait:
        return None
    logger.warning(RUN_STARTED, run_name, pipeline_type, storage_blob)
    try:
        operation_error = operation_failure(poller)
        # The operation may end long before the run (the spec's lifecycle): the run says when it is finished.
        run = follow_run(client, resource_group_name, registry_name, run_name, progress,
                         reads=FAILURE_REREADS if operation_error else None)
    finally:
        progress.end()
    return outcome(run, pipeline, operation_error)


def operation_failure(poller):
    """The PUT's operation followed to its end: the AsyncOperationFailed when it ended Failed or Canceled, else None.
    Any other polling error is left to the run's own reads, which tolerate what is transient."""
    from ._client import AsyncOperationFailed
    try:
        poller.result()
    except AsyncOperationFailed as error:
        return error
    except AzureError as error:
        logger.debug('Following the operation failed (%s); the run is read instead.', error)
    return None


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
    """Read an existing run until it is finished (or `deadline`, a time.monotonic() value, passes), showing
    progress; its outcome is the command's."""
    progress = RunProgress(cmd.cli_ctx, run['name'])
    try:
        run = follow_run(client, resource_group_name, registry_name, run['name'], progress, run=run, deadline=deadline)
    finally:
        progress.end()
    return outcome(run, pipeline)


def follow_run(client, resource_group_name, registry_name, run_name, progress, run=None, deadline=None, reads=None):
    """GET the run at the service's pace (its Retry-After, else DEFAULT_POLLING_INTERVAL) until _runs.is_finished,
    showing its progress; the finished run. `run`: the run as last read, if any. `deadline` (time.monotonic()):
    WAIT_TIMED_OUT when it passes. `reads`: at most this many GETs, then the run as last read, finished or not.
    A read that fails transiently is asked again, up to _runs.MAX_FAILED_READS in a row."""
    pause, failed_reads = (0 if run is None else DEFAULT_POLLING_INTERVAL), 0
    while run is None or not _runs.is_finished(run):
        if run is not None:
            progress.update(run)
        if reads is not None:
            if reads <= 0:
                return run
            reads -= 1
        if deadline is not None:
            if time.monotonic() >= deadline:
                raise UnclassifiedUserFault(WAIT_TIMED_OUT.format(name=run_name, status=_runs.display_status(run)))
            pause = max(0.0, min(pause, deadline - time.monotonic()))
        time.sleep(pause)
        try:
            run, retry_after = client.pipeline_runs.get_paced(resource_group_name, registry_name, run_name)
        except (AzureError, AzCLIError) as error:
            failed_reads += 1
            if not is_transient(error) or failed_reads >= _runs.MAX_FAILED_READS:
                raise
            logger.debug('Reading pipeline run %s failed (%s); asking again.', run_name, error)
            pause = DEFAULT_POLLING_INTERVAL
            continue
        failed_reads = 0
        pause = DEFAULT_POLLING_INTERVAL if retry_after is None else retry_after
    return run


def _read_quietly(client, resource_group_name, registry_name, run_name):
    """The run for its progress; a failed read only means no progress this time (the outcome is read apart)."""
    try:
        return client.pipeline_runs.get(resource_group_name, registry_name, run_name)
    except AzureError:
        return None


def outcome(run, pipeline, operation_error=None):
    """The run when it succeeded; a non-zero exit with every word of the reason (and a hint) when it failed, was
    canceled, or its operation failed."""
    failure = failure_message(run, pipeline, operation_error)
    if failure:
        raise AzureResponseError(failure)
    return run


def failure_message(run, pipeline, operation_error=None):
    """Why the run (or its operation) did not succeed, or None when it succeeded."""
    if operation_error is None and _runs.outcome(run) == _runs.SUCCEEDED:
        return None
    if not _runs.is_finished(run):   # the operation failed, and the run still runs after the rereads
        return RUN_STILL_GOING.format(name=run.get('name'), operation=str(operation_error),
                                      state=_runs.display_status(run))
    return describe_failure(run, pipeline, operation_error)


def pipeline_storage(pipeline):
    properties = pipeline.get('properties') or {}
    return properties.get('target') or properties.get('source') or {}


def describe_failure(run, pipeline, operation_error=None):
    """Every word of why the run did not succeed (_runs.failure_text), and a hint when the cause is a known one
    (redacted on its way out by the commands' exception handler, see _redact.py)."""
    message = _runs.failure_text(run, getattr(operation_error, 'code', None),
                                 getattr(operation_error, 'service_message', None))
    template = RUN_CANCELED if _runs.outcome(run) == _runs.CANCELED else RUN_FAILED
    text = template.format(name=run.get('name'), message=message)
    hint = failure_hint(message, pipeline)
    return '{}\n{}'.format(text, hint) if hint else text


def failure_hint(message, pipeline):
    """One line for the causes operators hit most: Key Vault access, SAS problems, missing storage roles."""
    lowered = message.lower()
    if not any(marker in lowered for marker in _FORBIDDEN_MARKERS):
        return None
    storage = pipeline_storage(pipeline)
    if any(marker in lowered for marker in _KEY_VAULT_MARKERS):
        set_policy = SET_POLICY_COMMAND.format(vault=vault_name(storage.get('keyVaultUri')),
                                               principal=principal_id(pipeline))
        return KEY_VAULT_HINT.format(set_policy=set_policy, role=KEY_VAULT_ROLE)
    if storage.get('storageAccessMode') == MANAGED_IDENTITY:
        return STORAGE_ROLE_HINT.format(writer=STORAGE_WRITER_ROLE, reader=STORAGE_READER_ROLE)
    return STORAGE_SAS_HINT


def show_pipeline_run(client, resource_group_name, registry_name, run_name):
    return get_existing(client.pipeline_runs, resource_group_name, registry_name, run_name)


def list_pipeline_runs(client, resource_group_name, registry_name, top=None, pipeline_name=None, status=None):
    """Newest first by start time (runs not started yet last), filtered by pipeline and status, then --top."""
    found = sorted(client.pipeline_runs.list(resource_group_name, registry_name), key=start_time_of, reverse=True)
    if pipeline_name:
        found = [run for run in found if run_pipeline_name(run).lower() == pipeline_name.lower()]
    if status:
        found = [run for run in found if _runs.outcome(run) == status]
    return found[:top] if top is not None else found


def run_pipeline_name(run):
    request = ((run.get('properties') or {}).get('request')) or {}
    return (request.get('pipelineResourceId') or '').rstrip('/').rsplit('/', 1)[-1]


def delete_pipeline_run(client, resource_group_name, registry_name, run_name):
    delete_existing(client.pipeline_runs, resource_group_name, registry_name, run_name)


def clean_pipeline_runs(cmd, client, resource_group_name, registry_name, dry_run=False):
    """Delete exactly the failed runs (_runs.failed_runs), several at a time, waiting for each deletion to end
    (200, 204, or 202 + Location followed to its end); a run still running is never touched, and the command says
    how many it left alone. With --dry-run only list them."""
    concurrency = clean_concurrency(cmd.cli_ctx)  # a bad setting is refused before any request
    listed = list(client.pipeline_runs.list(resource_group_name, registry_name))
    failed = _runs.failed_runs(listed)
    still_running = sum(1 for run in listed if not _runs.is_finished(run))
    if still_running:
        logger.warning(LEFT_RUNNING, still_running)
    if dry_run:
        logger.warning(CLEAN_DRY_RUN, len(failed))
        return failed
    names = [run['name'] for run in failed]
    errors = delete_runs(client, resource_group_name, registry_name, names, concurrency)
    deleted = [name for name in names if name not in errors]
    summary = CLEAN_SUMMARY.format(deleted=len(deleted), failed=len(errors))
    if errors:
        lines = [CLEAN_ERROR.format(name, errors[name]) for name in names if name in errors]
        raise AzureResponseError('\n'.join([summary] + lines))
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
