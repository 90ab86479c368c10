# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Live progress of a waiting command: az's bar on a terminal, throttled stderr lines otherwise, nothing with
--only-show-errors."""

from azext_acrtransfer import _progress as p


class Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


class Bar:
    def __init__(self):
        self.calls = []

    def begin(self, **kwargs):
        self.calls.append(('begin', kwargs))

    def add(self, **kwargs):
        self.calls.append(('add', kwargs))

    def end(self, **kwargs):
        self.calls.append(('end', kwargs))


class CliCtx:
    def __init__(self, only_show_errors=False):
        self.only_show_errors = only_show_errors
        self.progress_bar = Bar()

    @property
    def progress_bar_calls(self):
        return self.progress_bar.calls

    def get_progress_controller(self, det=False):
        assert det
        return self.progress_bar


class Lines:
    def __init__(self):
        self.lines = []

    def warning(self, message, *args):
        self.lines.append(message % args)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run(percentage):
    return {'name': 'run1', 'properties': {'provisioningState': 'Creating',
                                           'response': {'status': 'Running', 'progress': {'percentage': percentage}}}}


def test_without_a_terminal_a_line_per_ten_points_or_thirty_seconds(monkeypatch):
    lines, clock = Lines(), Clock()
    monkeypatch.setattr(p, 'logger', lines)
    progress = p.RunProgress(CliCtx(), 'run1', stream=Stream(False), clock=clock)
    for seconds, percentage in ((0, '0'), (1, '4'), (2, '9'), (3, '10'), (4, '10'), (40, '10'), (41, '12'),
                                (42, '55'), (43, '56')):
        clock.now = seconds
        progress.update(run(percentage))
    progress.update(None)
    progress.end()
    assert lines.lines == ["Pipeline run 'run1': 0% done.", "Pipeline run 'run1': 10% done.",
                           "Pipeline run 'run1': 12% done.", "Pipeline run 'run1': 55% done."]


def test_on_a_terminal_the_bar_follows_every_percentage(monkeypatch):
    lines, cli_ctx = Lines(), CliCtx()
    monkeypatch.setattr(p, 'logger', lines)
    progress = p.RunProgress(cli_ctx, 'run1', stream=Stream(True))
    progress.update(run('30'))
    progress.update(run('31'))
    progress.end()
    assert [call[0] for call in cli_ctx.progress_bar_calls] == ['begin', 'add', 'add', 'end']
    assert [call[1]['value'] for call in cli_ctx.progress_bar_calls if call[0] == 'add'] == [30, 31]
    assert lines.lines == []


def test_only_show_errors_silences_bar_and_lines(monkeypatch):
    lines, cli_ctx = Lines(), CliCtx(only_show_errors=True)
    monkeypatch.setattr(p, 'logger', lines)
    for tty in (True, False):
        progress = p.RunProgress(cli_ctx, 'run1', stream=Stream(tty))
        progress.update(run('50'))
        progress.end()
    assert cli_ctx.progress_bar_calls == [] and lines.lines == []


def test_the_bar_is_azs_own_determinate_progress_bar():
    import io
    from azure.cli.core.commands.progress import DeterminateStandardOut
    from azure.cli.core.mock import DummyCli
    cli_ctx = DummyCli()
    cli_ctx.only_show_errors = False
    progress = p.RunProgress(cli_ctx, 'run1', stream=Stream(True))
    view = progress.progress_bar.active_progress
    assert isinstance(view, DeterminateStandardOut)
    view.out = io.StringIO()  # az binds the view to the stderr of its import time
    progress.update(run('40'))
    written = view.out.getvalue()
    progress.end()
    assert "Pipeline run 'run1'" in written and '40.0000%' in written
