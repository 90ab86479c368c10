# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Make the shared test helpers (azcli, replay) importable from every test folder."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    # Imported here: suite_summary needs this folder on sys.path, which the lines above put there.
    import suite_summary  # pylint: disable=import-outside-toplevel
    config.pluginmanager.register(suite_summary.SuiteSummary(config), 'acrtransfer-suite-summary')
