"""Cine playback: how fast, and which frame comes next (Qt-free).

Cine over slices pages through the active plane; cine over volumes steps through the
volumes of a 4-D series (fMRI, DWI, multi-phase). Frames loop: after the last comes the
first. The volume rate comes from the header when it has one — the repetition time of an
fMRI series is the time between its volumes, so ``1 / TR`` plays it at acquisition speed —
else a default; the user can change it while playing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Frames per second when the header gives no rate.
DEFAULT_FPS = 10.0
#: The range of rates offered.
MIN_FPS, MAX_FPS = 0.1, 60.0


@dataclass(frozen=True)
class CineRate:
    """A playback rate and where it came from (shown to the user)."""

    fps: float
    source: str

    def interval_ms(self) -> int:
        """Milliseconds between frames."""
        return max(1, round(1000.0 / clamp_fps(self.fps)))


def clamp_fps(fps: float) -> float:
    """``fps`` within the offered range."""
    return min(max(float(fps), MIN_FPS), MAX_FPS)


def volume_rate(facts: Mapping[str, Any]) -> CineRate:
    """The rate of a 4-D series' volumes: ``1 / RepetitionTime`` (seconds) when the series
    records one, else :data:`DEFAULT_FPS`."""
    tr = facts.get("RepetitionTime")
    try:
        seconds = float(tr) if tr is not None else 0.0
    except (TypeError, ValueError):
        seconds = 0.0
    if seconds > 0:
        return CineRate(clamp_fps(1.0 / seconds), f"1 / RepetitionTime ({seconds:g} s)")
    return CineRate(DEFAULT_FPS, "default")


def next_frame(index: int, count: int) -> int:
    """The frame after ``index`` of ``count`` frames, looping to the first."""
    if count <= 0:
        raise ValueError("no frames to play")
    return (int(index) + 1) % count
