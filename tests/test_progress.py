"""Progress output: a redrawn bar on a terminal, plain lines (no control characters) in a log file."""

import io

from bidirectional_infogan.util.progress import Progress, format_duration


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_bar_has_rate_and_eta():
    out = Terminal()
    progress = Progress(100, initial=10, out=out, interval=0.0)
    progress.start -= 9.0  # pretend 9 s have passed
    progress.update(19)
    text = out.getvalue()
    assert text.startswith("\r[") and "19/100 iter" in text and "1.00 iter/s" in text and "ETA 01:21" in text
    progress.message("Iteration: 20")
    assert "\r\x1b[K" in out.getvalue() and out.getvalue().endswith("Iteration: 20\n")
    progress.close()


def test_log_file_gets_plain_lines():
    out = io.StringIO()
    progress = Progress(1000, out=out, line_interval=0.0)
    progress.start -= 2.0
    progress.update(4)
    progress.message("hello")
    progress.update(8)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("4/1000 iter |") and lines[1] == "hello" and lines[2].startswith("8/1000 iter")
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_format_duration():
    assert format_duration(59) == "00:59" and format_duration(3600 + 61) == "1:01:01"
