"""Issue #4's "done when", as a user does it: label map, SR on, freehand ROI drawn on the SR
pane with the mouse, metrics read, CSV exported, undo/redo, session saved and restored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, label_here, path_drag, view_point
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot
from skimage.measure import points_in_poly
from test_metrics_panel import LESION, flair_pair, open_flair_with_labels  # noqa: F401

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.metrics.export import read_metrics_csv
from medsr_viewer.core.roi import FreehandRoi
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.slice_view import SliceView

AXIAL = Orientation.AXIAL
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def windows(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[list[MainWindow]]:
    """Two windows (a first run of the app, and a later one) sharing settings."""
    made = [cpu_model_window(qtbot, tmp_path, zoo["bicubic-x2"].parent, (1300, 850), show=False)
            for _ in range(2)]
    yield made
    for win in made:
        close_model_window(win)


def lasso(qtbot: QtBot, view: SliceView, centre: tuple[float, float], radius: float) -> None:
    """Freehand: press, circle around ``centre`` (display row, col) and release."""
    points: list[QPoint] = [
        view_point(view, centre[0] + radius * np.sin(t), centre[1] + radius * np.cos(t))
        for t in np.linspace(0, 2 * np.pi, 28)]
    path_drag(qtbot, view, points)


def inside(roi: FreehandRoi, shape: tuple[int, int], spacing: tuple[float, float],
           scale: int = 1) -> np.ndarray:
    """Pixel centres inside the drawn polygon, computed with scikit-image in display pixels."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(float)
    u = ((cols + 0.5) / scale - 0.5) * spacing[1]
    v = ((rows + 0.5) / scale - 0.5) * spacing[0]
    points = np.stack([u.ravel(), v.ravel()], axis=1)
    return points_in_poly(points, np.asarray(roi.vertices)).reshape(shape)


def test_freehand_on_the_sr_pane_metrics_export_undo_and_session(
    qtbot: QtBot, windows: list[MainWindow], flair_pair: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    win, later = windows
    win.show()
    qtbot.waitExposed(win)
    open_flair_with_labels(qtbot, win, flair_pair)
    win.metrics_dock.show()
    qtbot.keyClick(win, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)
    qtbot.wait(50)

    index = win.viewer.slice_index(AXIAL)
    labels = np.asarray(DisplayVolume(win.active_label_map().volume).slice_array(AXIAL, index))
    rows, cols = np.nonzero(labels == LESION)
    sr_view = win.compare.sr_view
    qtbot.keyClick(win, Qt.Key.Key_F)  # freehand tool
    lasso(qtbot, sr_view, (rows.mean(), cols.mean()), 6.0)
    (roi,) = list(win.rois)
    assert isinstance(roi, FreehandRoi)
    spacing = win.viewer.display.pixel_spacing(AXIAL)
    assert roi.area_mm2 == pytest.approx(np.pi * 36 * spacing[0] * spacing[1], rel=0.15)

    qtbot.waitUntil(lambda: len(win.metrics_panel.records()) == 3, timeout=5000)
    original, sr, delta = win.metrics_panel.records()
    mask = inside(roi, labels.shape, spacing)
    ref = label_here(labels == LESION, mask)  # the lesion near the ROI (1 mm pixels)
    dice = 2 * (mask & ref).sum() / (mask.sum() + ref.sum())
    assert original.label.startswith(str(LESION))
    assert original.metrics["count"] == mask.sum()
    assert original.metrics["dice"] == pytest.approx(dice, abs=1e-9)
    assert original.metrics["iou"] == pytest.approx((mask & ref).sum() / (mask | ref).sum())
    assert np.isfinite(original.metrics["hd95_mm"]) and original.metrics["hd_max_mm"] >= \
        original.metrics["hd95_mm"]
    image = np.asarray(win.viewer.display.slice_array(AXIAL, index))
    assert original.metrics["mean"] == pytest.approx(image[mask].mean(), rel=1e-6)
    sr_image = win.compare.sr_image()
    fine = inside(roi, sr_image.shape, spacing, scale=2)
    assert sr.metrics["count"] == fine.sum()
    assert sr.metrics["mean"] == pytest.approx(sr_image[fine].mean(), rel=1e-5)
    assert delta.metrics["mean"] == pytest.approx(sr.metrics["mean"] - original.metrics["mean"])

    csv = win.roi_files.export_metrics(tmp_path / "metrics.csv")
    assert csv is not None
    exported = read_metrics_csv(csv)
    for got, want in zip(exported, (original, sr, delta), strict=True):
        for key, value in want.metrics.items():
            assert got.metrics[key] == (
                    None if value is None else pytest.approx(value, rel=1e-9, abs=1e-12))

    qtbot.keyClick(win, Qt.Key.Key_Z, CTRL)
    assert len(win.rois) == 0
    qtbot.waitUntil(lambda: win.metrics_panel.table.rowCount() == 0, timeout=3000)
    qtbot.keyClick(win, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert list(win.rois) == [roi]
    # the history survives a model run on another slice
    win.viewer.step_slice(1)
    qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)
    win.viewer.step_slice(-1)
    qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)
    assert win.history.can_undo and win.history.undo_text == "Add freehand ROI"

    session = win.session.save(tmp_path / "review.medsr-session.json")
    assert session is not None
    later.show()
    qtbot.waitExposed(later)
    with qtbot.waitSignal(later.session.restored, timeout=30000):
        later.session.open(session)
    assert list(later.rois) == [roi]
    qtbot.waitUntil(lambda: later.compare.complete, timeout=10000)
    qtbot.waitUntil(lambda: len(later.metrics_panel.records()) == 3, timeout=5000)
    for got, want in zip(later.metrics_panel.records(), (original, sr, delta), strict=True):
        assert got.metrics == pytest.approx(want.metrics)
