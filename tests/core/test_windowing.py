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
    assert presets_for("CT")[0] == AUTO and "lung" in presets_for("CT")
    assert presets_for("MR") == [AUTO]


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
    assert presets_for("CT", has_stored=True)[:2] == [AUTO, STORED]
    no_window = Volume.from_spacing(vox, modality="CT")
    assert default_window(no_window) == auto_window(vox)
    # an MR's stored window is often one edge slice's: the viewer opens with auto
    mr = Volume.from_spacing(vox, modality="MR", window=(40.0, 400.0))
    assert default_preset(mr) == (AUTO, auto_window(vox))
    assert preset_window("bone", ct) == Window(400, 1800)
    assert preset_window(AUTO, ct) == auto_window(vox)
    with pytest.raises(KeyError, match="unknown window preset"):
        preset_window("liver", ct)
