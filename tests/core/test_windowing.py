"""Window/level presets, the automatic window and the default window of a study."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import (
    AUTO,
    CT_PRESETS,
    STORED,
    Window,
    auto_window,
    default_preset,
    default_window,
    preset_window,
    presets_for,
    stored_windows,
)


def test_window_levels_and_adjust() -> None:
    w = Window(40, 80)
    assert w.levels == (0.0, 80.0)
    assert Window.from_levels(-1000, 1000) == Window(0, 2000)
    moved = w.adjusted(d_center=10, d_width=-100)
    assert moved.center == 50 and moved.width > 0


def test_ct_presets_values() -> None:
    assert CT_PRESETS["brain"] == Window(40, 80)
    assert CT_PRESETS["subdural"] == Window(75, 215)
    assert CT_PRESETS["lung"] == Window(-600, 1500)
    assert CT_PRESETS["bone"] == Window(400, 1800)
    assert CT_PRESETS["abdomen"] == Window(50, 400)
    assert CT_PRESETS["mediastinum"] == Window(50, 350)
    vox = np.linspace(0, 100, 1000, dtype=np.float32).reshape(10, 10, 10)
    ct = Volume.from_spacing(vox, modality="CT")
    assert presets_for(ct)[0] == AUTO and "lung" in presets_for(ct)
    assert presets_for(Volume.from_spacing(vox, modality="MR")) == [
        AUTO, "full", "high-contrast", "low-contrast"]


def test_auto_window_ignores_background_and_outliers() -> None:
    rng = np.random.default_rng(0)
    vox = np.zeros((20, 50, 50), dtype=np.float32)
    vox[5:15, 10:40, 10:40] = rng.uniform(100, 200, size=(10, 30, 30))
    vox[0, 0, 0] = 1e6  # one hot pixel
    vox[0, 0, 1] = np.nan
    w = auto_window(vox)
    assert 99 < w.low < 102
    assert 198 < w.high < 201


def test_auto_window_degenerate_inputs() -> None:
    assert auto_window(np.zeros((2, 2, 2))) == Window(0, 1)
    assert auto_window(np.full((2, 2, 2), np.nan)).width == 1.0
    assert auto_window(np.full((2, 2, 2), 7.0)).center == 7.0


def test_default_window_stored_for_ct_else_auto() -> None:
    vox = np.linspace(-1000, 2000, 1000, dtype=np.float32).reshape(10, 10, 10)
    ct = Volume.from_spacing(vox, modality="CT", window=(40.0, 400.0))
    assert default_window(ct) == Window(40, 400)
    assert default_preset(ct) == (STORED, Window(40, 400))
    assert preset_window(STORED, ct) == Window(40, 400)
    assert presets_for(ct)[:2] == [STORED, AUTO]
    no_window = Volume.from_spacing(vox, modality="CT")
    assert default_window(no_window) == auto_window(vox)
    # An MR's stored window is used first too, when it shows the data ...
    mr = Volume.from_spacing(vox, modality="MR", window=(40.0, 400.0))
    assert default_preset(mr) == (STORED, Window(40, 400))
    # ... but not a window that misses the values (of unrescaled data, another image).
    wrong = Volume.from_spacing(vox, modality="MR", window=(9000.0, 400.0))
    assert default_preset(wrong) == (AUTO, auto_window(vox))
    assert preset_window("bone", ct) == Window(400, 1800)
    assert preset_window(AUTO, ct) == auto_window(vox)
    with pytest.raises(KeyError, match="unknown window preset"):
        preset_window("liver", ct)


def test_every_stored_window_is_offered_with_its_explanation() -> None:
    vox = np.linspace(0, 1000, 1000, dtype=np.float32).reshape(10, 10, 10)
    mr = Volume.from_spacing(vox, modality="MR", window=(500.0, 800.0), metadata={
        "stored_windows": [[500.0, 800.0, "WINDOW1"], [300.0, 200.0, "WINDOW2"],
                           [1.0, -5.0, "broken"]]})
    assert stored_windows(mr) == {STORED: (Window(500, 800), "WINDOW1"),
                                  "stored-2": (Window(300, 200), "WINDOW2")}
    assert presets_for(mr)[:3] == [STORED, "stored-2", AUTO]
    assert preset_window("stored-2", mr) == Window(300, 200)
    assert default_preset(mr) == (STORED, Window(500, 800))


def test_data_presets_follow_the_study_values() -> None:
    rng = np.random.default_rng(1)
    vox = np.zeros((10, 40, 40), np.float32)
    vox[:, 5:35, 5:35] = rng.uniform(100, 300, (10, 30, 30))
    mr = Volume.from_spacing(vox, modality="MR")
    assert preset_window("full", mr) == Window.from_levels(0.0, float(vox.max()))
    high = preset_window("high-contrast", mr)
    low = preset_window("low-contrast", mr)
    auto = preset_window(AUTO, mr)
    assert low.width > auto.width > high.width > 0
    assert 105 < high.low < 115 and 285 < high.high < 295
