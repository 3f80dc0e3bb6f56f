"""SR pane maps (issue #14): consistency, added detail, interval width, difference, as a user.

Each test opens a crop of the real head MR, switches SR on with a small exact model, picks
the map in the mode combo's popup, and checks the array the pane draws, the colour bar's
robust range and the value the readout gives under the mouse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gui_helpers import close_model_window, cpu_model_window, hover, open_and_wait, write_nifti_crop
from model_zoo import SmallConvSR, sr_card, trust_folder_for_tests
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from torch import nn

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.sr_maps import added_detail, consistency_map
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.compare_panel import CompareMode, ComparePanel
from medsr_viewer.gui.views.readout import format_value
from medsr_viewer.models.archive import save_torchscript
from medsr_viewer.models.normalisation import fit_intensity_map
from medsr_viewer.models.uncertainty import DIHEDRAL, dihedral, undo_dihedral

AXIAL = Orientation.AXIAL
#: Calibration written into the test model's card (factor of a tta-std spread at 90 %).
CALIBRATION = {"level": 0.9, "alpha": 0.1, "spread": "tta-std", "factor": 1.7}


@pytest.fixture(scope="module")
def small_t1(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 72x80x6 crop of the real head MR, written as NIfTI (affine kept by the slicer)."""
    return write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz",
                            np.s_[50:122, 70:150, 90:96],
                            tmp_path_factory.mktemp("map-data") / "t1_crop.nii.gz",
                            np.float32)


class CheckerDetailSR(nn.Module):
    """Bicubic x2 plus a pixel checkerboard scaled by the (normalised) input brightness.

    The checkerboard times a block-constant amplitude has zero block means, so it is all
    added detail: ``0.15 * brightness`` of the normalised range, above 3 noise sigmas on
    bright tissue only.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
        near = F.interpolate(x, scale_factor=2.0, mode="nearest")
        rows = torch.arange(up.shape[2], device=x.device).view(1, 1, -1, 1)
        cols = torch.arange(up.shape[3], device=x.device).view(1, 1, 1, -1)
        checker = 1.0 - 2.0 * ((rows + cols) % 2).to(x.dtype)
        return up + 0.15 * near * checker


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:class:`CheckerDetailSR` exported with an SR card (trusted folder)."""
    folder = tmp_path_factory.mktemp("checker-zoo")
    trust_folder_for_tests(folder)
    path = folder / "checker-x2.pt"
    save_torchscript(CheckerDetailSR(), sr_card("checker-x2", 2), path)
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conv-x2 with a calibration block in its card (an uncalibrated copy stays in the zoo)."""
    folder = tmp_path_factory.mktemp("calibrated-zoo")
    trust_folder_for_tests(folder)
    path = folder / "conv-x2-calibrated.pt"
    save_torchscript(SmallConvSR(2), sr_card("conv-x2-calibrated", 2, calibration=CALIBRATION),
                     path)
    return path


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    """A main window whose SR worker runs on the CPU and lists no bundled models."""
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 600))
    yield win
    close_model_window(win)


def _start(qtbot: QtBot, win: MainWindow, study: Path, model: Path) -> ComparePanel:
    """Open ``study``, add ``model`` as "add model file" does, press S, wait for the slice."""
    open_and_wait(qtbot, win, [study])
    win.compare.model_picker.add_path(model)
    qtbot.keyClick(win, Qt.Key.Key_S)
    assert win.sr_action.isChecked()
    qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)
    return win.compare


def _pick_mode(qtbot: QtBot, compare: ComparePanel, mode: CompareMode) -> None:
    """Open the compare-mode combo's popup and click ``mode``'s entry."""
    combo = compare.mode_combo
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    index = combo.model().index(combo.findText(mode.value), 0)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
    # the offscreen platform leaves focus in the closed popup (a desktop gives it back to the
    # main window, whose shortcuts page through slices)
    window = compare.window()
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not view, timeout=2000)


def _wait_map(qtbot: QtBot, compare: ComparePanel, kind: str, timeout: int = 10000) -> None:
    qtbot.waitUntil(lambda: (m := compare.shown_map()) is not None and m.kind == kind,
                    timeout=timeout)


def _set_spin(qtbot: QtBot, spin: object, text: str) -> None:
    """Select the spin box's text and type ``text`` then Enter, as a user would."""
    qtbot.mouseDClick(spin.lineEdit(), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # type: ignore[arg-type]
    qtbot.keyClicks(spin, text)  # type: ignore[arg-type]
    qtbot.keyClick(spin, Qt.Key.Key_Return)  # type: ignore[arg-type]


def _lr(win: MainWindow) -> np.ndarray:
    """The original pane's slice on its native grid (what the model got)."""
    display = win.viewer.display
    assert display is not None
    return np.asarray(display.slice_array(AXIAL, win.viewer.slice_index(AXIAL)), np.float64)


def _robust(values: np.ndarray, percentile: float = 99.0) -> float:
    return float(np.percentile(np.abs(values), percentile))


def _hover_sr_pixel(qtbot: QtBot, compare: ComparePanel, row: int, col: int) -> None:
    """Move the mouse to the centre of SR-grid pixel ``(row, col)`` of the SR pane."""
    view = compare.sr_view
    row_mm, col_mm = view.pixel_spacing
    scale = compare.scale
    x, y = (col + 0.5) * col_mm / scale, (row + 0.5) * row_mm / scale

    def target() -> QPoint:
        return view.mapFromScene(view.view_box.mapViewToScene(QPointF(x, y)))

    # the pane may still be re-laid out (the colour bar comes and goes): wait until the
    # pixel's place on screen no longer moves between two event-loop turns
    seen: list[QPoint] = [target()]

    def settled() -> bool:
        QApplication.processEvents()
        seen.append(target())
        return seen[-1] == seen[-2]

    qtbot.waitUntil(settled, timeout=2000)
    hover(qtbot, view, seen[-1])


def _readout_has(qtbot: QtBot, win: MainWindow, text: str) -> None:
    qtbot.waitUntil(lambda: text in win.readout_label.text(), timeout=2000)


def _check_bar(compare: ComparePanel, low: float, high: float) -> None:
    assert compare.colorbar_widget.isVisible()
    bar_low, bar_high = compare.colorbar.levels()
    assert bar_low == pytest.approx(low, rel=1e-5, abs=1e-9)
    assert bar_high == pytest.approx(high, rel=1e-5, abs=1e-9)
    assert tuple(compare.sr_item.levels) == pytest.approx((bar_low, bar_high))
    assert "raw intensity units" in compare.colorbar.getAxis("left").labelText


def test_consistency_of_bicubic_with_robust_colour_bar_and_readout(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    compare = _start(qtbot, window, small_t1, zoo["bicubic-x2"])
    assert not compare.colorbar_widget.isVisible()  # side by side: no map, no bar
    _pick_mode(qtbot, compare, CompareMode.CONSISTENCY)
    assert compare.mode == CompareMode.CONSISTENCY
    _wait_map(qtbot, compare, "consistency")
    lr = _lr(window)
    # Bicubic is not block-mean consistent: D(bicubic(LR)) - LR, one value per LR pixel.
    expected_lr = consistency_map(upsample(lr, 2, "bicubic"), lr, 2)
    assert float(np.max(np.abs(expected_lr))) > 1.0
    expected = np.repeat(np.repeat(expected_lr, 2, axis=0), 2, axis=1)
    shown = compare.shown_image()
    assert shown is not None and shown.shape == (2 * lr.shape[0], 2 * lr.shape[1])
    np.testing.assert_allclose(shown, expected, atol=1e-3 * float(np.ptp(lr)))
    # Exactly the map of the result the pane holds.
    sr = compare.sr_image()
    assert sr is not None
    exact = np.repeat(np.repeat(consistency_map(sr, lr, 2), 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(shown, exact)
    # Colour bar: symmetric, at the 99th percentile of |value| (not the maximum).
    limit = _robust(exact)
    assert limit < float(np.max(np.abs(exact)))
    _check_bar(compare, -limit, limit)
    # A user narrows the range to the 90th percentile.
    _set_spin(qtbot, compare.percentile_spin, "90")
    qtbot.waitUntil(lambda: compare.colorbar.levels()[1] == pytest.approx(_robust(exact, 90)),
                    timeout=5000)
    _check_bar(compare, -_robust(exact, 90), _robust(exact, 90))

    # The value under the mouse in the readout: a pixel of large |value|.
    row, col = np.unravel_index(int(np.argmax(np.abs(exact))), exact.shape)
    _hover_sr_pixel(qtbot, compare, int(row), int(col))
    _readout_has(qtbot, window, f"consistency {format_value(float(exact[row, col]))}")


def test_added_detail_is_zero_for_bicubic_and_outlined_where_a_model_invents_it(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path], checker: Path
) -> None:
    compare = _start(qtbot, window, small_t1, zoo["bicubic-x2"])
    _pick_mode(qtbot, compare, CompareMode.ADDED_DETAIL)
    _wait_map(qtbot, compare, "added detail")
    lr = _lr(window)
    shown = compare.shown_image()
    assert shown is not None and float(np.max(np.abs(shown))) <= 1e-3 * float(np.ptp(lr))
    assert not compare.flag_item.isVisible() or not np.any(compare.flag_item.image[..., 3])
    assert compare.k_spin.isVisible() and compare.k_spin.value() == 3.0

    # Another model adds a checkerboard no LR image could show.
    compare.model_picker.add_path(checker)
    qtbot.waitUntil(lambda: compare.current_entry is not None
                    and compare.current_entry.name == "checker-x2" and compare.complete,
                    timeout=10000)
    _wait_map(qtbot, compare, "added detail")
    qtbot.waitUntil(lambda: float(np.max(np.abs(compare.shown_image()))) > 0.01, timeout=5000)
    sr = compare.sr_image()
    assert sr is not None
    expected = added_detail(sr, lr, 2, 3.0)
    shown = compare.shown_image()
    np.testing.assert_array_equal(shown, expected.values)
    assert float(np.max(np.abs(expected.values))) > 1e-2 * float(np.ptp(lr))
    limit = _robust(expected.values)
    _check_bar(compare, -limit, limit)
    # Flagged pixels outlined in the second colour; lower k flags more.
    shown_map = compare.shown_map()
    assert shown_map is not None
    np.testing.assert_array_equal(shown_map.flagged, expected.flagged)
    before = shown_map.flagged_fraction
    assert compare.flag_item.isVisible()
    outlined = np.asarray(compare.flag_item.image)[..., 3] > 0
    assert outlined.any() and not (outlined & ~expected.flagged).any()
    _set_spin(qtbot, compare.k_spin, "1")
    qtbot.waitUntil(lambda: (m := compare.shown_map()) is not None and m.k == 1.0, timeout=5000)
    low_k = added_detail(sr, lr, 2, 1.0)
    assert compare.shown_map().flagged_fraction == low_k.flagged_fraction > before  # type: ignore[union-attr]

    # Readout over a flagged pixel says so, with the value.
    row, col = np.unravel_index(int(np.argmax(np.abs(low_k.values))), low_k.values.shape)
    _hover_sr_pixel(qtbot, compare, int(row), int(col))
    value = format_value(float(low_k.values[row, col]))
    _readout_has(qtbot, window, f"added detail {value} (flagged: > 1 σ)")


def test_difference_uses_a_robust_range_and_colour_bar(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    compare = _start(qtbot, window, small_t1, zoo["conv-x2"])
    _pick_mode(qtbot, compare, CompareMode.DIFFERENCE)
    _wait_map(qtbot, compare, "difference")
    lr = _lr(window)
    sr = compare.sr_image()
    assert sr is not None
    expected = sr - upsample(lr, 2, "bicubic")
    shown = compare.shown_image()
    assert shown is not None
    np.testing.assert_allclose(shown, expected, atol=1e-4)
    limit = _robust(expected)
    assert limit < 0.8 * float(np.max(np.abs(expected)))  # the maximum would wash it out
    _check_bar(compare, -limit, limit)
    row, col = np.unravel_index(int(np.argmax(np.abs(shown))), shown.shape)
    _hover_sr_pixel(qtbot, compare, int(row), int(col))
    _readout_has(qtbot, window, f"difference {format_value(float(shown[row, col]))}")
    # Back to side by side: the SR image, no bar, the SR value in the readout.
    _pick_mode(qtbot, compare, CompareMode.SIDE_BY_SIDE)
    assert compare.shown_map() is None and not compare.colorbar_widget.isVisible()
    np.testing.assert_array_equal(compare.shown_image(), sr)
    _hover_sr_pixel(qtbot, compare, 10, 12)
    _readout_has(qtbot, window, f"SR {format_value(float(sr[10, 12]))}")


def _expected_width(win: MainWindow, model: Path, lr: np.ndarray) -> np.ndarray:
    """2 * factor * TTA std, with the model run here on whole slices (no tiles, no engine)."""
    display = win.viewer.display
    assert display is not None
    module = torch.jit.load(str(model)).eval()
    norm = fit_intensity_map(sr_card().normalisation, display.voxels)
    outputs = []
    for k, flip in DIHEDRAL:
        x = torch.from_numpy(np.ascontiguousarray(norm.to_model(dihedral(lr, k, flip)),
                                                  np.float32))[None, None]
        with torch.no_grad():
            y = module(x)[0, 0].numpy().astype(np.float64)
        outputs.append(undo_dihedral(norm.from_model(y), k, flip))
    return 2.0 * CALIBRATION["factor"] * np.std(np.stack(outputs), axis=0)


def test_interval_width_runs_in_the_worker_for_a_calibrated_model(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path], calibrated: Path
) -> None:
    compare = _start(qtbot, window, small_t1, zoo["bicubic-x2"])
    item = compare.mode_combo.model().item(  # type: ignore[attr-defined]
        list(CompareMode).index(CompareMode.INTERVAL_WIDTH))
    assert not item.isEnabled()  # bicubic has no calibration: not offered

    threads: list[int] = []
    engine = compare.worker.engine
    original = engine.iter_interval_width

    def recording(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        threads.append(threading.get_ident())
        return (yield from original(*args, **kwargs))  # type: ignore[arg-type]

    engine.iter_interval_width = recording  # type: ignore[method-assign]
    compare.model_picker.add_path(calibrated)
    qtbot.waitUntil(lambda: compare.current_entry is not None
                    and compare.current_entry.name == "conv-x2-calibrated" and compare.complete,
                    timeout=10000)
    assert item.isEnabled()
    _pick_mode(qtbot, compare, CompareMode.INTERVAL_WIDTH)
    assert "90% interval" in compare.title.text()
    _wait_map(qtbot, compare, "interval width", timeout=30000)
    assert threads and threading.get_ident() not in threads  # never on the GUI thread

    lr = _lr(window)
    expected = _expected_width(window, calibrated, lr)
    shown = compare.shown_image()
    assert shown is not None and shown.shape == expected.shape
    assert float(np.max(expected)) > 1e-3 * float(np.ptp(lr))  # the conv model is not equivariant
    np.testing.assert_allclose(shown, expected, atol=1e-3 * float(np.ptp(lr)))
    assert float(np.min(shown)) >= 0.0
    # Sequential range: the 1st to the 99th percentile of the width.
    width = np.asarray(shown, np.float64)
    _check_bar(compare, float(np.percentile(width, 1)), _robust(width))
    assert compare.shown_map() is not None and not compare.shown_map().signed  # type: ignore[union-attr]
    row, col = np.unravel_index(int(np.argmax(shown)), shown.shape)
    _hover_sr_pixel(qtbot, compare, int(row), int(col))
    _readout_has(qtbot, window, f"interval width {format_value(float(shown[row, col]))}")

    # The next slice gets its own width (cached per slice like results).
    before = np.array(shown)
    start = window.viewer.slice_index(AXIAL)
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.viewer.slice_index(AXIAL) == start + 1
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    qtbot.waitUntil(lambda: (m := compare.shown_map()) is not None and m.kind == "interval width"
                    and not np.array_equal(compare.shown_image(), before), timeout=30000)
    np.testing.assert_allclose(compare.shown_image(), _expected_width(window, calibrated,
                                                                       _lr(window)),
                               atol=1e-3 * float(np.ptp(lr)))


def test_roi_table_gives_interval_width_and_flagged_share_per_roi(
    qtbot: QtBot, window: MainWindow, small_t1: Path, calibrated: Path
) -> None:
    """Issue #14: the ROI Metrics table gains mean interval width and % flagged per ROI."""
    from medsr_viewer.core.pane_geometry import display_plane
    from medsr_viewer.core.roi import RectangleRoi, rasterize
    from medsr_viewer.core.sr_maps import added_detail

    compare = _start(qtbot, window, small_t1, calibrated)
    display = window.viewer.display
    assert display is not None
    index = compare.shown_slice
    plane = display_plane(display, AXIAL, index)
    roi = RectangleRoi(plane, u0=10.0, v0=12.0, u1=40.0, v1=44.0, name="box")
    window.roi_editor.add(roi)
    panel = window.metrics_panel

    def sr_row() -> dict[str, float]:
        rows = [r for r in panel.records() if r.roi_id == roi.roi_id and r.grid == "sr"]
        return dict(rows[0].metrics) if rows else {}

    qtbot.waitUntil(lambda: "pct_flagged" in sr_row(), timeout=10000)
    sr = compare.sr_slice_volume()
    assert sr is not None
    mask = rasterize(roi, sr)[0]
    flags = added_detail(sr.voxels[0], _lr(window), 2, compare.k_spin.value()).flagged
    assert sr_row()["pct_flagged"] == pytest.approx(100 * float(np.mean(flags[mask])))
    assert "interval_width" not in sr_row()  # not computed for this slice yet
    _pick_mode(qtbot, compare, CompareMode.INTERVAL_WIDTH)
    _wait_map(qtbot, compare, "interval width", timeout=30000)
    qtbot.waitUntil(lambda: "interval_width" in sr_row(), timeout=10000)
    width = compare.shown_image()
    assert width is not None
    assert sr_row()["interval_width"] == pytest.approx(float(np.mean(width[mask])), rel=1e-5)
    # The table shows both columns, and the CSV export writes them.
    table = panel.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    row = next(r for r in range(table.rowCount()) if table.item(r, 1).text() == "sr")
    assert table.item(row, headers.index("% flagged")).text() == \
        f"{sr_row()['pct_flagged']:.1f}"
    assert table.item(row, headers.index("Width")).text() == \
        f"{sr_row()['interval_width']:.3g}"
