# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What a suite ran and what it did not, in a few lines: a pytest plugin (tests/conftest.py registers it) and,
run as a script, the report `make test` ends with.

At the end of a session the plugin prints `<suite>: N passed, M skipped, ...`, one line per skip reason with its
count, and how many tests ran without the spec check after them (no ../shared/spec, see shared_files.py). When
ACRTRANSFER_SUITE names the suite (the Makefile sets it), the same lines go to .test-summary/<suite>.txt;
`python tests/suite_summary.py` prints every suite's file and a total.
"""

import collections
import os
import re
import sys

import shared_files

SUMMARY_DIR = os.path.join(shared_files.REPO_ROOT, '.test-summary')
OUTCOMES = ('passed', 'failed', 'error', 'skipped', 'xfailed', 'xpassed')
_COUNTS_RE = re.compile(r'^(\S+): (\d+) passed, (\d+) skipped')


def skip_reason(report):
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text[len('Skipped: '):] if text.startswith('Skipped: ') else text


def suite_lines(name, stats, spec_checks_not_run):
    counts = {outcome: len(stats.get(outcome, [])) for outcome in OUTCOMES}
    lines = ['{}: {} passed, {} skipped'.format(name, counts['passed'], counts['skipped']) +
             ''.join(', {} {}'.format(counts[o], o) for o in OUTCOMES[1:] if o != 'skipped' and counts[o])]
    reasons = collections.Counter(skip_reason(r) for r in stats.get('skipped', []))
    lines += ['  skipped {}: {}'.format(count, reason) for reason, count in sorted(reasons.items())]
    if spec_checks_not_run:
        lines.append('  spec check not run in {} tests: {}'.format(spec_checks_not_run, shared_files.SPEC_MISSING))
    return lines


class SuiteSummary:
    """The pytest plugin."""

    def __init__(self, config):
        self.name = os.environ.get('ACRTRANSFER_SUITE') or '+'.join(
            os.path.basename(os.path.normpath(arg.split('::')[0])) for arg in config.args) or 'tests'
        self.write_file = bool(os.environ.get('ACRTRANSFER_SUITE'))

    def pytest_terminal_summary(self, terminalreporter):
        lines = suite_lines(self.name, terminalreporter.stats, shared_files.spec_checks_not_run[0])
        terminalreporter.section('suite summary')
        for line in lines:
            terminalreporter.write_line(line)
        if self.write_file:
            os.makedirs(SUMMARY_DIR, exist_ok=True)
            with open(os.path.join(SUMMARY_DIR, self.name + '.txt'), 'w', encoding='utf-8') as f:
                f.write('\n'.join(lines) + '\n')


def report(summary_dir=SUMMARY_DIR):
    """Every suite's summary, then one line with the totals."""
    passed = skipped = 0
    names = sorted(os.listdir(summary_dir)) if os.path.isdir(summary_dir) else []
    for name in names:
        with open(os.path.join(summary_dir, name), encoding='utf-8') as f:
            text = f.read()
        sys.stdout.write(text)
        match = _COUNTS_RE.match(text)
        if match:
            passed += int(match.group(2))
            skipped += int(match.group(3))
    print('all suites ({}): {} tests passed, {} skipped (reasons above)'.format(len(names), passed, skipped))


if __name__ == '__main__':
    report()
