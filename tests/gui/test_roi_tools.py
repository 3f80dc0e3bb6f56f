"""ROI tools in the GUI (issue #4): draw, select, move, resize, delete, undo, as a user would.

The study is a small synthetic NIfTI with anisotropic voxels (0.8 x 1.2 x 2.5 mm) so that a
confusion of pixels with millimetres, or of rows with columns, shows in world coordinates.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import (
    close_model_window,
    cpu_model_window,
    drag,
    open_and_wait,
    path_drag,
    view_point,
)
from PySide6.QtCore import QPoint, QPointF, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.pane_geometry import display_slice_volume, view_to_plane
from medsr_viewer.core.roi import (
    BrushRoi,
    EllipseRoi,
    FreehandRoi,
    PolygonRoi,
    RectangleRoi,
    Roi,
    rasterize,
)
from medsr_viewer.gui.layers.roi_tools import Tool
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.models.archive import save_torchscript

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_zoo import BicubicUp, sr_card, trust_folder_for_tests

AXIAL, CORONAL = Orientation.AXIAL, Orientation.CORONAL
SPACING_XYZ = (0.8, 1.2, 2.5)
SHAPE_XYZ = (40, 48, 16)
SCREENSHOT_DIR = Path("/tmp/roi_tools")
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40x48x16 NIfTI (RAS, 0.8 x 1.2 x 2.5 mm): a bright ellipsoid in a dim box."""
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in SHAPE_XYZ), indexing="ij")
    data = (100 + 300 * ((x / 0.7) ** 2 + (y / 0.8) ** 2 + (z / 0.9) ** 2 < 1)
            + 40 * x + 20 * y).astype(np.float32)
    path = tmp_path_factory.mktemp("roi-study") / "phantom.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([*SPACING_XYZ, 1.0])), str(path))
    return path


@pytest.fixture
def window(main_window: MainWindow, qtbot: QtBot, study: Path) -> MainWindow:
    """The main window showing the phantom in the single axial layout.

    The ROI Metrics dock appears with the first ROI; it is opened up front here so the panes
    do not shrink between the gestures of one test (positions are computed in advance).
    """
    open_and_wait(qtbot, main_window, [study])
    main_window.metrics_dock.show()
    qtbot.wait(20)
    return main_window


# ---------------------------------------------------------------- helpers


def view_mm(view: SliceView, point: QPoint) -> tuple[float, float]:
    """View millimetres of a viewport pixel of a pane."""
    p = view.view_box.mapSceneToView(view.mapToScene(point))
    return (p.x(), p.y())


def uv_at(view: SliceView, point: QPoint) -> tuple[float, float]:
    """In-plane (u, v) of the pane's slice plane under a viewport pixel."""
    return view_to_plane(*view_mm(view, point), view.pixel_spacing)


def double_click(qtbot: QtBot, view: SliceView, pos: QPoint) -> None:
    """A real double-click: press, release, double-click press, release.

    (``QTest.mouseDClick`` sends only the double-click press, and pyqtgraph reports clicks on
    release.)
    """
    viewport = view.viewport()
    qtbot.wait(15)
    qtbot.mouseClick(viewport, LEFT, pos=pos)
    qtbot.mouseDClick(viewport, LEFT, pos=pos)
    qtbot.mouseRelease(viewport, LEFT, pos=pos)


def pixel_count(roi: Roi, view: SliceView) -> int:
    """Pixels of the pane's slice inside ``roi`` (the metrics' rule)."""
    display = view.display
    assert display is not None
    image = display.slice_array(view.orientation, view.slice_index)
    grid = display_slice_volume(display, view.orientation, view.slice_index, np.asarray(image))
    return int(rasterize(roi, grid).sum())


def only_roi(window: MainWindow) -> Roi:
    rois = list(window.rois)
    assert len(rois) == 1
    return rois[0]


def screen_px_mm(view: SliceView) -> float:
    """Millimetres per screen pixel of a pane (same in x and y: 1:1 aspect)."""
    a, b = view_mm(view, QPoint(0, 0)), view_mm(view, QPoint(100, 0))
    return (b[0] - a[0]) / 100.0


# ---------------------------------------------------------------- drawing


def test_rectangle_and_ellipse_drags_make_the_dragged_world_shapes(
    qtbot: QtBot, window: MainWindow
) -> None:
    tools = window.roi_tools
    view = window.viewer.views[AXIAL]
    tol = screen_px_mm(view) + 1e-6
    assert tools.tool == "navigate"
    qtbot.keyClick(window, Qt.Key.Key_Q)
    assert tools.tool == "rectangle" and tools.tool_actions[Tool.RECTANGLE].isChecked()
    # From 0.4 pixel before the centre of display pixel (10, 8) to 0.4 after (30, 25).
    start, end = view_point(view, 9.6, 7.6), view_point(view, 30.4, 25.4)
    drag(qtbot, view, LEFT, start, end - start)
    rect = only_roi(window)
    assert isinstance(rect, RectangleRoi)
    (u0, v0), (u1, v1) = uv_at(view, start), uv_at(view, end)
    np.testing.assert_allclose(rect.bounds_uv(), (u0, v0, u1, v1), atol=tol)
    # World: the plane is the axial slice shown, corners land on the dragged pixels' centres.
    display = window.viewer.display
    assert display is not None
    corner = display.display_to_world(AXIAL, 9.6, 7.6, view.slice_index)
    np.testing.assert_allclose(rect.plane.to_world((rect.u0, rect.v0)), corner, atol=tol)
    assert (rect.name, tools.selected_id) == ("ROI 1", rect.roi_id)
    assert tools.layer.outline_path(view, rect.roi_id) is not None
    # 21 x 18 pixel centres inside.
    assert pixel_count(rect, view) == 21 * 18

    # A click without a drag makes nothing.
    qtbot.mouseClick(view.viewport(), LEFT, pos=view_point(view, 5, 5))
    assert len(window.rois) == 1

    qtbot.keyClick(window, Qt.Key.Key_E)
    assert tools.tool == "ellipse"
    start, end = view_point(view, 14, 12), view_point(view, 40, 34)
    drag(qtbot, view, LEFT, start, end - start)
    assert len(window.rois) == 2
    ellipse = list(window.rois)[-1]
    assert isinstance(ellipse, EllipseRoi)
    (u0, v0), (u1, v1) = uv_at(view, start), uv_at(view, end)
    np.testing.assert_allclose(
        (ellipse.cu, ellipse.cv, ellipse.ru, ellipse.rv),
        ((u0 + u1) / 2, (v0 + v1) / 2, (u1 - u0) / 2, (v1 - v0) / 2), atol=tol)
    row_mm, col_mm = view.pixel_spacing
    area_px = pixel_count(ellipse, view) * row_mm * col_mm
    assert area_px == pytest.approx(ellipse.area_mm2, rel=0.06)
    assert ellipse.name == "ROI 2" and ellipse.color != rect.color
    assert tools.selected_id == ellipse.roi_id
    assert window.history.undo_text == "Add ellipse ROI"
    assert window.roi_tools.undo_action.text() == "&Undo Add ellipse ROI"


def test_freehand_lasso_is_the_closed_mouse_path(qtbot: QtBot, window: MainWindow) -> None:
    view = window.viewer.views[AXIAL]
    window.roi_tools.set_tool("freehand")
    corners = [(8, 8), (8, 30), (30, 30)]  # a right triangle in display pixels
    points = []
    for (r0, c0), (r1, c1) in zip(corners, corners[1:] + corners[:1], strict=True):
        for t in np.linspace(0, 1, 6, endpoint=False):
            points.append(view_point(view, r0 + t * (r1 - r0), c0 + t * (c1 - c0)))
    path_drag(qtbot, view, points)
    lasso = only_roi(window)
    assert isinstance(lasso, FreehandRoi)
    row_mm, col_mm = view.pixel_spacing
    expected_area = 0.5 * (22 * col_mm) * (22 * row_mm)
    assert lasso.area_mm2 == pytest.approx(expected_area, rel=0.05)
    np.testing.assert_allclose(lasso.vertices[0], uv_at(view, points[0]), atol=1e-9)
    assert len(lasso.vertices) >= 12


def test_polygon_by_clicks_and_double_click_enter_and_esc(
    qtbot: QtBot, window: MainWindow
) -> None:
    tools = window.roi_tools
    view = window.viewer.views[AXIAL]
    viewport = view.viewport()
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert tools.tool == "polygon"
    clicks = [view_point(view, r, c) for r, c in [(6, 6), (6, 30), (30, 30)]]
    for point in clicks:
        qtbot.wait(15)
        qtbot.mouseClick(viewport, LEFT, pos=point)
    assert tools.polygon_points == 3 and len(window.rois) == 0
    assert tools.layer.sketch_visible(view)
    last = view_point(view, 30, 6)
    qtbot.wait(15)
    double_click(qtbot, view, last)
    polygon = only_roi(window)
    assert isinstance(polygon, PolygonRoi) and not isinstance(polygon, FreehandRoi)
    expected = [uv_at(view, p) for p in [*clicks, last]]
    np.testing.assert_allclose(polygon.vertices, expected, atol=1e-9)
    assert not tools.layer.sketch_visible(view) and tools.polygon_points == 0

    # Enter closes, Esc cancels (and a second Esc returns to Navigate).
    for point in [view_point(view, r, c) for r, c in [(35, 5), (35, 20), (45, 12)]]:
        qtbot.wait(15)
        qtbot.mouseClick(viewport, LEFT, pos=point)
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert len(window.rois) == 2 and isinstance(list(window.rois)[-1], PolygonRoi)
    for point in [view_point(view, r, c) for r, c in [(2, 2), (2, 12)]]:
        qtbot.wait(15)
        qtbot.mouseClick(viewport, LEFT, pos=point)
    assert tools.polygon_points == 2
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert tools.polygon_points == 0 and tools.tool == "polygon" and len(window.rois) == 2
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert tools.tool == "navigate"

    # A degenerate polygon (two vertices) makes no ROI.
    tools.set_tool("polygon")
    qtbot.wait(15)
    qtbot.mouseClick(viewport, LEFT, pos=view_point(view, 2, 2))
    double_click(qtbot, view, view_point(view, 2, 12))
    assert len(window.rois) == 2 and tools.polygon_points == 0
    assert "three vertices" in window.statusBar().currentMessage()


def test_brush_stroke_then_eraser_stroke_change_the_mask(
    qtbot: QtBot, window: MainWindow
) -> None:
    tools = window.roi_tools
    view = window.viewer.views[AXIAL]
    # The eraser with no brush ROI selected erases nothing and does not pan.
    qtbot.keyClick(window, Qt.Key.Key_X)
    before = view.view_box.viewRange()
    drag(qtbot, view, LEFT, view_point(view, 10, 10), QPoint(50, 30))
    assert len(window.rois) == 0 and view.view_box.viewRange() == before
    assert "Select a brush ROI" in window.statusBar().currentMessage()
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert tools.tool == "brush" and tools.brush_radius == 3.0
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert tools.brush_radius == 4.0 and tools.radius_spin.value() == 4.0
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert tools.brush_radius == 3.5
    start, end = view_point(view, 24, 6), view_point(view, 24, 34)
    drag(qtbot, view, LEFT, start, end - start)
    brush = only_roi(window)
    assert isinstance(brush, BrushRoi) and len(brush.strokes) == 1
    assert brush.strokes[0].radius == 3.5 and not brush.strokes[0].erase
    painted = pixel_count(brush, view)
    # The pixel centres within 3.5 mm of the dragged segment (a capsule).
    row_mm, col_mm = view.pixel_spacing
    (u0, v0), (u1, _) = uv_at(view, start), uv_at(view, end)
    rows, cols = np.mgrid[0:48, 0:40]
    du = np.clip(cols * col_mm, u0, u1) - cols * col_mm
    assert painted == int(np.sum(du**2 + (rows * row_mm - v0) ** 2 <= 3.5**2)) > 100
    assert tools.selected_id == brush.roi_id
    mask = tools.layer.mask_image(view)
    assert mask is not None and int((mask[..., 3] > 0).sum()) == painted

    # A second brush stroke adds to the selected brush ROI (one more undo step).
    start2, end2 = view_point(view, 30, 20), view_point(view, 40, 20)
    drag(qtbot, view, LEFT, start2, end2 - start2)
    brush = only_roi(window)
    assert isinstance(brush, BrushRoi) and len(brush.strokes) == 2
    more = pixel_count(brush, view)
    assert more > painted

    qtbot.keyClick(window, Qt.Key.Key_X)
    assert tools.tool == "eraser"
    start3, end3 = view_point(view, 10, 20), view_point(view, 38, 20)  # across the stroke
    drag(qtbot, view, LEFT, start3, end3 - start3)
    brush = only_roi(window)
    assert isinstance(brush, BrushRoi) and brush.strokes[-1].erase
    erased = pixel_count(brush, view)
    assert 0 < erased < more
    # The eraser's corridor (radius 3.5 mm around column 20) is clear on row 24.
    x_mm = view.display_to_view(24, 20)[0]
    mask = tools.layer.mask_image(view)
    assert mask is not None and mask[24, 20, 3] == 0 and mask[24, 8, 3] > 0
    assert int((mask[..., 3] > 0).sum()) == erased and x_mm > 0
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert pixel_count(only_roi(window), view) == more
    assert window.history.redo_text == "Erase"


# ---------------------------------------------------------------- editing


def _draw_rectangle(qtbot: QtBot, window: MainWindow, view: SliceView,
                    a: tuple[int, int], b: tuple[int, int]) -> RectangleRoi:
    """Drag a rectangle holding display pixels ``a`` to ``b`` (0.4 pixel margins)."""
    window.roi_tools.set_tool("rectangle")
    start = view_point(view, a[0] - 0.4, a[1] - 0.4)
    end = view_point(view, b[0] + 0.4, b[1] + 0.4)
    drag(qtbot, view, LEFT, start, end - start)
    window.roi_tools.set_tool("navigate")
    roi = list(window.rois)[-1]
    assert isinstance(roi, RectangleRoi)
    return roi


def test_select_move_undo_redo_resize_delete(qtbot: QtBot, window: MainWindow) -> None:
    tools = window.roi_tools
    view = window.viewer.views[AXIAL]
    viewport = view.viewport()
    rect = _draw_rectangle(qtbot, window, view, (10, 10), (20, 24))
    range_before = view.view_box.viewRange()

    # Click elsewhere deselects (and still sets the point); click inside selects.
    qtbot.mouseClick(viewport, LEFT, pos=view_point(view, 40, 35))
    assert tools.selected_id == ""
    with qtbot.waitSignal(tools.selectionChanged) as blocker:
        qtbot.mouseClick(viewport, LEFT, pos=view_point(view, 15, 15))
    assert blocker.args == [rect.roi_id] and tools.selected_id == rect.roi_id
    assert len(tools.layer.handle_points(view)) == 4

    # Drag the selected ROI: it moves by the dragged mm, the view does not pan.
    start, end = view_point(view, 15, 15), view_point(view, 27, 21)
    drag(qtbot, view, LEFT, start, end - start)
    moved = window.rois[rect.roi_id]
    (sx, sy), (ex, ey) = view_mm(view, start), view_mm(view, end)
    np.testing.assert_allclose(
        np.subtract(moved.bounds_uv(), rect.bounds_uv()), (ex - sx, ey - sy) * 2, atol=1e-6)
    np.testing.assert_allclose(view.view_box.viewRange(), range_before, atol=1e-9)
    assert len(window.history) == 2 and window.history.undo_text == "Move ROI"
    assert tools.undo_action.text() == "&Undo Move ROI"

    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert window.rois[rect.roi_id] == rect  # exactly restored
    assert tools.redo_action.text() == "&Redo Move ROI" and tools.redo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert window.rois[rect.roi_id] == moved
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(window, Qt.Key.Key_Y, CTRL)
    assert window.rois[rect.roi_id] == moved

    # History survives slice changes; the ROI is not shown on another slice.
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert tools.layer.shown(view) == {}
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert rect.roi_id in tools.layer.shown(view) and len(window.history) == 2

    # Resize by the bottom-right handle (corner u1, v1).
    handle = tools.layer.handle_points(view)[2]
    grab = view.mapFromScene(view.view_box.mapViewToScene(QPointF(*map(float, handle))))
    target = view_point(view, 40, 36)
    drag(qtbot, view, LEFT, grab, target - grab)
    resized = window.rois[rect.roi_id]
    assert isinstance(resized, RectangleRoi)
    u1, v1 = uv_at(view, target)
    tol = screen_px_mm(view) + 1e-6
    np.testing.assert_allclose(resized.bounds_uv(), (moved.bounds_uv()[0], moved.bounds_uv()[1],
                                                     u1, v1), atol=tol)
    assert window.history.undo_text == "Resize ROI" and len(window.history) == 3

    # Delete (key) and undo.
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert rect.roi_id not in window.rois and tools.selected_id == ""
    assert tools.layer.shown(view) == {} and not tools.delete_action.isEnabled()
    assert tools.undo_action.text() == "&Undo Delete ROI"
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert window.rois[rect.roi_id] == resized and rect.roi_id in tools.layer.shown(view)


def test_navigate_drag_on_empty_space_still_pans(qtbot: QtBot, window: MainWindow) -> None:
    view = window.viewer.views[AXIAL]
    _draw_rectangle(qtbot, window, view, (10, 10), (20, 20))
    before = view.view_box.viewRange()
    start = view_point(view, 40, 34)
    drag(qtbot, view, LEFT, start, QPoint(60, 40))
    after = view.view_box.viewRange()
    shift = screen_px_mm(view)
    assert after[0][0] == pytest.approx(before[0][0] - 60 * shift, abs=2 * shift)
    assert after[1][0] == pytest.approx(before[1][0] - 40 * shift, abs=2 * shift)
    assert len(window.rois) == 1 and len(window.history) == 1


def test_axial_roi_shows_where_it_cuts_the_coronal_slice(
    qtbot: QtBot, window: MainWindow
) -> None:
    qtbot.keyClick(window, Qt.Key.Key_4)  # three planes
    axial, coronal = window.viewer.views[AXIAL], window.viewer.views[CORONAL]
    qtbot.wait(20)
    rect = _draw_rectangle(qtbot, window, axial, (12, 6), (30, 26))
    display = window.viewer.display
    assert display is not None
    k = axial.slice_index
    # Put the coronal slice through the rectangle (rows of the axial image are canonical y).
    cursor = window.viewer.cursor_point
    cursor[1] = 20
    window.viewer.set_cursor(cursor)
    assert coronal.slice_index == 20
    drawn = window.roi_tools.layer.shown(coronal)
    assert rect.roi_id in drawn and not drawn[rect.roi_id].in_slice
    mask = window.roi_tools.layer.mask_image(coronal)
    assert mask is not None
    rows, cols = np.nonzero(mask[..., 3])
    nz = display.shape[0]
    assert set(rows.tolist()) == {nz - 1 - k}  # superior at the top: rows are flipped z
    col_mm = axial.pixel_spacing[1]
    inside = [c for c in range(display.shape[2]) if rect.u0 <= c * col_mm <= rect.u1]
    assert sorted(cols.tolist()) == inside == list(range(6, 27))
    assert tuple(mask[rows[0], cols[0], :3]) == rect.color
    # Outside the rectangle's rows the coronal slice shows nothing.
    cursor[1] = 35
    window.viewer.set_cursor(cursor)
    assert window.roi_tools.layer.mask_image(coronal) is None
    # Not selectable there: a click on the line sets the point instead.
    cursor[1] = 20
    window.viewer.set_cursor(cursor)
    window.roi_tools.select("")
    qtbot.mouseClick(coronal.viewport(), LEFT, pos=view_point(coronal, nz - 1 - k, 15))
    assert window.roi_tools.selected_id == ""


def test_drawings_are_cached_per_roi_and_slice(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medsr_viewer.gui.layers import roi_layer

    calls: list[str] = []
    real = roi_layer.rasterize

    def counting(roi: Roi, grid: object) -> np.ndarray:
        calls.append(roi.roi_id)
        return real(roi, grid)  # type: ignore[arg-type]

    monkeypatch.setattr(roi_layer, "rasterize", counting)
    view = window.viewer.views[AXIAL]
    _draw_rectangle(qtbot, window, view, (10, 10), (20, 20))
    window.viewer.step_slice(1)
    window.viewer.step_slice(-1)
    first = len(calls)
    assert first > 0  # the rectangle was rasterised for the other slices and planes
    for _ in range(3):
        window.viewer.step_slice(1)
        window.viewer.step_slice(-1)
    assert len(calls) == first  # nothing recomputed: every (ROI, slice) was cached


def test_tool_state_api_and_new_study_clears_rois_and_history(
    qtbot: QtBot, window: MainWindow, study: Path
) -> None:
    tools = window.roi_tools
    view = window.viewer.views[AXIAL]
    names = [a.text() for a in window.menuBar().actions()]
    assert names[:2] == ["&File", "&Edit"] and "&Tools" in names
    with qtbot.waitSignal(tools.toolChanged) as blocker:
        tools.set_tool("ellipse")
    assert blocker.args == ["ellipse"] and tools.tool_actions[Tool.ELLIPSE].isChecked()
    tools.set_brush_radius(100)
    assert tools.brush_radius == 50.0
    tools.radius_spin.setValue(2.5)
    assert tools.brush_radius == 2.5
    with pytest.raises(ValueError):
        tools.set_tool("scissors")
    rect = _draw_rectangle(qtbot, window, view, (5, 5), (15, 15))
    assert tools.undo() and rect.roi_id not in window.rois
    assert tools.redo() and rect.roi_id in window.rois
    tools.select(rect.roi_id)
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # in Navigate: deselects
    assert tools.selected_id == "" and not tools.delete_selected()
    tools.select(rect.roi_id)
    assert tools.delete_selected() and not tools.delete_selected()
    assert tools.undo()
    with pytest.raises(KeyError):
        tools.select("no-such-roi")
    open_and_wait(qtbot, window, [study])
    assert len(window.rois) == 0 and len(window.history) == 0
    assert tools.selected_id == "" and not tools.undo_action.isEnabled()
    assert tools.layer.shown(view) == {}


# ---------------------------------------------------------------- SR pane


@pytest.fixture
def sr_window(qtbot: QtBot, tmp_path: Path, study: Path) -> Iterator[MainWindow]:
    """A main window with an exactly bicubic x2 "SR model" run on the CPU, showing the phantom."""
    model = tmp_path / "models" / "bicubic-x2.pt"
    model.parent.mkdir()
    save_torchscript(BicubicUp(2), sr_card("bicubic-x2", 2), model)
    trust_folder_for_tests(model.parent)
    win = cpu_model_window(qtbot, tmp_path, model.parent, (1200, 650))
    open_and_wait(qtbot, win, [study])
    win.compare.model_picker.add_path(model)
    qtbot.keyClick(win, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)
    qtbot.wait(30)
    yield win
    close_model_window(win)


def test_roi_drawn_on_the_sr_pane_is_the_same_world_roi(
    qtbot: QtBot, sr_window: MainWindow
) -> None:
    window = sr_window
    compare = window.compare
    sr, original = compare.sr_view, compare.original_view
    assert compare.enabled and compare.scale == 2 and sr.isVisible() and original.isVisible()
    # The SR pane's view coordinates are the original's (the SR image spans the same rect).
    assert sr.pixel_spacing == original.pixel_spacing
    assert sr.image_rect() == original.image_rect()
    assert sr.slice_index == original.slice_index

    window.roi_tools.set_tool("rectangle")
    rois = []
    for view in (sr, original):
        start, end = view_point(view, 10, 8), view_point(view, 30, 25)
        drag(qtbot, view, LEFT, start, end - start)
        rois.append(list(window.rois)[-1])
    on_sr, on_original = rois
    assert isinstance(on_sr, RectangleRoi) and isinstance(on_original, RectangleRoi)
    assert on_sr.plane == on_original.plane
    tol = max(screen_px_mm(sr), screen_px_mm(original)) + 1e-6
    np.testing.assert_allclose(on_sr.bounds_uv(), on_original.bounds_uv(), atol=tol)
    corners = np.array(on_sr.outline_uv())
    np.testing.assert_allclose(on_sr.plane.to_world(corners),
                               on_original.plane.to_world(np.array(on_original.outline_uv())),
                               atol=tol)
    # Each ROI is drawn, in the slice, on both panes.
    for view in (sr, original):
        shown = window.roi_tools.layer.shown(view)
        assert set(shown) == {on_sr.roi_id, on_original.roi_id}
        assert all(d.in_slice and d.outline is not None for d in shown.values())

    # Delete the copy, move the SR-drawn ROI on the SR pane; undo restores it (the history
    # survives the model runs of other slices).
    assert window.roi_tools.selected_id == on_original.roi_id
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    window.roi_tools.set_tool("navigate")
    start, end = view_point(sr, 20, 16), view_point(sr, 26, 20)
    drag(qtbot, sr, LEFT, start, end - start)
    moved = window.rois[on_sr.roi_id]
    (sx, sy), (ex, ey) = view_mm(sr, start), view_mm(sr, end)
    np.testing.assert_allclose(np.subtract(moved.bounds_uv(), on_sr.bounds_uv()),
                               (ex - sx, ey - sy) * 2, atol=1e-6)
    qtbot.keyClick(window, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert window.rois[on_sr.roi_id] == on_sr

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    window.roi_tools.set_tool("ellipse")
    start, end = view_point(sr, 6, 22), view_point(sr, 20, 36)
    drag(qtbot, sr, LEFT, start, end - start)
    qtbot.wait(30)
    window.grab().save(str(SCREENSHOT_DIR / "roi_tools_sr.png"))


def test_screenshot_with_rois_in_three_planes(qtbot: QtBot, window: MainWindow) -> None:
    """Several ROIs of each kind, seen in all three planes (saved for a visual check)."""
    qtbot.keyClick(window, Qt.Key.Key_4)
    qtbot.wait(20)
    tools = window.roi_tools
    axial = window.viewer.views[AXIAL]
    coronal = window.viewer.views[CORONAL]
    _draw_rectangle(qtbot, window, axial, (6, 6), (18, 20))
    tools.set_tool("ellipse")
    start, end = view_point(axial, 22, 10), view_point(axial, 40, 30)
    drag(qtbot, axial, LEFT, start, end - start)
    tools.set_tool("polygon")
    for r, c in [(30, 4), (44, 8), (42, 18)]:
        qtbot.wait(15)
        qtbot.mouseClick(axial.viewport(), LEFT, pos=view_point(axial, r, c))
    double_click(qtbot, axial, view_point(axial, 34, 14))
    tools.set_tool("brush")
    tools.select("")
    start, end = view_point(coronal, 3, 6), view_point(coronal, 8, 30)
    drag(qtbot, coronal, LEFT, start, end - start)
    assert [r.kind for r in window.rois] == ["rectangle", "ellipse", "polygon", "brush"]
    tools.set_tool("navigate")
    tools.select(list(window.rois)[1].roi_id)
    # The coronal brush ROI cuts the axial slice; the axial ellipse cuts the coronal slice,
    # where the brush ROI shows as a filled mask.
    assert list(window.rois)[3].roi_id in tools.layer.shown(axial)
    shown = tools.layer.shown(coronal)
    assert not shown[list(window.rois)[1].roi_id].in_slice
    assert shown[list(window.rois)[3].roi_id].in_slice
    qtbot.wait(30)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SCREENSHOT_DIR / "roi_tools.png"))
