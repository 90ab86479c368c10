# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Replay the real recorded deployments of ../shared/conformance strictly against the extension.

The cases are read where they lie (they are not ours to copy; tests/shared_files.py finds them). A checkout
without them (a fresh clone, public CI) skips this file with one reason, which the suite's summary repeats.
"""

import json
import os

import jmespath
import pytest

from azcli import SUBSCRIPTION, run_az
from replay import strict_replay
from shared_files import CONFORMANCE_MISSING, conformance_case_files

CASE_FILES = conformance_case_files()
if not CASE_FILES:
    pytest.skip(CONFORMANCE_MISSING, allow_module_level=True)


def _case_id(path):
    return os.path.splitext(os.path.basename(path))[0]


def test_conformance_cases_are_present():
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
