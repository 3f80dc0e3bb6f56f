"""A plain-text progress bar for the command line (stderr)."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    """A plain-text progress bar on a stream: redrawn in place on a terminal, else every 10%.

    Parameters
    ----------
    stream
        Where to draw (stderr).
    label
        Text before the bar.
    """

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_step = -1
        self._start = time.perf_counter()

    def update(self, fraction: float, detail: str = "") -> None:
        """Show ``fraction`` (0..1) done."""
        fraction = min(1.0, max(0.0, fraction))
        if self.tty:
            filled = int(fraction * 30)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {detail}   ")
            self.stream.flush()
            return
        step = int(fraction * 10)
        if step > self._last_step:
            self._last_step = step
            self.stream.write(f"{self.label}: {fraction:4.0%} {detail}\n")
            self.stream.flush()

    def finish(self) -> None:
        """End the bar with the elapsed time."""
        elapsed = time.perf_counter() - self._start
        self.stream.write(("\n" if self.tty else "") + f"{self.label}: done in {elapsed:.1f} s\n")
        self.stream.flush()
