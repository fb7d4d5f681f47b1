"""Progress of long work: a one-line bar with rate and ETA on a terminal, plain periodic lines otherwise
(no control characters in redirected logs)."""

from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Counts iterations `initial`..`total`; `message()` prints a line without breaking the bar."""

    def __init__(self, total: int, initial: int = 0, out=None, label: str = "iter", width: int = 30,
                 interval: float = 0.5, line_interval: float = 60.0):
        self.total, self.count, self.first = total, initial, initial
        self.out = out or sys.stderr
        self.label, self.width = label, width
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.interval = interval if self.tty else line_interval
        self.start = time.monotonic()
        self.last_draw = -float("inf")
        self._bar_shown = False

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return (self.count - self.first) / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        rate = self.rate()
        eta = (self.total - self.count) / rate if rate > 0 else float("nan")
        eta_text = format_duration(eta) if rate > 0 else "?"
        elapsed = format_duration(time.monotonic() - self.start)
        return f"{self.count}/{self.total} {self.label} | {rate:.2f} {self.label}/s | elapsed {elapsed} | ETA {eta_text}"

    def update(self, count: int) -> None:
        self.count = count
        now = time.monotonic()
        if now - self.last_draw < self.interval and count < self.total:
            return
        self.last_draw = now
        if self.tty:
            filled = int(self.width * count / max(self.total, 1))
            bar = "#" * filled + "." * (self.width - filled)
            self.out.write(f"\r[{bar}] {self.status()}\x1b[K")
            self._bar_shown = True
        else:
            self.out.write(self.status() + "\n")
        self.out.flush()

    def message(self, text: str) -> None:
        if self._bar_shown:
            self.out.write("\r\x1b[K")
            self._bar_shown = False
        self.out.write(text + "\n")
        self.out.flush()
        self.last_draw = -float("inf") if self.tty else self.last_draw

    def close(self) -> None:
        if self._bar_shown:
            self.out.write("\n")
            self._bar_shown = False
        self.out.flush()
