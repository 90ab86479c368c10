# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A pipeline-run's state, decided here and nowhere else: is it finished, how did it end, how far is it, why did it
fail, which runs have failed.

A run carries two states. `provisioningState` is the resource's (was the run resource created); `response.status`
is the transfer's own. The spec's examples (PipelineRunGet, PipelineRunCreate_Export, PipelineRunList) show a run
still transferring as provisioningState Succeeded beside response.status Running, so provisioningState Succeeded
never means finished while the status says otherwise; other services (and our sandbox's default lifecycle) keep
provisioningState Creating until the run ends. Both lifecycles are read the same way:
- finished: response.status is terminal, or provisioningState is Failed or Canceled, or (no response.status at
  all) provisioningState is terminal;
- failed: either state says Failed; canceled: either says Canceled (and neither Failed).

Every function takes the run as the service returns it (fields under `properties`) or flattened by _format.py.
"""

SUCCEEDED, FAILED, CANCELED, RUNNING = 'Succeeded', 'Failed', 'Canceled', 'Running'
TERMINAL_STATES = (SUCCEEDED, FAILED, CANCELED)
# What `pipeline-run list --status` selects on: the outcome of a finished run, or Running.
OUTCOMES = (SUCCEEDED, FAILED, CANCELED, RUNNING)
NO_ERROR_MESSAGE = 'the service gave no error message'
# Reads of a run in a row that may fail (a reset, a 5xx after az's own retries) before a follower gives up: a read
# that failed says nothing about the run.
MAX_FAILED_READS = 6


def _fields(run):
    """The run's own fields, whether nested under `properties` (as served) or lifted (flattened for output)."""
    run = run if isinstance(run, dict) else {}
    properties = run.get('properties')
    return properties if isinstance(properties, dict) else run


def _response(run):
    response = _fields(run).get('response')
    return response if isinstance(response, dict) else {}


def provisioning_state(run):
    return _fields(run).get('provisioningState')


def response_status(run):
    return _response(run).get('status')


def is_finished(run):
    status, provisioning = response_status(run), provisioning_state(run)
    if status in TERMINAL_STATES or provisioning in (FAILED, CANCELED):
        return True
    return not status and provisioning in TERMINAL_STATES


def outcome(run):
    """Succeeded, Failed or Canceled for a finished run, else Running."""
    states = (provisioning_state(run), response_status(run))
    if FAILED in states:
        return FAILED
    if CANCELED in states:
        return CANCELED
    return SUCCEEDED if is_finished(run) else RUNNING


def is_failed(run):
    return outcome(run) == FAILED


def failed_runs(runs):
    return [run for run in runs if is_failed(run)]


def progress(run):
    """response.progress.percentage (a string on the wire, a number from some services) as an int 0-100, or None."""
    value = (_response(run).get('progress') or {}).get('percentage')
    try:
        return max(0, min(100, int(float(value))))
    except (TypeError, ValueError):
        return None


def display_status(run):
    """The status a person reads: the outcome, or 'Running 40%' while it runs (the service's own word for a state
    that is neither, e.g. Creating with no response yet)."""
    state = outcome(run)
    if state != RUNNING:
        return state
    shown = response_status(run) or provisioning_state(run) or RUNNING
    percentage = progress(run)
    return '{} {}%'.format(shown, percentage) if percentage is not None else shown


def error_message(run):
    return _response(run).get('pipelineRunErrorMessage')


def failure_text(run, operation_code=None, operation_message=None):
    """Why the run failed, in every word the service gave: the run's own pipelineRunErrorMessage (it names the
    cause, e.g. a storage 403) and the operation's code and message, each once."""
    operation = ' '.join(part for part in ('({})'.format(operation_code) if operation_code else None,
                                           operation_message) if part)
    own = error_message(run)
    parts = [part for part in (operation, own) if part]
    if len(parts) == 2 and operation_message and operation_message.strip() == own.strip():
        parts = [operation]
    return '; '.join(parts) if parts else NO_ERROR_MESSAGE
