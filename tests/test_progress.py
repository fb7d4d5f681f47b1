"""Progress output: a redrawn bar on a terminal, plain lines (no control characters) in a log file."""

import io

from bidirectional_infogan.util.progress import Progress, format_duration


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_bar_has_rate_and_eta():
    out = Terminal()
    progress = Progress(100, initial=10, out=out, interval=0.0, warmup=0)
    progress.rate_from = (10, progress.start - 9.0)  # pretend 9 s have passed
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


def test_the_eta_leaves_the_first_iteration_out(monkeypatch):
    """Issue 43: a first iteration of 100 s (tracing the graph) and then 0.5 s each: after it the ETA is '?',
    not 37 hours; later it is the remaining iterations at 0.5 s each (the first left out of the rate)."""
    from bidirectional_infogan.util import progress as module
    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    progress = Progress(30_000, out=out, line_interval=0.0)
    clock[0] += 100.0
    progress.update(1)
    assert out.getvalue().splitlines()[-1] == "1/30000 iter | ? iter/s | elapsed 01:40 | ETA ?"
    for count in range(2, 12):
        clock[0] += 0.5
        progress.update(count)
    assert out.getvalue().splitlines()[-1] == "11/30000 iter | 2.00 iter/s | elapsed 01:45 | ETA 4:09:54"
    assert progress.rate() == 2.0  # 10 iterations in 5 s; with the first: 11 in 105 s
