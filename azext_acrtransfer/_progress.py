# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Live progress of a pipeline-run while a command waits for it.

The service reports `response.progress.percentage` on the run resource. On a terminal it drives az's own
progress bar; otherwise (logs, CI) a line goes to stderr when the percentage moves by 10 points, or moves at all
once 30 seconds have passed since the last line (a percentage that stands still prints nothing). stdout carries
only the command's result, and `--only-show-errors` silences all of it (the lines are warnings, which az drops
then; the bar is skipped explicitly).
"""

import sys
import time

from knack.log import get_logger

from . import _runs

logger = get_logger(__name__)

PROGRESS_LINE = "Pipeline run '%s': %d%% done."
LINE_STEP_POINTS = 10
LINE_STEP_SECONDS = 30


class RunProgress:
    """Shows one run's percentage; `update(run)` with the run as the service returns it, `end()` once."""

    def __init__(self, cli_ctx, run_name, stream=None, clock=time.monotonic):
        self.run_name = run_name
        self.clock = clock
        stream = stream or sys.stderr
        self.quiet = bool(getattr(cli_ctx, 'only_show_errors', False))
        self.progress_bar = None
        if not self.quiet and stream.isatty():
            self.progress_bar = cli_ctx.get_progress_controller(det=True)
            self.progress_bar.begin(message="Pipeline run '{}'".format(run_name))
        self._last_line = None  # (percentage, time) of the last line written

    def update(self, run):
        percentage = _runs.progress(run)
        if self.quiet or percentage is None:
            return
        if self.progress_bar is not None:
            self.progress_bar.add(message="Pipeline run '{}'".format(self.run_name), value=percentage, total_val=100)
        elif self._line_due(percentage):
            self._last_line = (percentage, self.clock())
            logger.warning(PROGRESS_LINE, self.run_name, percentage)

    def _line_due(self, percentage):
        if self._last_line is None:
            return True
        last_percentage, last_time = self._last_line
        if percentage == last_percentage:
            return False
        return percentage - last_percentage >= LINE_STEP_POINTS or self.clock() - last_time >= LINE_STEP_SECONDS

    def end(self):
        if self.progress_bar is not None:
            self.progress_bar.end()
            self.progress_bar = None
