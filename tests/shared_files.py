# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Where the reference material of ../shared lies, and what a test does when it is not there.

../shared (the official API spec and the real recorded deployments) sits beside a checkout on the team's machines,
never inside it, and a fresh clone has none. Every test still runs without it: a test that is about the spec or the
recordings skips with the one reason below, and the spec check that follows other tests (every body the sandbox
served uses only the spec's names) does nothing and is counted, so that the suite's summary says how often it did
not run (tests/suite_summary.py). ACRTRANSFER_SHARED_DIR points at another copy; ACRTRANSFER_SPEC_DIR and
ACRTRANSFER_CONFORMANCE_DIR at one part of it.
"""

import glob
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DIR = os.environ.get('ACRTRANSFER_SHARED_DIR') or os.path.join(os.path.dirname(REPO_ROOT), 'shared')
SPEC_DIR = os.environ.get('ACRTRANSFER_SPEC_DIR') or os.path.join(SHARED_DIR, 'spec')
CONFORMANCE_DIR = os.environ.get('ACRTRANSFER_CONFORMANCE_DIR') or os.path.join(SHARED_DIR, 'conformance')

SPEC_MISSING = 'no API spec at {} (../shared/spec is not beside this checkout)'.format(
    os.path.normpath(SPEC_DIR))
CONFORMANCE_MISSING = 'no recorded deployments at {} (../shared/conformance is not beside this checkout)'.format(
    os.path.normpath(CONFORMANCE_DIR))

# How many tests ran without the spec check after them, in this pytest process (read by suite_summary).
spec_checks_not_run = [0]  # pylint: disable=invalid-name


def spec_definitions_path():
    return os.path.join(SPEC_DIR, 'definitions.json')


def spec_present():
    return os.path.isfile(spec_definitions_path())


def spec_example_path(name):
    """A file of the spec's examples folder; the test skips when the spec is not there."""
    require_spec()
    return os.path.join(SPEC_DIR, 'examples', name)


def require_spec():
    """For a test about the spec itself: it skips, with the one reason, when the spec is absent."""
    if not spec_present():
        import pytest  # pylint: disable=import-outside-toplevel  (the summary script runs without pytest)
        pytest.skip(SPEC_MISSING)


def note_spec_check_not_run():
    spec_checks_not_run[0] += 1


def conformance_case_files():
    return sorted(glob.glob(os.path.join(CONFORMANCE_DIR, 'cases', '*.json')))
