# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Replay the real recorded deployments of ../shared/conformance strictly against the extension.

The cases are read where they lie (they are not ours to copy). Outside CI a checkout without them skips;
in CI (CI=true) their absence is a failure, unless ACRTRANSFER_CONFORMANCE_OPTIONAL=1 says that this CI has
no shared/ folder at all (public CI, which cannot see the recordings).
"""

import glob
import json
import os

import jmespath
import pytest

from azcli import SUBSCRIPTION, run_az
from replay import strict_replay

CONFORMANCE_DIR = os.environ.get('ACRTRANSFER_CONFORMANCE_DIR') or os.path.join(
    os.path.dirname(__file__), '..', '..', '..', 'shared', 'conformance')
CASE_FILES = sorted(glob.glob(os.path.join(CONFORMANCE_DIR, 'cases', '*.json')))


def _case_id(path):
    return os.path.splitext(os.path.basename(path))[0]


def test_conformance_cases_are_present():
    if not CASE_FILES:
        if os.environ.get('CI') and os.environ.get('ACRTRANSFER_CONFORMANCE_OPTIONAL') != '1':
            pytest.fail('No conformance cases found in {}: CI must replay them.'.format(CONFORMANCE_DIR))
        pytest.skip('no ../shared/conformance beside this checkout')
    assert len(CASE_FILES) >= 5


@pytest.mark.parametrize('case_file', CASE_FILES, ids=[_case_id(p) for p in CASE_FILES])
def test_conformance_case(case_file):
    with open(case_file, encoding='utf-8') as f:
        case = json.load(f)
    assert case['subscription'] == SUBSCRIPTION, 'the harness logs in to the recording subscription'
    with strict_replay(case['interactions']) as replay:
        for step in case['steps']:
            sent_before = len(replay.sent)
            result = run_az(step['argv'])
            assert not replay.mismatches, replay.mismatches
            if step['exit_code'] == 'nonzero':
                assert result.exit_code != 0, result.stdout
                assert len(replay.sent) == sent_before, 'a refused command must not send any request'
                continue
            assert result.exit_code == step['exit_code'], result.stderr
            output = result.json()
            for expression, expected in (step.get('checks') or {}).items():
                assert jmespath.search(expression, output) == expected, (expression, output)
        assert not replay.pending, 'interactions never requested: {}'.format(
            [(i['method'], i['uri']) for i in replay.pending])
