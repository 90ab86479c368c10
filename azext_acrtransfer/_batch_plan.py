# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""`pipeline-run create-batch` without any I/O: which batches, what they are called, what to do with each.

The same input always gives the same batches: artifacts keep the order they were given in (duplicates dropped,
tags of a repository sorted by name), so appending artifacts only ever changes the last batches, and a batch's
run and blob names depend on its position alone. The index has a fixed width, so the names of the first batches
do not change when a batch more is needed.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Optional, Tuple

from . import _runs

MAX_ARTIFACTS_PER_RUN = 50   # the service's limit for one export run
INDEX_WIDTH = 3              # 999 batches (49,950 artifacts) before the names grow a digit
MANIFEST_FORMAT = 'acrtransfer/pipeline-run-batch-manifest/v1'

# What create-batch does with a batch
CREATE = 'create'        # no run of that name: start it
SKIP = 'skip'            # a run of that name Succeeded with the same request: nothing to do
RERUN = 'rerun'          # a run of that name Failed (or asked for something else): run it again, fresh forceUpdateTag
FOLLOW = 'follow'        # a run for this batch is in progress: wait for it
TRIGGERED = 'triggered'  # import: the source trigger already imported this blob
CONFLICT = 'conflict'    # a run of that name is in progress with another request: the batch cannot start

SUCCEEDED, FAILED, RUNNING = _runs.SUCCEEDED, _runs.FAILED, _runs.RUNNING

# Why a batch gets its action (shown per batch), and what is wrong with a manifest (in --manifest-file's error).
NEW = 'new'
ALREADY_RUNNING = 'already running'
IN_PROGRESS_OTHERWISE = 'run {} is in progress with another request'
SUCCEEDED_SAME_ARTIFACTS = 'Succeeded before with the same artifacts'
SUCCEEDED_OTHERWISE = 'Succeeded before with other artifacts or another blob or pipeline'
SUCCEEDED_SAME_BLOB = 'Succeeded before with the same blob'
ENDED_BEFORE = '{} before'
IMPORTED_BY_TRIGGER = 'already imported by source-trigger run {}'
IMPORTING_BY_TRIGGER = 'being imported by source-trigger run {}'
NOT_JSON = 'it is not JSON ({})'
NO_FORMAT = 'it has no "format": "{}"'
NOT_EXPORT_RUNS = 'it describes {} runs, not export runs'
NO_BATCHES = 'it lists no batches'
BAD_BATCH = 'batch {} needs a positive "index", a "blob" name and a "status"'
INDEX_TWICE = 'batch index {} appears twice'


@dataclass(frozen=True)
class Batch:
    index: int
    run_name: str
    blob: str
    artifacts: Tuple[str, ...] = ()          # export: the references the run exports
    catalog_digest: Optional[str] = None     # import from a manifest: the digest of the catalog the export wrote


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    run: Optional[dict] = field(default=None, compare=False)   # the existing run the decision is about


# ---- names and splitting ------------------------------------------------------------------------------------

def index_label(index):
    return str(index).zfill(INDEX_WIDTH)


def run_name_for(prefix, index):
    return '{}{}'.format(prefix, index_label(index))


def blob_name_for(prefix, index):
    return '{}-{}'.format(prefix, index_label(index))


def dedupe(values):
    """The values in their first-seen order, each once."""
    return list(dict.fromkeys(values))


def split(values, size=MAX_ARTIFACTS_PER_RUN):
    return [tuple(values[start:start + size]) for start in range(0, len(values), size)]


def plan_export(name_prefix, blob_prefix, artifacts):
    return [Batch(index, run_name_for(name_prefix, index), blob_name_for(blob_prefix, index), chunk)
            for index, chunk in enumerate(split(dedupe(artifacts)), start=1)]


def plan_import_from_blobs(name_prefix, blobs):
    return [Batch(index, run_name_for(name_prefix, index), blob)
            for index, blob in enumerate(dedupe(blobs), start=1)]


def plan_import_from_manifest(name_prefix, manifest):
    """(batches to import, export batches of the manifest that did not succeed and so have no blob to import).
    An import batch keeps the index of its export batch, so both sides' names line up."""
    batches, not_exported = [], []
    for entry in manifest['batches']:
        if entry['status'] != SUCCEEDED:
            not_exported.append(entry)
            continue
        batches.append(Batch(entry['index'], run_name_for(name_prefix, entry['index']), entry['blob'],
                             tuple(entry.get('importedArtifacts') or ()), entry.get('catalogDigest') or None))
    return batches, not_exported


# ---- input formats ------------------------------------------------------------------------------------------

def parse_artifacts_file(text):
    """(line number, reference) for each reference of an artifacts file: one a line; blank lines and everything
    after a '#' ignored (a reference never contains '#')."""
    references = []
    for number, line in enumerate(text.splitlines(), start=1):
        reference = line.split('#', 1)[0].strip()
        if reference:
            references.append((number, reference))
    return references


def matching_tags(tags, pattern=None):
    """The tags `pattern` finds (re.search: anchor it with ^ and $ for whole tags), sorted by name."""
    regex = re.compile(pattern) if pattern else None
    return sorted(tag for tag in tags if regex is None or regex.search(tag))


# ---- what to do with each batch -----------------------------------------------------------------------------

def _request(run):
    return ((run or {}).get('properties') or {}).get('request') or {}


def _same_pipeline(run, pipeline_id):
    return (_request(run).get('pipelineResourceId') or '').lower() == pipeline_id.lower()


def is_same_export(run, batch, pipeline_id):
    request = _request(run)
    return (_same_pipeline(run, pipeline_id) and (request.get('target') or {}).get('name') == batch.blob
            and sorted(request.get('artifacts') or []) == sorted(batch.artifacts))


def is_same_import(run, batch, pipeline_id):
    """Same pipeline and blob, and (when the export's manifest says) the same catalog: a blob re-exported under
    the same name is a new blob."""
    if not _same_pipeline(run, pipeline_id) or (_request(run).get('source') or {}).get('name') != batch.blob:
        return False
    found = (((run.get('properties') or {}).get('response') or {}).get('catalogDigest'))
    return batch.catalog_digest is None or found is None or found == batch.catalog_digest


def is_triggered(run):
    """Runs the source trigger starts say so in response.trigger (and carry an '_' in their name)."""
    response = ((run or {}).get('properties') or {}).get('response') or {}
    return bool(response.get('trigger')) or '_' in (run.get('name') or '')


def _follow_or_conflict(batch, existing, same):
    if same:
        return Decision(FOLLOW, ALREADY_RUNNING, existing)
    return Decision(CONFLICT, IN_PROGRESS_OTHERWISE.format(batch.run_name), existing)


def decide_export(batch, pipeline_id, existing):
    if existing is None:
        return Decision(CREATE, NEW)
    state, same = _runs.outcome(existing), is_same_export(existing, batch, pipeline_id)
    if state == RUNNING:
        return _follow_or_conflict(batch, existing, same)
    if state == SUCCEEDED and same:
        return Decision(SKIP, SUCCEEDED_SAME_ARTIFACTS, existing)
    if state == SUCCEEDED:
        return Decision(RERUN, SUCCEEDED_OTHERWISE, existing)
    return Decision(RERUN, ENDED_BEFORE.format(state), existing)


def decide_import(batch, pipeline_id, existing, runs):
    """`existing`: the run named after the batch, or None; `runs`: every run of the registry, for triggered ones.
    A blob imported once, by an earlier batch run or by the source trigger, is not imported again."""
    if existing is not None and _runs.outcome(existing) == SUCCEEDED and is_same_import(existing, batch, pipeline_id):
        return Decision(SKIP, SUCCEEDED_SAME_BLOB, existing)
    triggered = [run for run in runs if is_triggered(run) and run.get('name') != batch.run_name
                 and is_same_import(run, batch, pipeline_id)]
    imported = next((run for run in triggered if _runs.outcome(run) == SUCCEEDED), None)
    if imported is not None:
        return Decision(TRIGGERED, IMPORTED_BY_TRIGGER.format(imported['name']), imported)
    if existing is not None and _runs.outcome(existing) == RUNNING:
        return _follow_or_conflict(batch, existing, is_same_import(existing, batch, pipeline_id))
    importing = next((run for run in triggered if _runs.outcome(run) == RUNNING), None)
    if importing is not None:
        return Decision(FOLLOW, IMPORTING_BY_TRIGGER.format(importing['name']), importing)
    return Decision(RERUN, ENDED_BEFORE.format(_runs.outcome(existing)), existing) if existing is not None \
        else Decision(CREATE, NEW)


# ---- the manifest ---------------------------------------------------------------------------------------------

def manifest_entry(batch, status, run=None, error=None):
    response = ((run or {}).get('properties') or {}).get('response') or {}
    entry = {'index': batch.index, 'runName': (run or {}).get('name') or batch.run_name, 'blob': batch.blob,
             'artifacts': list(batch.artifacts), 'importedArtifacts': list(response.get('importedArtifacts') or []),
             'catalogDigest': response.get('catalogDigest'), 'status': status}
    if error:
        entry['errorMessage'] = error
    return entry


def build_manifest(pipeline_name, pipeline_type, registry_name, entries):
    return {'format': MANIFEST_FORMAT, 'pipeline': pipeline_name, 'pipelineType': pipeline_type,
            'registry': registry_name, 'batches': sorted(entries, key=lambda entry: entry['index'])}


class ManifestError(ValueError):
    """The text is not a create-batch export manifest; the message says what is wrong."""


def parse_manifest(text):
    try:
        manifest = json.loads(text)
    except ValueError as error:
        raise ManifestError(NOT_JSON.format(error)) from None
    if not isinstance(manifest, dict) or manifest.get('format') != MANIFEST_FORMAT:
        raise ManifestError(NO_FORMAT.format(MANIFEST_FORMAT))
    if manifest.get('pipelineType') != 'export':
        raise ManifestError(NOT_EXPORT_RUNS.format(manifest.get('pipelineType')))
    batches = manifest.get('batches')
    if not isinstance(batches, list) or not batches:
        raise ManifestError(NO_BATCHES)
    seen = set()
    for position, entry in enumerate(batches, start=1):
        if not _is_manifest_entry(entry):
            raise ManifestError(BAD_BATCH.format(position))
        if entry['index'] in seen:
            raise ManifestError(INDEX_TWICE.format(entry['index']))
        seen.add(entry['index'])
    return manifest


def _is_manifest_entry(entry):
    return (isinstance(entry, dict) and isinstance(entry.get('index'), int) and entry['index'] >= 1
            and isinstance(entry.get('blob'), str) and bool(entry['blob']) and isinstance(entry.get('status'), str))
