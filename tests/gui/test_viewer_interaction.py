"""Driving the viewer as a user would: scroll, keys, window/level drag, planes, crosshair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drag, hover, open_and_wait, shown_image, view_point, wheel
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, EdgeLabels, Orientation
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.readout import format_window
from medsr_viewer.gui.views.study_viewer import Layout


def test_open_scroll_and_keys_show_the_right_slice(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path, t1_volume: Volume
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    viewer = main_window.viewer
    view = viewer.views[Orientation.AXIAL]
    display = viewer.display
    assert display is not None and view.isVisible()
    # the real file is stored RAS: the axial image must be flipped to radiological view
    n = display.n_slices(Orientation.AXIAL)
    assert n == 190
    assert view.slice_index == n // 2
    expected = t1_volume.voxels[n // 2, ::-1, ::-1]
    assert np.array_equal(shown_image(view), expected)
    assert view.edge_labels() == EdgeLabels(top="A", bottom="P", left="R", right="L")
    assert view.caption() == f"axial {n // 2 + 1}/{n}"

    wheel(view, 3)
    assert view.slice_index == n // 2 + 3
    assert np.array_equal(shown_image(view), t1_volume.voxels[n // 2 + 3, ::-1, ::-1])
    wheel(view, -1)
    assert view.slice_index == n // 2 + 2

    start = view.slice_index
    for key, expected_index in [
        (Qt.Key.Key_Up, start + 1),
        (Qt.Key.Key_Down, start),
        (Qt.Key.Key_PageUp, start + 10),
        (Qt.Key.Key_PageDown, start),
        (Qt.Key.Key_End, n - 1),
        (Qt.Key.Key_Up, n - 1),  # clamped at the last slice
        (Qt.Key.Key_Home, 0),
    ]:
        qtbot.keyClick(view, key)
        assert view.slice_index == expected_index, key
        assert np.array_equal(shown_image(view), t1_volume.voxels[expected_index, ::-1, ::-1])
    assert main_window.readout_text().startswith(f"axial 1/{n}")


def test_ctrl_wheel_zooms_instead_of_scrolling(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    view = main_window.viewer.views[Orientation.AXIAL]
    before_slice = view.slice_index
    width_before = np.diff(view.view_box.viewRange()[0])[0]
    wheel(view, 2, Qt.KeyboardModifier.ControlModifier)
    assert view.slice_index == before_slice
    assert np.diff(view.view_box.viewRange()[0])[0] < width_before * 0.99
    qtbot.keyClick(view, Qt.Key.Key_R)  # reset view: back to fitting the image
    assert np.diff(view.view_box.viewRange()[0])[0] == pytest.approx(width_before)


def test_right_drag_changes_window_and_left_drag_pans(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    viewer = main_window.viewer
    view = viewer.views[Orientation.AXIAL]
    low0, high0 = (float(v) for v in view.image_item.getLevels())
    center = view.viewport().rect().center()

    drag(qtbot, view, Qt.MouseButton.RightButton, center, QPoint(60, 0))  # wider
    low1, high1 = (float(v) for v in view.image_item.getLevels())
    assert high1 - low1 > (high0 - low0) + 1
    assert abs((low1 + high1) / 2 - (low0 + high0) / 2) < 1e-6  # level unchanged

    drag(qtbot, view, Qt.MouseButton.RightButton, center, QPoint(0, 40))  # down: lower level
    low2, high2 = (float(v) for v in view.image_item.getLevels())
    assert (low2 + high2) / 2 < (low1 + high1) / 2 - 1
    assert abs((high2 - low2) - (high1 - low1)) < 1e-6
    assert main_window.window_label.text() == format_window(viewer.display_window)
    assert main_window.window_label.text().startswith(f"W {high2 - low2:.4g} L")
    assert viewer.display_window.levels == (low2, high2)
    assert main_window.preset_combo.currentText() == "custom"

    x_range = view.view_box.viewRange()[0]
    drag(qtbot, view, Qt.MouseButton.LeftButton, center, QPoint(80, 0))  # pan right
    assert view.view_box.viewRange()[0][0] < x_range[0] - 1

    qtbot.keyClick(view, Qt.Key.Key_R)
    assert tuple(float(v) for v in view.image_item.getLevels()) == (low0, high0)


def test_orientation_switch_shows_each_plane(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path, t1_volume: Volume
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    viewer = main_window.viewer
    display = DisplayVolume(t1_volume)
    # keys 2 and 3, then back with 1
    qtbot.keyClick(main_window, Qt.Key.Key_2)
    coronal = viewer.views[Orientation.CORONAL]
    assert viewer.orientation == Orientation.CORONAL and coronal.isVisible()
    assert not viewer.views[Orientation.AXIAL].isVisible()
    k = coronal.slice_index
    assert shown_image(coronal).shape == (190, 188)
    # superior at the top, patient right on the left: stored (k, j, i) RAS -> flip rows & cols
    assert np.array_equal(shown_image(coronal), t1_volume.voxels[::-1, 255 - k, ::-1])
    assert np.array_equal(shown_image(coronal), display.slice_array(Orientation.CORONAL, k))
    assert coronal.edge_labels() == EdgeLabels(top="S", bottom="I", left="R", right="L")
    assert coronal.pixel_spacing == t1_volume.spacing[:1] + t1_volume.spacing[2:]

    main_window.orientation_actions[Orientation.SAGITTAL].trigger()  # the toolbar button
    sagittal = viewer.views[Orientation.SAGITTAL]
    k = sagittal.slice_index
    assert shown_image(sagittal).shape == (190, 256)
    assert np.array_equal(shown_image(sagittal), t1_volume.voxels[::-1, ::-1, 187 - k])
    assert sagittal.edge_labels() == EdgeLabels(top="S", bottom="I", left="A", right="P")
    wheel(sagittal, 2)
    assert sagittal.slice_index == k + 2
    assert main_window.readout_text().startswith(f"sagittal {k + 3}/188")

    qtbot.keyClick(main_window, Qt.Key.Key_1)
    assert viewer.orientation == Orientation.AXIAL
    assert shown_image(viewer.views[Orientation.AXIAL]).shape == (256, 188)


def test_three_plane_click_moves_other_planes(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path, t1_volume: Volume
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    viewer = main_window.viewer
    qtbot.keyClick(main_window, Qt.Key.Key_4)
    assert viewer.layout_mode == Layout.THREE_PLANE
    qtbot.wait(20)
    axial, coronal, sagittal = (viewer.views[o] for o in Orientation)
    assert all(v.isVisible() for v in (axial, coronal, sagittal))
    display = viewer.display
    assert display is not None
    # click the axial pane at display pixel (row 60, col 50)
    qtbot.mouseClick(axial.viewport(), Qt.MouseButton.LeftButton, pos=view_point(axial, 60, 50))
    cursor = viewer.cursor_point
    assert cursor[0] == axial.slice_index
    assert abs(cursor[1] - 60) <= 1 and abs(cursor[2] - 50) <= 1
    # the coronal plane now shows canonical y = 60, the sagittal canonical x = 50
    assert coronal.slice_index == int(cursor[1])
    assert sagittal.slice_index == int(cursor[2])
    assert np.array_equal(
        shown_image(sagittal), display.slice_array(Orientation.SAGITTAL, int(cursor[2]))
    )
    # the crosshair of the coronal pane crosses at the clicked point
    row, col, _ = display.canonical_to_display(Orientation.CORONAL, cursor)
    assert np.allclose(coronal.crosshair_position(), coronal.display_to_view(row, col))
    # clicking in the sagittal pane moves the axial slice
    before = axial.slice_index
    qtbot.mouseClick(
        sagittal.viewport(), Qt.MouseButton.LeftButton, pos=view_point(sagittal, 40, 100)
    )
    assert axial.slice_index != before
    assert axial.slice_index == int(viewer.cursor_point[0])
    assert abs(axial.slice_index - (display.shape[0] - 1 - 40)) <= 1
    qtbot.keyClick(main_window, Qt.Key.Key_4)
    assert viewer.layout_mode == Layout.SINGLE


def test_readout_names_voxel_world_and_value(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path, t1_volume: Volume
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    view = main_window.viewer.views[Orientation.AXIAL]
    display = main_window.viewer.display
    assert display is not None
    row, col = 100, 70
    hover(qtbot, view, view_point(view, row, col))
    z, y, x = (
        int(v)
        for v in np.rint(display.display_to_voxel(Orientation.AXIAL, row, col, view.slice_index))
    )
    # stored RAS: display row 100 / col 70 are stored j = 255 - 100, i = 187 - 70
    assert (z, y, x) == (view.slice_index, 155, 117)
    value = t1_volume.voxels[z, y, x]
    wx, wy, wz = t1_volume.index_to_world((z, y, x))
    text = main_window.readout_label.text()
    assert f"voxel (z,y,x) {z}, {y}, {x}" in text
    assert f"LPS ({wx:.1f}, {wy:.1f}, {wz:.1f}) mm" in text
    assert f"value {value:.4g}" in text or f"value {int(value)}" in text
    assert text.startswith(f"axial {view.slice_index + 1}/190")


@pytest.mark.parametrize("plane_key", [Qt.Key.Key_2, Qt.Key.Key_3])
def test_three_planes_share_the_width_after_a_single_plane_at_full_size(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path, plane_key: Qt.Key
) -> None:
    """Issue #15, bug 1: 1600x1000, the 120-slice series, 2 (or 3) then 4 gave the axial
    pane 1200 px and the others a strip, with two layout buttons checked."""
    main_window.resize(1600, 1000)
    open_and_wait(qtbot, main_window, [data_dir / "dicom" / "vs_seg_001_t1"])
    viewer = main_window.viewer
    qtbot.keyClick(main_window, plane_key)
    single = viewer.views[viewer.orientation]
    qtbot.waitUntil(lambda: single.width() > 1500)
    qtbot.keyClick(main_window, Qt.Key.Key_4)
    panes = [viewer.views[o] for o in Orientation]

    def thirds() -> bool:
        widths = [p.width() for p in panes]
        return all(p.isVisible() for p in panes) and max(widths) - min(widths) <= 2

    qtbot.waitUntil(thirds)
    assert sum(p.width() for p in panes) >= viewer.width() - 6  # the whole width is used
    checked = [a.text() for a in (*main_window.orientation_actions.values(),
                                  main_window.three_plane_action) if a.isChecked()]
    assert checked == ["&Three Planes"]
    for pane in panes:  # each pane shows its whole image
        rect = pane.image_rect()
        (x0, x1), (y0, y1) = pane.view_box.viewRange()
        assert x0 <= rect.left() + 1e-6 and x1 >= rect.right() - 1e-6
        assert y0 <= rect.top() + 1e-6 and y1 >= rect.bottom() - 1e-6
    qtbot.keyClick(main_window, Qt.Key.Key_4)  # back to the plane chosen before
    assert viewer.layout_mode == Layout.SINGLE
    assert main_window.orientation_actions[viewer.orientation].isChecked()
    assert not main_window.three_plane_action.isChecked()


def test_readout_follows_the_slice_when_scrolling_under_a_still_mouse(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path, t1_volume: Volume
) -> None:
    """Issue #15, bug 2: hover, scroll 8 slices without moving the mouse: the voxel and the
    value must be those of the slice shown, not of the slice hovered first."""
    open_and_wait(qtbot, main_window, [t1_path])
    view = main_window.viewer.views[Orientation.AXIAL]
    display = main_window.viewer.display
    assert display is not None
    centre = view.viewport().rect().center()
    hover(qtbot, view, centre)
    first = main_window.readout_label.text()
    start = view.slice_index
    wheel(view, 8)  # the wheel turns over the pane's centre, where the mouse is
    assert view.slice_index == start + 8
    x, y = view.view_box.mapSceneToView(view.mapToScene(centre)).toTuple()
    row, col = (round(v) for v in view.view_to_display(x, y))
    z, yy, xx = (int(v) for v in np.rint(
        display.display_to_voxel(Orientation.AXIAL, row, col, start + 8)))
    text = main_window.readout_label.text()
    assert text.startswith(f"axial {start + 9}/190")
    assert f"voxel (z,y,x) {z}, {yy}, {xx}" in text
    assert z == start + 8 and text != first
    value = t1_volume.voxels[z, yy, xx]
    assert f"value {value:.4g}" in text or f"value {int(value)}" in text


def test_a_window_is_driven_from_its_view_model_alone(qtbot: QtBot, tmp_path: Path) -> None:
    """View state is held once: writing to the view model moves every pane and control."""
    from PySide6.QtCore import QSettings

    from medsr_viewer.core.geometry import DisplayVolume
    from medsr_viewer.core.view_model import ViewModel
    from medsr_viewer.core.volume import Volume
    from medsr_viewer.core.windowing import Window
    from medsr_viewer.gui.main_window import MainWindow

    model = ViewModel()
    voxels = np.random.default_rng(0).random((9, 20, 24)).astype(np.float32)
    display = DisplayVolume(Volume.from_spacing(voxels))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, view_model=model)
    qtbot.addWidget(window)
    window.show()
    model.set_study(display)
    model.set_orientation(Orientation.CORONAL)
    model.set_slice(5, Orientation.CORONAL)
    model.set_window(Window(0.25, 0.5))
    coronal = window.viewer.views[Orientation.CORONAL]
    assert coronal.isVisible() and not window.viewer.views[Orientation.AXIAL].isVisible()
    assert coronal.slice_index == 5
    assert np.array_equal(np.asarray(coronal.image_item.image),
                          display.slice_array(Orientation.CORONAL, 5))
    assert tuple(coronal.image_item.levels) == pytest.approx((0.0, 0.5))
    assert window.viewer.orientation == Orientation.CORONAL
    model.set_compare(mode="swipe")
    assert window.compare.mode_combo.currentText() == "swipe"
    window.compare.interp_combo.setCurrentIndex(0)  # the user picks "nearest"
    assert model.compare.interpolation.value == "nearest"
    from medsr_viewer.gui.layers.roi_gestures import Tool

    model.set_tool("ellipse")
    assert window.roi_tools.tool_actions[Tool.ELLIPSE].isChecked()
    window.roi_tools.tool_actions[Tool.NAVIGATE].trigger()  # the user clicks Navigate
    assert model.tool == "navigate"
    model.set_view_range("coronal", (2.0, 1.0, 6.0, 4.0))  # zoom/pan held by the model
    rect = coronal.view_box.viewRect()
    # shown around the held rectangle (widened along one axis to keep the 1:1 aspect)
    assert rect.left() <= 2.01 and rect.top() <= 1.01
    assert rect.right() >= 7.99 and rect.bottom() >= 4.99
    assert min(rect.width() / 6.0, rect.height() / 4.0) == pytest.approx(1.0, abs=0.05)
    drag(qtbot, coronal, Qt.MouseButton.LeftButton, coronal.viewport().rect().center(),
         QPoint(30, 10))  # the user pans: the model records the pane's new rectangle
    held = model.view_range("coronal")
    assert held is not None and held[0] < 2.0
    window.reset_action.trigger()  # View > Reset View
    assert model.view_range("coronal") is None
    from medsr_viewer.core.labels import LabelMap, LabelTable

    labels = (voxels > 0.5).astype(np.int16)
    window.label_overlay.add_layer(LabelMap(Volume(labels, display.volume.affine), LabelTable(),
                                            "bright"))
    assert [layer.name for layer in model.layers] == ["bright"] and model.active_layer == 0
    assert window.label_overlay.pane_rgba(coronal) is not None
    model.set_layers_visible(False)  # the overlay is switched off through the model
    assert window.label_overlay.pane_rgba(coronal) is None
    assert not window.label_overlay.items[Orientation.CORONAL].isVisible()
    model.set_layers([], -1)
    assert window.label_overlay.active_label_map() is None
    window.close()
