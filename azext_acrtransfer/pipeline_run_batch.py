# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr pipeline-run create-batch: any number of artifacts (or blobs) as batches of runs of at most 50, run
concurrently, resumable, with a manifest of what went into which blob.

Planning and the per-batch decisions are pure (_batch_plan.py); this module gathers the input, asks ARM what
already exists, runs what needs running and reports. Every batch is decided before the first PUT, so bad input
or a missing pipeline stops the command before anything starts.
"""

import json
import os
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from azure.cli.core.azclierror import AzCLIError, AzureResponseError, InvalidArgumentValueError
from knack.log import get_logger

from . import _batch_plan as plan
from . import _product
from . import _runs
from ._client import is_transient
from ._existing import get_existing
from ._redact import redact
from ._validators import DEFAULT_MAX_CONCURRENT_RUNS, normalize_artifact, read_batch_manifest
from ._wire import ExportRun, ImportRun
from .pipeline_run import FAILURE_REREADS, failure_message, operation_failure

logger = get_logger(__name__)

PROGRESS_INTERVAL = 10  # seconds between progress lines, and between GETs of the running runs for their progress

BATCH_PLANNED = "%(kind)s batch of %(runs)d run(s) with pipeline '%(pipeline)s': %(summary)s."
BATCH_DECISION = "  %(run)s (blob '%(blob)s'%(artifacts)s): %(action)s, %(reason)s."
BATCH_PROGRESS = "Batch: {done}/{total} run(s) done ({failed} failed), {running}{waiting} waiting."
RUNNING = "running: {}; "
BATCH_RUN_ENDED = "  %(run)s: %(status)s%(detail)s."
BATCH_FAILED = ("{failed} of {total} batch(es) failed:\n{details}\nThe other batches finished. Fix the cause and run "
                "the same command again: it skips the batches that succeeded and runs the failed ones again.")
NO_MATCHING_TAGS = "No tag of repository '{repository}' matches --tag-filter '{pattern}' ({count} tag(s) listed)."
NOTHING_CHANGED = ("Nothing changed since --since-manifest '%s': no run was started and no manifest written; the "
                   "base manifest still describes the target.")
REFERRERS_FOUND = "  %(reference)s (%(digest)s): %(count)d referrer(s)%(listing)s"
UNCHANGED = "Unchanged since the base manifest, not exported: %s."
NO_TAGS = "Repository '{repository}' has no tags."
NOT_STARTED = 'the run could not be started: {}'
STATE_UNREADABLE = 'its state could not be read: {}'
NOT_EXPORTED = "its export did not succeed (status {status}), so there is no blob to import"
INTERRUPTED = ("Interrupted: the runs already started go on in the service. Run the same command again to follow "
               "them and start the rest.")
TRIGGER_ENABLED = ("Import pipeline '%s' has its source trigger enabled: the service may start its own run for a "
                   "blob this batch imports, and import it twice. A blob it has already imported is skipped here.")
ACTION_WORDS = {plan.CREATE: 'start', plan.RERUN: 'run again', plan.SKIP: 'skip', plan.FOLLOW: 'wait for it',
                plan.TRIGGERED: 'skip', plan.CONFLICT: 'cannot start'}


@dataclass
class Outcome:
    batch: plan.Batch
    action: str
    status: str
    run: Optional[dict] = None
    error: Optional[str] = None

    @property
    def failed(self):
        return self.status != plan.SUCCEEDED


def create_pipeline_run_batch(cmd, client, resource_group_name, registry_name, pipeline_name, name_prefix,
                              pipeline_type='export', storage_blob_prefix=None, artifacts=None,
                              artifacts_file=None,  # pylint: disable=unused-argument
                              repository=None, tag_filter=None, storage_blobs=None, manifest_file=None,
                              max_concurrent_runs=None, dry_run=False, include_referrers=False, since_manifest=None):
    """Arguments arrive validated: --artifacts and --artifacts-file merged into `artifacts`, normalised, deduped."""
    export = pipeline_type != 'import'
    pipelines = client.export_pipelines if export else client.import_pipelines
    pipeline = get_existing(pipelines, resource_group_name, registry_name, pipeline_name)
    selection = None
    if export:
        references = list(artifacts or []) + _repository_tags(cmd, resource_group_name, registry_name,
                                                              repository or [], tag_filter)
        if include_referrers or since_manifest or manifest_file:   # the manifest records each reference's digest
            selection = _product.export_selection(cmd, resource_group_name, registry_name, references,
                                                  include_referrers, since_manifest)
            if not selection.products:
                logger.warning(NOTHING_CHANGED, since_manifest)
                return []
        batches, not_exported = _export_batches(name_prefix, storage_blob_prefix, references, selection), []
    else:
        batches, not_exported = _import_batches(name_prefix, storage_blobs, manifest_file)

    runs = list(client.pipeline_runs.list(resource_group_name, registry_name))
    by_name = {run.get('name'): run for run in runs}
    decisions = [plan.decide_export(batch, pipeline['id'], by_name.get(batch.run_name)) if export
                 else plan.decide_import(batch, pipeline['id'], by_name.get(batch.run_name), runs)
                 for batch in batches]
    _log_plan(pipeline_type, pipeline_name, batches, decisions, not_exported)
    if not export and _trigger_enabled(pipeline) and any(d.action in (plan.CREATE, plan.RERUN) for d in decisions):
        logger.warning(TRIGGER_ENABLED, pipeline_name)
    if dry_run:
        return [_planned(batch, decision) for batch, decision in zip(batches, decisions)]

    manifest = _ManifestWriter(manifest_file if export else None, pipeline_name, pipeline_type, registry_name)
    if selection is not None:
        manifest.extra = _product.manifest_section(selection, batches)
    runner = _BatchRunner(client, resource_group_name, registry_name, pipeline, export,
                          max_concurrent_runs or DEFAULT_MAX_CONCURRENT_RUNS, manifest.record)
    try:
        outcomes = runner.run(list(zip(batches, decisions)))
    except KeyboardInterrupt:
        logger.warning(INTERRUPTED)
        raise
    outcomes += [
        Outcome(batch, plan.SKIP, status, error=NOT_EXPORTED.format(status=status)) for batch, status in not_exported]
    outcomes.sort(key=lambda outcome: outcome.batch.index)
    _raise_if_any_failed(outcomes)
    return [outcome.run for outcome in outcomes]


def _raise_if_any_failed(outcomes):
    failed = [outcome for outcome in outcomes if outcome.failed]
    if failed:
        raise AzureResponseError(BATCH_FAILED.format(failed=len(failed), total=len(outcomes), details='\n'.join(
            "  {} (blob '{}'): {}".format(o.batch.run_name, o.batch.blob, o.error or o.status) for o in failed)))


# ---- input ----------------------------------------------------------------------------------------------------

def _repository_tags(cmd, resource_group_name, registry_name, repositories, tag_filter):
    """`<repository>:<tag>` for the tags of each repository the filter finds, listed on the registry's data plane."""
    if not repositories:
        return []
    from ._registry import RegistryDataClient, registry_login_server
    registry = RegistryDataClient(cmd.cli_ctx, registry_login_server(cmd, resource_group_name, registry_name))
    references = []
    for repository in repositories:
        tags = registry.list_tags(repository)
        chosen = plan.matching_tags(tags, tag_filter)
        if not chosen:
            raise InvalidArgumentValueError(NO_MATCHING_TAGS.format(repository=repository, pattern=tag_filter,
                                                                    count=len(tags)) if tags and tag_filter
                                            else NO_TAGS.format(repository=repository))
        references += [normalize_artifact('{}:{}'.format(repository, tag)) for tag in chosen]
    return references


def _export_batches(name_prefix, storage_blob_prefix, references, selection):
    """Artifacts 50 a run; with a selection, each image with its referrers in one run, the unchanged left out."""
    if selection is None:
        return plan.plan_export(name_prefix, storage_blob_prefix, references)
    _log_selection(selection)
    return _product.plan_batches(name_prefix, storage_blob_prefix, selection.products)


def _trigger_enabled(pipeline):
    trigger = ((pipeline.get('properties') or {}).get('trigger') or {}).get('sourceTrigger') or {}
    return trigger.get('status') == 'Enabled'


def _import_batches(name_prefix, storage_blobs, manifest_file):
    """(batches, [(batch, status)] of the manifest's batches that have no blob because their export failed)."""
    if not manifest_file:
        return plan.plan_import_from_blobs(name_prefix, storage_blobs), []
    batches, unexported = plan.plan_import_from_manifest(name_prefix, read_batch_manifest(manifest_file))
    return batches, [(_not_exported_batch(name_prefix, entry), entry['status']) for entry in unexported]


def _not_exported_batch(name_prefix, entry):
    return plan.Batch(entry['index'], plan.run_name_for(name_prefix, entry['index']), entry['blob'],
                      tuple(entry.get('artifacts') or ()))


# ---- reporting ------------------------------------------------------------------------------------------------

def _log_plan(pipeline_type, pipeline_name, batches, decisions, not_exported):
    counts = {}
    for decision in decisions:
        counts[decision.action] = counts.get(decision.action, 0) + 1
    summary = ', '.join('{} {}'.format(count, ACTION_WORDS[action]) for action, count in sorted(counts.items()))
    if not_exported:
        summary += '{}{} not exported'.format(', ' if summary else '', len(not_exported))
    logger.warning(BATCH_PLANNED, {'kind': pipeline_type.capitalize(), 'runs': len(batches) + len(not_exported),
                                   'pipeline': pipeline_name, 'summary': summary or 'nothing to do'})
    for batch, decision in zip(batches, decisions):
        artifacts = ', {} artifact(s)'.format(len(batch.artifacts)) if batch.artifacts else ''
        logger.warning(BATCH_DECISION, {'run': batch.run_name, 'blob': batch.blob, 'artifacts': artifacts,
                                        'action': ACTION_WORDS[decision.action], 'reason': decision.reason})
    for batch, status in not_exported:
        logger.warning(BATCH_DECISION, {'run': batch.run_name, 'blob': batch.blob, 'artifacts': '',
                                        'action': 'cannot import', 'reason': NOT_EXPORTED.format(status=status)})


def _log_selection(selection):
    if selection.include_referrers:
        for product in selection.products:
            listing = ''.join('\n    {} ({}, {})'.format(referrer.reference, referrer.artifact_type, referrer.scheme)
                              for referrer in product.referrers)
            logger.warning(REFERRERS_FOUND, {'reference': product.reference, 'digest': product.digest,
                                             'count': len(product.referrers), 'listing': listing})
    if selection.unchanged:
        logger.warning(UNCHANGED, ', '.join(product.reference for product in selection.unchanged))


def _planned(batch, decision):
    """What --dry-run lists for a batch."""
    return {'index': batch.index, 'name': batch.run_name, 'storageBlob': batch.blob,
            'artifacts': list(batch.artifacts), 'action': decision.action, 'reason': decision.reason}


class _ManifestWriter:
    """The export manifest, rewritten (atomically) each time a batch ends, so it is right even if the command is
    interrupted."""

    def __init__(self, path, pipeline_name, pipeline_type, registry_name):
        self.path = path
        self.header = (pipeline_name, pipeline_type, registry_name)
        self.entries = {}
        self.extra = {}
        self.lock = threading.Lock()

    def record(self, outcome):
        if not self.path:
            return
        with self.lock:
            # The manifest crosses the boundary with the blobs: a SAS signature a service message quotes stays here.
            self.entries[outcome.batch.index] = plan.manifest_entry(outcome.batch, outcome.status, outcome.run,
                                                                    redact(outcome.error))
            manifest = plan.build_manifest(*self.header, list(self.entries.values()))
            manifest.update(self.extra)
            directory = os.path.dirname(os.path.abspath(self.path))
            handle, temporary = tempfile.mkstemp(prefix='.manifest-', dir=directory)
            with os.fdopen(handle, 'w', encoding='utf-8') as stream:
                json.dump(manifest, stream, indent=2)
                stream.write('\n')
            os.replace(temporary, self.path)


# ---- running --------------------------------------------------------------------------------------------------

class _Active:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """A batch whose run is going: started by us (poller) or found running (followed by GET)."""

    def __init__(self, batch, decision, watched_name, poller=None):
        self.batch = batch
        self.decision = decision
        self.watched_name = watched_name
        self.poller = poller
        self.percent = '0'
        self.failed_reads = 0
        # Set by the poller's done-callback, which azure-core calls from the polling thread before done() is true.
        self.operation_ended = poller is None
        self.operation_error = None   # the AsyncOperationFailed of the PUT's operation, if it failed
        self.rereads = 0              # reads of a run still running after its operation failed


class _BatchRunner:  # pylint: disable=too-many-instance-attributes
    """Starts at most `limit` runs at once, refills as runs end, prints progress, and returns one Outcome per
    batch. Each started run is followed by its own LROPoller (a thread of azure-core's), which wakes the loop."""

    def __init__(self, client, resource_group_name, registry_name, pipeline, export, limit, on_outcome):
        self.client = client
        self.group = resource_group_name
        self.registry = registry_name
        self.pipeline = pipeline
        self.export = export
        self.limit = limit
        self.on_outcome = on_outcome
        self.wake = threading.Event()
        self.outcomes = []
        self.total = 0
        self.last_progress = None

    def run(self, work):
        self.total = len(work)
        waiting = deque()
        for batch, decision in work:
            if decision.action in (plan.SKIP, plan.TRIGGERED):
                self._end(Outcome(batch, decision.action, plan.SUCCEEDED, decision.run))
            elif decision.action == plan.CONFLICT:
                self._end(Outcome(batch, decision.action, plan.FAILED, decision.run, decision.reason))
            else:
                waiting.append((batch, decision))
        active = []
        while waiting or active:
            while waiting and len(active) < self.limit:
                started = self._start(*waiting.popleft())
                if started:
                    active.append(started)
            if not active:
                continue
            self.wake.wait(PROGRESS_INTERVAL)
            self.wake.clear()
            active = [item for item in active if not self._ended(item)]
            if active or waiting:
                self._progress(active, len(waiting))
        return self.outcomes

    def _start(self, batch, decision):
        from azure.core.exceptions import AzureError
        if decision.action == plan.FOLLOW:
            return _Active(batch, decision, decision.run['name'])
        force_update_tag = datetime.now(timezone.utc).isoformat() if decision.action == plan.RERUN else None
        if self.export:
            body = ExportRun(self.pipeline['id'], batch.blob, batch.artifacts, force_update_tag).to_wire()
        else:
            body = ImportRun(self.pipeline['id'], batch.blob, force_update_tag).to_wire()
        try:
            poller = self.client.pipeline_runs.begin_create_or_update(self.group, self.registry, batch.run_name, body)
        except AzureError as error:   # refused (4xx) or unreachable: this batch fails, the others go on
            self._end(Outcome(batch, decision.action, plan.FAILED, error=NOT_STARTED.format(error.message)))
            return None
        item = _Active(batch, decision, batch.run_name, poller)
        poller.add_done_callback(lambda _: self._operation_ended(item))
        return item

    def _operation_ended(self, item):
        item.operation_ended = True
        self.wake.set()

    def _ended(self, item):
        """Record the outcome if the item's run is finished (_runs.is_finished, whatever its operation said);
        refresh its progress otherwise. Reads that fail transiently are tolerated as everywhere
        (_runs.MAX_FAILED_READS in a row); a run still running FAILURE_REREADS rounds after its operation failed
        ends with the operation's error."""
        from azure.core.exceptions import AzureError
        if not item.operation_ended:
            return False
        if item.poller is not None:
            item.operation_error, item.poller = operation_failure(item.poller), None
        try:
            run = self.client.pipeline_runs.get(self.group, self.registry, item.watched_name)
        except (AzureError, AzCLIError) as error:
            item.failed_reads += 1
            if is_transient(error) and item.failed_reads < _runs.MAX_FAILED_READS:
                return False   # a read that failed says nothing about the run: ask again next round
            self._end(Outcome(item.batch, item.decision.action, plan.FAILED,
                              error=STATE_UNREADABLE.format(getattr(error, 'message', error))))
            return True
        item.failed_reads = 0
        if not _runs.is_finished(run):
            item.percent = _percent_of(run) or item.percent
            if item.operation_error is None:
                return False
            item.rereads += 1
            if item.rereads <= FAILURE_REREADS:
                return False
        state = _runs.outcome(run) if item.operation_error is None else plan.FAILED
        error = None if state == plan.SUCCEEDED else failure_message(run, self.pipeline, item.operation_error)
        self._end(Outcome(item.batch, item.decision.action, state, run, error))
        return True

    def _end(self, outcome):
        self.outcomes.append(outcome)
        self.on_outcome(outcome)
        response = ((outcome.run or {}).get('properties') or {}).get('response') or {}
        if outcome.action in (plan.SKIP, plan.TRIGGERED, plan.CONFLICT):
            return
        detail = ', {} artifact(s)'.format(len(response.get('importedArtifacts') or [])) if not outcome.failed \
            else ': {}'.format(outcome.error)
        logger.warning(BATCH_RUN_ENDED, {'run': (outcome.run or {}).get('name') or outcome.batch.run_name,
                                         'status': outcome.status, 'detail': detail})

    def _progress(self, active, waiting):
        for item in active:
            if item.poller is not None:   # poller-followed runs: one GET for their percentage
                self._refresh_percent(item)
        running = ', '.join('{} {}%'.format(item.watched_name, item.percent) for item in active)
        line = BATCH_PROGRESS.format(done=len(self.outcomes), total=self.total,
                                     failed=sum(1 for o in self.outcomes if o.failed),
                                     running=RUNNING.format(running) if running else '', waiting=waiting)
        if line != self.last_progress:   # a long run at one percentage does not repeat its line every round
            logger.warning('%s', line)
            self.last_progress = line

    def _refresh_percent(self, item):
        from azure.core.exceptions import AzureError
        try:
            run = self.client.pipeline_runs.get(self.group, self.registry, item.watched_name)
        except AzureError:
            return   # progress only: the poller decides when the run has ended
        item.percent = _percent_of(run) or item.percent


def _percent_of(run):
    percentage = _runs.progress(run)
    return None if percentage is None else str(percentage)
