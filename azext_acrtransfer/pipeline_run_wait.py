# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr pipeline-run wait: follow a run to its end, by name or as the run an import pipeline's source trigger
starts for a blob (the service starts it up to 15 minutes after the blob lands)."""

import time

from azure.cli.core.azclierror import UnclassifiedUserFault
from knack.log import get_logger

from ._client import DEFAULT_POLLING_INTERVAL
from ._existing import get_existing
from ._format import flatten_resource, start_time_of, started_by_source_trigger
from .pipeline_run import follow_existing_run, run_pipeline_name

logger = get_logger(__name__)

# The service's source trigger looks for new blobs at least every 15 minutes.
TRIGGER_DELAY_SECONDS = 15 * 60
WAITING_FOR_TRIGGER = ("Waiting for the source trigger of import pipeline '%s' to start a run for blob '%s' "
                       "(up to %d seconds).")
NO_TRIGGERED_RUN = ("No run of import pipeline '{pipeline}' for blob '{blob}' appeared within {seconds} seconds. "
                    "Check that the pipeline's source trigger is Enabled and that the blob carries the metadata "
                    "category=acr-transfer-blob and a Content-MD5.")


def wait_pipeline_run(cmd, client, resource_group_name, registry_name, run_name=None, pipeline_name=None,
                      storage_blob=None, timeout=None):
    """Wait until the run ends; its outcome is the command's (non-zero exit with the message when it failed)."""
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    if run_name:
        run = get_existing(client.pipeline_runs, resource_group_name, registry_name, run_name)
        pipeline = _pipeline_of(client, resource_group_name, registry_name, run)
    else:
        pipeline = get_existing(client.import_pipelines, resource_group_name, registry_name, pipeline_name)
        appear_by = deadline if deadline is not None else started + TRIGGER_DELAY_SECONDS
        run = _wait_for_triggered_run(client, resource_group_name, registry_name, pipeline_name, storage_blob,
                                      appear_by)
    return follow_existing_run(cmd, client, resource_group_name, registry_name, run, pipeline, deadline)


def _pipeline_of(client, resource_group_name, registry_name, run):
    """The run's pipeline, for the failure hint; a run may outlive its pipeline, then there is no hint."""
    from azure.core.exceptions import HttpResponseError
    request = ((run.get('properties') or {}).get('request')) or {}
    operations = client.import_pipelines if 'source' in request else client.export_pipelines
    try:
        return operations.get(resource_group_name, registry_name, run_pipeline_name(run))
    except HttpResponseError:
        return {}


def triggered_runs_for_blob(runs, pipeline_name, blob):
    """The source-triggered runs of the pipeline for the blob, newest first."""
    matching = [run for run in runs
                if run_pipeline_name(run).lower() == pipeline_name.lower()
                and ((((run.get('properties') or {}).get('request')) or {}).get('source') or {}).get('name') == blob
                and started_by_source_trigger(flatten_resource(run))]
    return sorted(matching, key=start_time_of, reverse=True)


def _wait_for_triggered_run(client, resource_group_name, registry_name, pipeline_name, blob, appear_by):
    seconds = max(0, int(round(appear_by - time.monotonic())))
    logger.warning(WAITING_FOR_TRIGGER, pipeline_name, blob, seconds)
    while True:
        runs = triggered_runs_for_blob(client.pipeline_runs.list(resource_group_name, registry_name),
                                       pipeline_name, blob)
        if runs:
            return runs[0]
        remaining = appear_by - time.monotonic()
        if remaining <= 0:
            raise UnclassifiedUserFault(NO_TRIGGERED_RUN.format(pipeline=pipeline_name, blob=blob, seconds=seconds))
        time.sleep(min(DEFAULT_POLLING_INTERVAL, remaining))
