"""Cine rates from the header and looping frames."""

from __future__ import annotations

import pytest

from medsr_viewer.core.cine import DEFAULT_FPS, MAX_FPS, CineRate, next_frame, volume_rate


def test_fmri_plays_at_acquisition_speed() -> None:
    rate = volume_rate({"RepetitionTime": 2.0})
    assert rate.fps == pytest.approx(0.5) and "RepetitionTime" in rate.source
    assert rate.interval_ms() == 2000


def test_no_or_bad_repetition_time_uses_the_default() -> None:
    for facts in ({}, {"RepetitionTime": 0}, {"RepetitionTime": "n/a"}):
        assert volume_rate(facts) == CineRate(DEFAULT_FPS, "default")
    assert volume_rate({"RepetitionTime": 0.001}).fps == MAX_FPS  # capped


def test_frames_loop() -> None:
    assert [next_frame(i, 3) for i in range(3)] == [1, 2, 0]
    with pytest.raises(ValueError):
        next_frame(0, 0)
