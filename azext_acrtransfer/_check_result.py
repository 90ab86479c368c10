# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""One result of `check`: what was checked, how it came out, why, and the command that fixes it."""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

PASSED = 'Passed'
FAILED = 'Failed'
WARNING = 'Warning'
SKIPPED = 'Skipped'


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str
    fix: Optional[str] = None

    def to_dict(self):
        return OrderedDict([('name', self.name), ('status', self.status), ('detail', self.detail),
                            ('fix', self.fix)])


def passed(name, detail):
    return CheckResult(name, PASSED, detail)


def failed(name, detail, fix=None):
    return CheckResult(name, FAILED, detail, fix)


def warning(name, detail, fix=None):
    return CheckResult(name, WARNING, detail, fix)


def skipped(name, why):
    return CheckResult(name, SKIPPED, why)


def any_failed(results):
    return any(result.status == FAILED for result in results)
