"""Multi-model compare (issue #14): two to four model panes of the same slice, all linked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, open_and_wait, write_nifti_crop
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.core.view_model import CompareMode
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.model_panes import BICUBIC, MAX_EXTRA

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1400, 600))
    yield win
    close_model_window(win)


def test_model_panes_show_other_results_of_the_same_slice_linked(
    qtbot: QtBot, window: MainWindow, data_dir: Path, tmp_path: Path, zoo: dict[str, Path]
) -> None:
    study = write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz", np.s_[50:122, 70:150, 90:94],
                             tmp_path / "t1_crop.nii.gz", np.float32)
    open_and_wait(qtbot, window, [study])
    compare = window.compare
    compare.model_picker.add_path(zoo["bicubic-x2"])
    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    panes = compare.model_panes

    # Ctrl+Alt+M: a pane with a model not shown yet (bicubic first), titled with it.
    qtbot.keyClick(window, Qt.Key.Key_M, CTRL_ALT)
    assert len(panes.panes) == 1
    first = panes.panes[0]
    assert first.isVisible() and first.model_path == BICUBIC
    assert first.title_text() == "bicubic ×2"
    lr = np.asarray(compare.display.slice_array(Orientation.AXIAL, compare.shown_slice),
                    np.float32)
    np.testing.assert_allclose(first.buffer, upsample(lr, 2, "bicubic"), atol=1e-4)
    # The exactly-bicubic test model in the SR pane agrees with it.
    np.testing.assert_allclose(compare.sr_image(), first.buffer, atol=1e-3 * float(np.ptp(lr)))

    # A second pane, set to another model: computed by the worker on its own pane id.
    second = panes.add(str(zoo["conv-x2"]))
    assert second is not None
    qtbot.waitUntil(lambda: second.complete, timeout=10000)
    assert second.title_text() == "conv-x2 (x2 super_resolution)"
    assert window.view_model.model(second.pane_id) == str(zoo["conv-x2"])
    assert second.buffer is not None and second.buffer.shape == compare.sr_image().shape
    assert not np.allclose(second.buffer, first.buffer)  # another model's result
    # Choosing the SR pane's model gives the SR pane's image exactly.
    second.set_model(str(zoo["bicubic-x2"]))
    qtbot.waitUntil(lambda: second.complete and second.title_text().startswith("bicubic-x2 "),
                    timeout=10000)
    np.testing.assert_array_equal(second.buffer, compare.sr_image())

    # Linked: zooming the SR pane zooms every model pane; a new slice reaches all.
    compare.sr_view.view_box.scaleBy((0.5, 0.5))
    qtbot.wait(20)
    sr_box = compare.sr_view.view_box
    for pane in panes.panes:  # the same centre and mm per screen pixel (widths may differ)
        box = pane.view.view_box
        centre, sr_centre = box.viewRect().center(), sr_box.viewRect().center()
        assert (centre.x(), centre.y()) == pytest.approx((sr_centre.x(), sr_centre.y()))
        assert box.viewPixelSize() == pytest.approx(sr_box.viewPixelSize(), rel=1e-6)
    before = compare.shown_slice
    qtbot.keyClick(window, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: compare.complete and second.complete
                    and second.slice == compare.shown_slice != before, timeout=10000)
    np.testing.assert_array_equal(second.buffer, compare.sr_image())
    assert first.slice == compare.shown_slice

    # At most four results; maps are for the SR pane alone: the model panes step aside.
    while panes.add() is not None:
        pass
    assert len(panes.panes) == MAX_EXTRA
    compare.model.set_compare(mode=CompareMode.DIFFERENCE)
    assert not any(p.isVisible() for p in panes.panes)
    compare.model.set_compare(mode=CompareMode.SIDE_BY_SIDE)
    assert all(p.isVisible() for p in panes.panes)
    # × removes a pane.
    qtbot.mouseClick(first.close_button, Qt.MouseButton.LeftButton)
    assert first not in panes.panes and window.view_model.model(first.pane_id) == ""
