# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A run's state over both lifecycles: the spec's (provisioningState Succeeded while the transfer runs) and the one
that keeps provisioningState Creating until the run ends; every terminal state, served or flattened."""

import pytest

from azext_acrtransfer import _runs as r
from azext_acrtransfer._format import flatten_resource


def run(provisioning=None, status=None, percentage=None, message=None):
    properties = {}
    if provisioning:
        properties['provisioningState'] = provisioning
    if status or percentage is not None or message:
        properties['response'] = {}
        if status:
            properties['response']['status'] = status
        if percentage is not None:
            properties['response']['progress'] = {'percentage': percentage}
        if message:
            properties['response']['pipelineRunErrorMessage'] = message
    return {'name': 'run1', 'properties': properties}


# (provisioningState, response.status) -> (finished, outcome)
CASES = [
    # the spec's lifecycle
    (('Succeeded', 'Running'), (False, 'Running')),
    (('Succeeded', 'Succeeded'), (True, 'Succeeded')),
    (('Succeeded', 'Failed'), (True, 'Failed')),
    (('Succeeded', 'Canceled'), (True, 'Canceled')),
    # provisioningState follows the run
    (('Creating', 'Running'), (False, 'Running')),
    (('Creating', None), (False, 'Running')),
    (('Updating', None), (False, 'Running')),
    (('Failed', 'Failed'), (True, 'Failed')),
    (('Failed', 'Running'), (True, 'Failed')),
    (('Canceled', 'Running'), (True, 'Canceled')),
    (('Creating', 'Failed'), (True, 'Failed')),
    # no response.status: judged by provisioningState
    (('Succeeded', None), (True, 'Succeeded')),
    (('Failed', None), (True, 'Failed')),
    (('Canceled', None), (True, 'Canceled')),
    ((None, None), (False, 'Running')),
]


@pytest.mark.parametrize('states, expected', CASES)
def test_finished_and_outcome_served_and_flattened(states, expected):
    served = run(*states)
    assert (r.is_finished(served), r.outcome(served)) == expected
    flat = flatten_resource(served)
    assert (r.is_finished(flat), r.outcome(flat)) == expected
    assert r.is_failed(served) == (expected[1] == 'Failed')


def test_progress_reads_strings_and_numbers_and_clamps():
    assert r.progress(run('Succeeded', 'Running', '20')) == 20
    assert r.progress(run('Creating', 'Running', 45.5)) == 45
    assert r.progress(run('Creating', 'Running', '140')) == 100
    assert r.progress(run('Creating', 'Running', 'soon')) is None
    assert r.progress(run('Creating')) is None and r.progress(None) is None


def test_display_status_shows_progress_only_while_running():
    assert r.display_status(run('Succeeded', 'Running', '20')) == 'Running 20%'
    assert r.display_status(run('Creating', None)) == 'Creating'
    assert r.display_status(run('Succeeded', 'Failed', '20')) == 'Failed'
    assert r.display_status(flatten_resource(run('Canceled', 'Running', '70'))) == 'Canceled'


def test_failed_runs_are_exactly_those_failed_by_either_state():
    runs = [run('Succeeded', 'Failed'), run('Failed'), run('Succeeded', 'Running'), run('Canceled'),
            run('Succeeded', 'Succeeded'), run('Creating', 'Running')]
    assert r.failed_runs(runs) == runs[:2]


def test_failure_text_keeps_the_operations_code_and_the_runs_own_message():
    failed = run('Succeeded', 'Failed', message='Storage 403 AuthorizationFailure on container c')
    assert r.failure_text(failed, 'PipelineRunFailed', 'The pipeline run failed.') == \
        '(PipelineRunFailed) The pipeline run failed.; Storage 403 AuthorizationFailure on container c'
    assert r.failure_text(failed) == 'Storage 403 AuthorizationFailure on container c'
    assert r.failure_text(failed, 'X', 'Storage 403 AuthorizationFailure on container c') == \
        '(X) Storage 403 AuthorizationFailure on container c'
    assert r.failure_text(run('Failed'), 'Code') == '(Code)'
    assert r.failure_text(run('Failed')) == r.NO_ERROR_MESSAGE
