# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Shared test setup: the in-process az harness must be imported before azure.cli.core."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azcli  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    azcli.cleanup()
