# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The summary `make test` ends with: counts per suite, each skip reason once with its count, the spec checks that
did not run, and a total over the suites' files."""

from types import SimpleNamespace

import shared_files
import suite_summary


def _skip(reason):
    return SimpleNamespace(longrepr=('tests/x.py', 1, 'Skipped: ' + reason))


def test_each_skip_reason_is_listed_once_with_its_count():
    stats = {'passed': [object()] * 5, 'skipped': [_skip('no API spec'), _skip('no API spec'), _skip('other')],
             'failed': [object()]}
    lines = suite_summary.suite_lines('unit', stats, 0)
    assert lines == ['unit: 5 passed, 3 skipped, 1 failed', '  skipped 2: no API spec', '  skipped 1: other']


def test_spec_checks_that_did_not_run_are_counted():
    lines = suite_summary.suite_lines('e2e', {'passed': [object()] * 3}, 3)
    assert lines == ['e2e: 3 passed, 0 skipped',
                     '  spec check not run in 3 tests: {}'.format(shared_files.SPEC_MISSING)]


def test_the_report_adds_up_every_suite(tmp_path, capsys):
    (tmp_path / 'a.txt').write_text('a: 4 passed, 1 skipped\n  skipped 1: why\n')
    (tmp_path / 'b.txt').write_text('b: 6 passed, 0 skipped\n')
    suite_summary.report(str(tmp_path))
    out = capsys.readouterr().out
    assert out.endswith('all suites (2): 10 tests passed, 1 skipped (reasons above)\n')
    assert '  skipped 1: why\n' in out
