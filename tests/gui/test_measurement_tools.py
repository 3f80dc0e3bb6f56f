"""Ruler and angle tools (issue #15, "Measurement"), used as a radiologist would.

The study has anisotropic pixels (0.8 mm across, 1.2 mm down, 2.5 mm slices), so a ruler that
counted pixels, or swapped rows and columns, would measure the wrong length.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, drag, hover, open_and_wait, view_point
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.pane_geometry import view_to_plane
from medsr_viewer.core.roi import AngleRoi, RulerRoi
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.models.archive import save_torchscript

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_zoo import BicubicUp, sr_card, trust_folder_for_tests

AXIAL, CORONAL = Orientation.AXIAL, Orientation.CORONAL
LEFT = Qt.MouseButton.LeftButton
SPACING_XYZ = (0.8, 1.2, 2.5)
SCREENSHOT_DIR = Path("/tmp/measure_tools")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40x48x16 NIfTI (0.8 x 1.2 x 2.5 mm) with a bright box in a dim one."""
    data = np.full((40, 48, 16), 100.0, np.float32)
    data[10:30, 12:36, 4:12] = 400.0
    path = tmp_path_factory.mktemp("measure-study") / "phantom.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([*SPACING_XYZ, 1.0])), str(path))
    return path


def uv_at(view: SliceView, point: QPoint) -> tuple[float, float]:
    p = view.view_box.mapSceneToView(view.mapToScene(point))
    return view_to_plane(p.x(), p.y(), view.pixel_spacing)


def px_mm(view: SliceView) -> float:
    """Millimetres per screen pixel (the error of placing a point with the mouse)."""
    a = view.view_box.mapSceneToView(view.mapToScene(QPoint(0, 0)))
    b = view.view_box.mapSceneToView(view.mapToScene(QPoint(100, 0)))
    return abs(b.x() - a.x()) / 100.0


def click(qtbot: QtBot, view: SliceView, pos: QPoint) -> None:
    qtbot.wait(15)
    qtbot.mouseClick(view.viewport(), LEFT, pos=pos)


def test_ruler_measures_millimetres_and_angle_degrees_on_the_slice_drawn(
    qtbot: QtBot, main_window: MainWindow, study: Path, tmp_path: Path
) -> None:
    window = main_window
    open_and_wait(qtbot, window, [study])
    view = window.viewer.views[AXIAL]
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert window.roi_tools.tool == "ruler"

    # Along a row, 20 columns of 0.8 mm; then along a column, 20 rows of 1.2 mm.
    start, end = view_point(view, 10, 10), view_point(view, 10, 30)
    drag(qtbot, view, LEFT, start, end - start)
    across = list(window.rois)[-1]
    assert isinstance(across, RulerRoi) and across.name == "Ruler 1"
    tol = 2 * px_mm(view) + 1e-6
    assert abs(across.value - 20 * 0.8) <= tol
    start, end = view_point(view, 5, 20), view_point(view, 25, 20)
    drag(qtbot, view, LEFT, start, end - start)
    down = list(window.rois)[-1]
    assert isinstance(down, RulerRoi) and down.name == "Ruler 2"
    assert abs(down.value - 20 * 1.2) <= tol
    np.testing.assert_allclose(down.points, [uv_at(view, start), uv_at(view, end)], atol=1e-9)
    layer = window.roi_tools.layer
    assert layer.label_text(view, down.roi_id) == down.text
    assert down.text == f"{down.value:.1f} mm" and "mm" in layer.label_text(view, across.roi_id)
    # A click (no drag) makes no ruler.
    click(qtbot, view, view_point(view, 30, 30))
    assert len(window.rois) == 2

    # Angle: an end, the vertex, the other end — a right angle in world mm.
    qtbot.keyClick(window, Qt.Key.Key_A)
    assert window.roi_tools.tool == "angle"
    points = [view_point(view, 30, 30), view_point(view, 30, 10), view_point(view, 14, 10)]
    click(qtbot, view, points[0])
    click(qtbot, view, points[1])
    assert window.roi_tools.polygon_points == 2 and len(window.rois) == 2
    hover(qtbot, view, points[2])
    assert layer.sketch_visible(view)
    click(qtbot, view, points[2])
    angle = list(window.rois)[-1]
    assert isinstance(angle, AngleRoi) and angle.name == "Angle 1"
    assert abs(angle.value - 90.0) < 1.0
    assert layer.label_text(view, angle.roi_id) == angle.text
    # Esc drops an angle half clicked.
    click(qtbot, view, points[0])
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.roi_tools.polygon_points == 0 and len(window.rois) == 3

    # Measurements are not regions: the ROI Metrics table has no row for them, and the
    # dock does not open for them.
    assert window.metrics_panel.records() == []
    assert not window.metrics_dock.isVisible()

    # Navigate: grab the ruler's end handle and drag it; the length follows. Undo restores.
    qtbot.keyClick(window, Qt.Key.Key_N)
    click(qtbot, view, view_point(view, 15, 20))  # on the vertical ruler's line
    assert window.roi_tools.selected_id == down.roi_id
    end_handle = view_point(view, 25, 20)
    drag(qtbot, view, LEFT, end_handle, view_point(view, 35, 20) - end_handle)
    longer = window.rois[down.roi_id]
    assert abs(longer.value - 30 * 1.2) <= tol and longer.points[0] == down.points[0]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.rois[down.roi_id] == down

    # Another slice does not show them; the coronal pane neither (they lie in one slice).
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert layer.label_text(view, down.roi_id) == ""
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert layer.label_text(view, down.roi_id) == down.text
    assert layer.shown(window.viewer.views[CORONAL]) == {}

    # Exported with the ROIs (value and unit for other tools) and kept in the session.
    exported = window.roi_files.export_rois(tmp_path / "rois.json")
    assert exported is not None
    entries = {e["name"]: e for e in json.loads(exported.read_text())["rois"]}
    assert entries["Ruler 2"]["measurement"] == {"value": down.value, "unit": "mm"}
    assert math.isclose(entries["Angle 1"]["measurement"]["value"], angle.value)
    session = window.session.save(tmp_path / "m.medsr-session.json")
    assert session is not None
    rois = list(window.rois)
    window.roi_tools.reset()
    assert len(window.rois) == 0
    with qtbot.waitSignal(window.session.restored, timeout=30000):
        assert window.session.open(session)
    assert list(window.rois) == rois
    qtbot.waitUntil(lambda: layer.label_text(view, angle.roi_id) == angle.text, timeout=5000)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SCREENSHOT_DIR / "measure.png"))


def test_ruler_drawn_on_the_original_shows_on_the_sr_pane(
    qtbot: QtBot, tmp_path: Path, study: Path
) -> None:
    model = tmp_path / "models" / "bicubic-x2.pt"
    model.parent.mkdir()
    save_torchscript(BicubicUp(2), sr_card("bicubic-x2", 2), model)
    trust_folder_for_tests(model.parent)
    window = cpu_model_window(qtbot, tmp_path, model.parent, (1200, 650))
    try:
        open_and_wait(qtbot, window, [study])
        window.compare.model_picker.add_path(model)
        qtbot.keyClick(window, Qt.Key.Key_S)
        qtbot.waitUntil(lambda: window.compare.complete, timeout=10000)
        sr, original = window.compare.sr_view, window.compare.original_view
        window.roi_tools.set_tool("ruler")
        start, end = view_point(original, 12, 12), view_point(original, 28, 34)
        drag(qtbot, original, LEFT, start, end - start)
        ruler = list(window.rois)[-1]
        assert isinstance(ruler, RulerRoi)
        layer = window.roi_tools.layer
        assert layer.label_text(sr, ruler.roi_id) == ruler.text
        assert layer.label_text(original, ruler.roi_id) == ruler.text
        # The same line on both panes, in the same view millimetres.
        np.testing.assert_allclose(layer.shown(sr)[ruler.roi_id].outline,
                                   layer.shown(original)[ruler.roi_id].outline, atol=1e-9)
        expected = math.hypot(22 * 0.8, 16 * 1.2)
        assert abs(ruler.value - expected) <= 2 * px_mm(original) + 1e-6
    finally:
        close_model_window(window)
