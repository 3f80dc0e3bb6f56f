"""Stored windows, colour maps, invert and the colour bar (issue #15, "Windows"), as a user.

What the panes show is checked on the image item's rendered picture: the colour of a pixel is
the colour map's colour of its value's level in the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, open_and_wait, write_nifti_crop
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.view_model import CompareMode, LutState
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.image_luts import lookup_table
from medsr_viewer.gui.views.readout import format_value

AXIAL = Orientation.AXIAL
SHIFT = Qt.KeyboardModifier.ShiftModifier


def rendered_colour(item: object, row: int, col: int) -> tuple[int, int, int]:
    """The colour the image item draws for pixel ``(row, col)``."""
    item.render()  # type: ignore[attr-defined]
    colour = item.qimage.pixelColor(col, row)  # type: ignore[attr-defined]
    return (colour.red(), colour.green(), colour.blue())


def expected_colours(table: np.ndarray | None, value: float, window: Window) -> list[tuple]:
    """The colours of the level of ``value`` (and its neighbours: rounding) in ``window``."""
    level = int(np.clip(np.floor((value - window.low) * 256 / window.width), 0, 255))
    levels = range(max(level - 1, 0), min(level + 2, 256))
    if table is None:
        return [(k, k, k) for k in levels]
    return [tuple(int(c) for c in table[k]) for k in levels]


def test_mr_series_opens_with_its_stored_window_and_colours_as_asked(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path
) -> None:
    window = main_window
    open_and_wait(qtbot, window, [data_dir / "dicom" / "vs_seg_001_t1"])
    volume = window.viewer.volume
    assert volume is not None and volume.modality == "MR"
    (center, width, explanation), = volume.metadata["stored_windows"]
    # Each slice stores its own window: the median of the 120 is used, and said so.
    assert "median of the 120 slices" in explanation
    combo = window.preset_combo
    assert combo.currentText() == "stored"
    assert window.viewer.display_window == Window(center, width)
    tip = combo.itemData(combo.findText("stored"), Qt.ItemDataRole.ToolTipRole)
    assert "median" in tip and f"L {center:g} W {width:g}" in tip
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "custom", "stored", "auto", "full", "high-contrast", "low-contrast"]

    view = window.viewer.views[AXIAL]
    image = view.image_item.image
    row, col = np.unravel_index(int(np.argmax(image)), image.shape)
    dark_row, dark_col = 0, 0
    shown = window.viewer.display_window
    assert rendered_colour(view.image_item, row, col) in expected_colours(
        None, float(image[row, col]), shown)
    bar = window.viewer.colours.bar(view)
    assert not bar.shown  # grey: no colour bar

    # M: the next colour map (hot); the pixel takes the map's colour of its level.
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert window.viewer.model.lut == LutState("hot")
    table = lookup_table(LutState("hot"))
    assert table is not None
    np.testing.assert_array_equal(view.image_item.lut, table)
    for r, c in ((row, col), (dark_row, dark_col), (image.shape[0] // 2, image.shape[1] // 2)):
        assert rendered_colour(view.image_item, r, c) in expected_colours(
            table, float(image[r, c]), shown)
    assert bar.shown and bar.texts() == (format_value(shown.low), format_value(shown.high))
    assert window.actions_.action("lut.hot").isChecked()

    # Shift+I inverts: the brightest pixel now gets the low end's colour.
    qtbot.keyClick(window, Qt.Key.Key_I, SHIFT)
    inverted = lookup_table(LutState("hot", invert=True))
    assert inverted is not None
    np.testing.assert_array_equal(inverted, table[::-1])
    assert rendered_colour(view.image_item, row, col) in expected_colours(
        inverted, float(image[row, col]), shown)
    assert window.actions_.action("lut.invert").isChecked()

    # The window's ends label the bar, and follow the window.
    window.preset_actions["full"].trigger()
    full = window.viewer.display_window
    assert bar.texts() == (format_value(full.low), format_value(full.high))

    # Through the menu back to grey, invert off: no table, no bar.
    window.actions_.action("lut.grey").trigger()
    qtbot.keyClick(window, Qt.Key.Key_I, SHIFT)
    assert window.viewer.model.lut.plain and view.image_item.lut is None and not bar.shown
    # A session keeps the colour map; another series starts grey.
    window.actions_.action("lut.viridis").trigger()
    state = window.viewer.model.to_dict()
    assert state["lut"] == {"colormap": "viridis", "invert": False}


@pytest.fixture
def sr_window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 600))
    yield win
    close_model_window(win)


def test_the_sr_pane_takes_the_colour_map_and_maps_keep_their_own(
    qtbot: QtBot, sr_window: MainWindow, data_dir: Path, tmp_path: Path, zoo: dict[str, Path]
) -> None:
    window = sr_window
    study = write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz", np.s_[50:122, 70:150, 90:94],
                             tmp_path / "t1_crop.nii.gz", np.float32)
    open_and_wait(qtbot, window, [study])
    compare = window.compare
    compare.model_picker.add_path(zoo["conv-x2"])
    qtbot.keyClick(window, Qt.Key.Key_M)
    qtbot.keyClick(window, Qt.Key.Key_M)  # inferno
    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    table = lookup_table(LutState("inferno"))
    np.testing.assert_array_equal(compare.sr_item.lut, table)
    sr_bar = window.viewer.colours.bar(compare.sr_view)
    assert sr_bar.shown
    compare.model.set_compare(mode=CompareMode.DIFFERENCE)
    qtbot.waitUntil(lambda: compare.shown_map() is not None, timeout=10000)
    # The difference map has its own diverging colours and bar; the image's bar gives way.
    assert not np.array_equal(compare.sr_item.lut, table) and not sr_bar.shown
    compare.model.set_compare(mode=CompareMode.SIDE_BY_SIDE)
    qtbot.waitUntil(lambda: compare.shown_map() is None, timeout=10000)
    np.testing.assert_array_equal(compare.sr_item.lut, table)
    assert sr_bar.shown
