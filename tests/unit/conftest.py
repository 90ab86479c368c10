# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The in-process az harness must be imported before anything imports azure.cli.core."""

import azcli  # noqa: F401  pylint: disable=unused-import


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    azcli.cleanup()
