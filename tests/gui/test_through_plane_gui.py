"""Through-plane SR in the viewer (issue #13): the coronal reformat of a thick-slice MR study.

A crop of the real 2.4 mm proton-density study is opened, the bundled ``sr-through-plane``
model picked and S pressed: the axial pane says why nothing is shown there, the coronal view
(key 2) fills the SR pane with a reformat on the isotropic slice grid, exactly what the model
computes for that plane, over the original's world extent. Adapting to the study runs in the
background from the pane's button and stops with Stop, and the pane then recomputes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, open_and_wait, write_nifti_crop
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import PLANE_AXES, Orientation
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.roi import EllipseRoi, rasterize
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.models.through_plane.study_run import ThroughPlaneProcessor

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"
NAME = "sr-through-plane"


@pytest.fixture(scope="module")
def thick_pd(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 96 x 112 x 54 crop of chris_PD (0.86 x 0.86 x 2.4 mm, all its slices)."""
    return write_nifti_crop(data_dir / "mri_ct" / "chris_PD.nii.gz",
                            np.s_[48:144, 70:182, :],
                            tmp_path_factory.mktemp("tp-data") / "pd_crop.nii.gz", np.float32)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    win = cpu_model_window(qtbot, tmp_path, MODELS, (1300, 700))
    yield win
    close_model_window(win)


def _switch_on(qtbot: QtBot, win: MainWindow, study: Path) -> None:
    open_and_wait(qtbot, win, [study])
    picker = win.compare.model_picker
    index = picker.findText(NAME, Qt.MatchFlag.MatchStartsWith)
    assert index >= 0, [picker.itemText(i) for i in range(picker.count())]
    picker.setCurrentIndex(index)
    qtbot.keyClick(win, Qt.Key.Key_S)
    assert win.sr_action.isChecked()


def test_coronal_reformat_is_shown_on_the_isotropic_grid(qtbot: QtBot, window: MainWindow,
                                                         thick_pd: Path) -> None:
    _switch_on(qtbot, window, thick_pd)
    compare = window.compare
    # Axial: the acquired slices are already sharp; the pane says where to look instead.
    qtbot.waitUntil(lambda: "coronal or sagittal" in compare.title.text(), timeout=20000)
    assert compare.sr_image() is None
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert compare.orientation == Orientation.CORONAL
    qtbot.waitUntil(lambda: compare.complete, timeout=60000)
    display = window.viewer.display
    assert display is not None
    rows, cols = display.slice_shape(Orientation.CORONAL)
    shown = compare.sr_image()
    assert shown is not None
    iso = int(54 * display.volume.spacing[0] / min(display.volume.spacing[1:]) + 0.5)
    assert shown.shape == (iso, cols) and rows == 54
    # Same world extent as the original pane: the image fills the same rectangle.
    assert compare.sr_item.mapRectToParent(compare.sr_item.boundingRect()) == \
        compare.sr_view.image_rect()
    # Exactly the model's result for this plane, drawn the way up the original is drawn.
    model_volume = compare._model_volume
    assert model_volume is not None
    entry = compare.current_entry
    assert entry is not None
    engine = compare.worker.engine
    loaded = engine.model(engine.resolve(str(entry.path)), None)[0]
    processor = ThroughPlaneProcessor(loaded, model_volume, None, 0)
    gen = processor.iter_reformat(PLANE_AXES[Orientation.CORONAL].slice_axis,
                                  window.viewer.slice_index(Orientation.CORONAL))
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            expected = stop.value
            break
    if PLANE_AXES[Orientation.CORONAL].row_flip:
        expected = expected[::-1]
    np.testing.assert_allclose(shown, expected, rtol=1e-5, atol=1e-3)
    # Each original slice is the mean of the SR rows it covers, nearly: the model sharpens,
    # it does not move anatomy.
    original = display.slice_array(Orientation.CORONAL, window.viewer.slice_index(
        Orientation.CORONAL))
    edges = np.rint(np.linspace(0, iso, rows + 1)).astype(int)
    means = np.stack([shown[a:b].mean(axis=0) for a, b in itertools.pairwise(edges)])
    span = float(original.max() - original.min())
    assert float(np.median(np.abs(means - original))) < 0.03 * span
    assert "through-plane" in compare.title.text()
    # ROI metrics measure the SR pane on its own grid: a one-slice volume over the same
    # world rectangle as the original slice.
    grid = compare.sr_slice_volume()
    assert grid is not None and grid.shape == (1, iso, cols)
    index = window.viewer.slice_index(Orientation.CORONAL)
    first = display.display_to_world(Orientation.CORONAL, -0.5, -0.5, index)
    last = display.display_to_world(Orientation.CORONAL, rows - 0.5, cols - 0.5, index)
    np.testing.assert_allclose(grid.index_to_world(np.array([[0.0, -0.5, -0.5]]))[0], first,
                               atol=1e-4)
    np.testing.assert_allclose(
        grid.index_to_world(np.array([[0.0, iso - 0.5, cols - 0.5]]))[0], last, atol=1e-4)
    # An ROI on the coronal pane gets an SR row measured on that grid: the same area in mm²,
    # ~2.8x the pixels, the mean of the SR pixels inside it.
    row_mm, col_mm = display.pixel_spacing(Orientation.CORONAL)
    roi = EllipseRoi(display_plane(display, Orientation.CORONAL, index), cu=cols / 2 * col_mm,
                     cv=rows / 2 * row_mm, ru=12.0, rv=9.0, name="through-plane roi")
    window.roi_editor.add(roi)
    qtbot.waitUntil(lambda: len(window.metrics_panel.records()) == 3, timeout=10000)
    original_row, sr_row, _delta = window.metrics_panel.records()
    assert sr_row.grid == "sr" and sr_row.model == NAME
    assert sr_row.metrics["area_mm2"] == pytest.approx(original_row.metrics["area_mm2"], rel=0.06)
    assert sr_row.metrics["count"] > 2.5 * original_row.metrics["count"]
    inside = rasterize(roi, grid)[0]
    assert sr_row.metrics["mean"] == pytest.approx(float(shown[inside].mean()), rel=1e-5)


def test_adapting_from_the_pane_runs_in_the_background_and_stops(
        qtbot: QtBot, window: MainWindow, thick_pd: Path) -> None:
    _switch_on(qtbot, window, thick_pd)
    compare = window.compare
    qtbot.keyClick(window, Qt.Key.Key_3)  # sagittal
    qtbot.waitUntil(lambda: compare.complete, timeout=60000)
    before = compare.sr_image()
    controls = compare.through_controls
    assert controls.isVisible() and controls.adapt_button.isVisible()
    qtbot.mouseClick(controls.adapt_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "step" in controls.info.text(), timeout=30000)
    assert compare.adapting and controls.stop_button.isVisible()
    # The viewer stays usable while it adapts: page a slice and back.
    qtbot.keyClick(window, Qt.Key.Key_Up)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.mouseClick(controls.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "adapted to this study" in controls.info.text(), timeout=30000)
    assert not compare.adapting and not controls.stop_button.isVisible()
    assert "stopped early" in controls.info.text()
    # The pane recomputes the slice with the adapted model (its own results, not the cache).
    assert before is not None
    qtbot.waitUntil(lambda: compare.complete and (after := compare.sr_image()) is not None
                    and not np.array_equal(after, before), timeout=60000)
