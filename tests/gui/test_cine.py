"""Cine: Space plays the slices of the active plane, Shift+Space the volumes of a 4-D series
(at 1 / RepetitionTime by default), in a loop, until pressed again or another study opens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import open_and_wait, shown_image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.main_window import MainWindow

SHIFT = Qt.KeyboardModifier.ShiftModifier
#: Siemens mosaic EPI fMRI: 6 time points of 36x64x64, TR 3.2 s.
MOSAIC_FMRI = Path("dicom_qa") / "series" / "dcm_qa_mosaic" / "ep2d_Asc_2"


@pytest.fixture
def win(main_window: MainWindow) -> MainWindow:
    """The shown main window of the GUI tests (``tests/gui/conftest.py``)."""
    return main_window


def test_space_plays_the_slices_in_a_loop_and_stops(qtbot: QtBot, win: MainWindow,
                                                    data_dir: Path) -> None:
    open_and_wait(qtbot, win, [data_dir / MOSAIC_FMRI])
    viewer = win.viewer
    axial = Orientation.AXIAL
    n = viewer.display.n_slices(axial)  # type: ignore[union-attr]
    viewer.set_slice(n - 2, axial)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert win.cine.playing == "slices" and win.cine.controls.isVisible()
    assert win.cine.slices_action.isChecked()
    qtbot.waitUntil(lambda: viewer.slice_index(axial) == n - 1, timeout=3000)
    qtbot.waitUntil(lambda: viewer.slice_index(axial) == 1, timeout=3000)  # looped to 0 and on
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert win.cine.playing == "" and not win.cine.controls.isVisible()
    stopped_at = viewer.slice_index(axial)
    expected = viewer.display.slice_array(axial, stopped_at)  # type: ignore[union-attr]
    np.testing.assert_array_equal(shown_image(viewer.views[axial]), expected)


def test_shift_space_plays_the_volumes_at_the_repetition_time(
        qtbot: QtBot, win: MainWindow, data_dir: Path) -> None:
    open_and_wait(qtbot, win, [data_dir / MOSAIC_FMRI])
    qtbot.keyClick(win, Qt.Key.Key_Space, SHIFT)
    cine = win.cine
    assert cine.playing == "volumes" and cine.volumes_action.isChecked()
    assert cine.controls.fps.value() == pytest.approx(1 / 3.2, abs=0.05)  # TR 3.2 s
    assert "RepetitionTime" in cine.controls.fps.toolTip()
    cine.controls.fps.setValue(25.0)  # the user speeds it up
    seen: set[int] = set()

    def every_volume_shown() -> bool:
        assert win.study is not None
        seen.add(win.study.shown_index)
        return len(seen) == 6

    qtbot.waitUntil(every_volume_shown, timeout=5000)
    qtbot.waitUntil(lambda: win.study is not None and win.study.shown_index == 0, timeout=3000)
    assert win.volume_bar.spin.value() == win.study.shown_index + 1  # type: ignore[union-attr]
    open_and_wait(qtbot, win, [data_dir / MOSAIC_FMRI])  # another study stops it
    assert cine.playing == "" and not cine.volumes_action.isChecked()


def test_cine_volumes_on_a_3d_study_says_why_not(qtbot: QtBot, win: MainWindow,
                                                 data_dir: Path) -> None:
    open_and_wait(qtbot, win, [data_dir / "dicom" / "vs_seg_001_t1"])
    qtbot.keyClick(win, Qt.Key.Key_Space, SHIFT)
    assert win.cine.playing == "" and not win.cine.volumes_action.isChecked()
    assert "4-D series" in win.statusBar().currentMessage()
