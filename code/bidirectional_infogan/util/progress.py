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
    """Counts iterations `initial`..`total`; `message()` prints a line without breaking the bar.

    The rate and the ETA leave out the first `warmup` counts (a training run's first iteration traces the
    step's graph and can take as long as hundreds of later ones): they are measured from the moment the count
    first reaches initial + warmup, and shown as '?' until a later count."""

    def __init__(self, total: int, initial: int = 0, out=None, label: str = "iter", width: int = 30,
                 interval: float = 0.5, line_interval: float = 60.0, warmup: int = 1):
        self.total, self.count, self.first = total, initial, initial
        self.warmup = warmup
        self.out = out or sys.stderr
        self.label, self.width = label, width
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.interval = interval if self.tty else line_interval
        self.start = time.monotonic()
        self.rate_from = (initial, self.start) if warmup <= 0 else None  # (count, time) the rate is measured from
        self.last_draw = -float("inf")
        self._bar_shown = False

    def rate(self) -> float:
        """Counts per second since the warm-up ended; 0 while it is not known yet."""
        if self.rate_from is None:
            return 0.0
        count, since = self.rate_from
        elapsed = time.monotonic() - since
        return (self.count - count) / elapsed if elapsed > 0 and self.count > count else 0.0

    def status(self) -> str:
        rate = self.rate()
        rate_text = f"{rate:.2f}" if rate > 0 else "?"
        eta_text = format_duration((self.total - self.count) / rate) if rate > 0 else "?"
        elapsed = format_duration(time.monotonic() - self.start)
        return (f"{self.count}/{self.total} {self.label} | {rate_text} {self.label}/s | elapsed {elapsed} | "
                f"ETA {eta_text}")

    def update(self, count: int) -> None:
        self.count = count
        now = time.monotonic()
        if self.rate_from is None and count >= self.first + self.warmup:
            self.rate_from = (count, now)
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
