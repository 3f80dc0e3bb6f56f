"""The volume slider of 4-D studies (issue #10): real DWI and fMRI series from ``dicom_qa``
stepped with the keys, the spin box and the slider; the panes show exactly each volume's
data and its label; the view stays; the SR pane follows; sessions keep the volume."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import (
    close_model_window,
    cpu_model_window,
    drag,
    open_and_wait,
    view_point,
    wheel,
)
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.io import load_study
from medsr_viewer.core.metrics.roi_stats import roi_statistics
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.roi import RectangleRoi
from medsr_viewer.core.study import Study
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.compare_panel import Interpolation, upsample

AXIAL = Orientation.AXIAL
ALT = Qt.KeyboardModifier.AltModifier
QA = Path("dicom_qa") / "series"
#: Siemens mosaic DWI of a head: b=0 and 12 directions at b=1000, 25 slices of 128x128.
DWI = QA / "dcm_qa_decubitus" / "HFS" / "4_ep2d_diff_mddw_20_p2"
#: Siemens mosaic EPI fMRI: 6 time points of 36x64x64.
MOSAIC_FMRI = QA / "dcm_qa_mosaic" / "ep2d_Asc_2"
#: Siemens XA10 enhanced (multi-frame) fMRI: 4 time points of 6x64x64 in one file.
ENHANCED_FMRI = QA / "dcm_qa_enh" / "Siemens"
#: Philips enhanced: magnitude and field map (Hz) frames, one volume each.
PHILIPS_FIELD_MAP = QA / "dcm_qa_enh" / "Philips"


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[[], MainWindow]]:
    """Main windows with private settings (closed at the end)."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings)
        qtbot.addWidget(win)
        win.resize(1100, 750)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()


def expected_slice(study: Study, index: int, orientation: Orientation, slice_index: int,
                   group: int = 0) -> np.ndarray:
    """Display slice of volume ``index`` read independently of the viewer."""
    display = DisplayVolume(study.pick(index, group).shown)
    return np.ascontiguousarray(display.slice_array(orientation, slice_index))


def pane_pixels(win: MainWindow, orientation: Orientation = AXIAL) -> np.ndarray:
    image = win.viewer.views[orientation].image_item.image
    assert image is not None
    return np.asarray(image)


def assert_shows(win: MainWindow, study: Study, index: int, label: str,
                 orientations: tuple[Orientation, ...] = (AXIAL,)) -> None:
    """Every listed pane holds exactly volume ``index``'s slice and names it."""
    for orientation in orientations:
        expected = expected_slice(study, index, orientation, win.viewer.slice_index(orientation))
        np.testing.assert_array_equal(pane_pixels(win, orientation), expected)
        assert win.viewer.views[orientation].volume_caption() == label
    bar = win.volume_bar
    assert bar.label.text() == label
    assert bar.spin.value() == index + 1 and bar.slider.value() == index
    assert win.study is not None and win.study.shown_index == index


def slider_wheel(slider: QWidget, notches: int) -> None:
    """Turn the mouse wheel over a slider (positive: away from the user)."""
    pos = QPointF(slider.rect().center())
    event = QWheelEvent(pos, QPointF(slider.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(slider, event)


def test_dwi_volumes_step_with_keys_spin_box_and_slider_and_the_view_stays(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path,
) -> None:
    path = data_dir / DWI
    study = load_study(path)
    win = make_window()
    open_and_wait(qtbot, win, [path])
    bar = win.volume_bar
    assert bar.isVisible() and bar.spin.maximum() == 13 and bar.spin.suffix() == " / 13"
    assert not bar.kind_combo.isVisible()  # one kind of image
    assert_shows(win, study, 0, "b=0 1/13")

    # a user's view: slice, zoom (Ctrl+wheel), window (right-drag) -- all kept while stepping
    view = win.viewer.views[AXIAL]
    qtbot.keyClick(win, Qt.Key.Key_Up)
    slice_before = win.viewer.slice_index(AXIAL)
    assert slice_before == 13
    wheel(view, 2, Qt.KeyboardModifier.ControlModifier)
    center = view_point(view, 64, 64)
    drag(qtbot, view, Qt.MouseButton.RightButton, center, QPoint(40, -25))
    range_before = view.view_box.viewRange()
    window_before = win.viewer.display_window
    assert window_before != study.shown.window  # the drag did change it

    b0 = pane_pixels(win).copy()
    qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
    assert_shows(win, study, 1, "b=1000 dir 1 2/13")
    assert not np.array_equal(pane_pixels(win), b0)  # diffusion-weighted, not the b=0
    qtbot.keyClick(win, Qt.Key.Key_Period)
    qtbot.keyClick(win, Qt.Key.Key_Period)
    assert_shows(win, study, 3, "b=1000 dir 3 4/13")
    qtbot.keyClick(win, Qt.Key.Key_Comma)
    assert_shows(win, study, 2, "b=1000 dir 2 3/13")
    assert win.viewer.slice_index(AXIAL) == slice_before
    np.testing.assert_allclose(view.view_box.viewRange(), range_before)
    assert win.viewer.display_window == window_before
    assert tuple(view.image_item.levels) == tuple(window_before.levels)

    # the spin box: type a number; Up in the box steps the volume, not the slice
    qtbot.mouseClick(bar.spin, Qt.MouseButton.LeftButton)
    bar.spin.lineEdit().selectAll()
    qtbot.keyClicks(bar.spin, "12")
    qtbot.keyClick(bar.spin, Qt.Key.Key_Return)
    assert_shows(win, study, 11, "b=1000 dir 11 12/13")
    qtbot.keyClick(bar.spin, Qt.Key.Key_Up)
    assert_shows(win, study, 12, "b=1000 dir 12 13/13")
    assert win.viewer.slice_index(AXIAL) == slice_before
    qtbot.keyClick(win, Qt.Key.Key_Up, ALT)  # clamped at the last volume
    assert_shows(win, study, 12, "b=1000 dir 12 13/13")

    # the slider: the wheel over it
    slider_wheel(bar.slider, -2)
    index = bar.slider.value()
    assert index < 12
    assert_shows(win, study, index, study.group.label_text(index))
    np.testing.assert_allclose(view.view_box.viewRange(), range_before)
    # the readout reads the volume shown
    qtbot.mouseMove(view.viewport(), center)
    qtbot.wait(20)
    value = float(expected_slice(study, index, AXIAL, slice_before)[64, 64])
    assert f"{value:g}" in win.readout_label.text()


@pytest.mark.parametrize(("case", "count", "labels"), [
    (MOSAIC_FMRI, 6, {0: "t=1/6", 3: "t=4/6"}),
    (ENHANCED_FMRI, 4, {0: "t=1/4", 3: "t=4/4"}),
])
def test_fmri_time_points_in_three_planes(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path, case: Path,
    count: int, labels: dict[int, str],
) -> None:
    path = data_dir / case
    study = load_study(path)
    win = make_window()
    open_and_wait(qtbot, win, [path])
    qtbot.keyClick(win, Qt.Key.Key_4)  # three planes: every pane shows the same volume
    planes = tuple(Orientation)
    assert win.volume_bar.spin.maximum() == count
    assert_shows(win, study, 0, labels[0], planes)
    for _ in range(3):
        qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
    assert_shows(win, study, 3, labels[3], planes)
    qtbot.keyClick(win, Qt.Key.Key_Down, ALT)
    assert_shows(win, study, 2, study.group.label_text(2), planes)


def test_3d_studies_hide_the_bar_and_the_keys_do_nothing(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path,
) -> None:
    win = make_window()
    open_and_wait(qtbot, win, [data_dir / DWI])
    assert win.volume_bar.isVisible()
    open_and_wait(qtbot, win, [data_dir / "mri_ct" / "chris_t1.nii.gz"])
    assert not win.volume_bar.isVisible()
    assert win.viewer.views[AXIAL].volume_caption() == ""
    before = pane_pixels(win).copy()
    qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
    np.testing.assert_array_equal(pane_pixels(win), before)
    assert not win.volume_bar.next_action.isEnabled()


def test_kinds_of_image_are_chosen_in_the_combo_box(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path,
) -> None:
    path = data_dir / PHILIPS_FIELD_MAP
    study = load_study(path)
    assert [g.kind for g in study.groups] == ["magnitude", "field map"]
    win = make_window()
    open_and_wait(qtbot, win, [path])
    bar = win.volume_bar
    assert bar.isVisible() and bar.kind_combo.isVisible()
    assert not bar.slider.isVisible()  # one volume of each kind: nothing to slide
    assert bar.kind_combo.currentText() == "magnitude (1 volume)"
    magnitude_window = win.viewer.display_window
    index = win.viewer.slice_index(AXIAL)
    magnitude = pane_pixels(win).copy()
    # the user opens the box and picks the second entry
    qtbot.mouseClick(bar.kind_combo, Qt.MouseButton.LeftButton)
    popup = bar.kind_combo.view()
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bar.kind_combo.currentText() == "field map (1 volume)")
    assert win.viewer.slice_index(AXIAL) == index
    np.testing.assert_array_equal(pane_pixels(win), expected_slice(study, 0, AXIAL, index, 1))
    assert not np.array_equal(pane_pixels(win), magnitude)
    assert win.study is not None and win.study.shown_group == 1
    assert bar.label.text() == "field map"
    # the field map (Hz) has its own value range: its own default window, which Reset keeps
    field_window = win.viewer.display_window
    assert field_window != magnitude_window
    win.viewer.drag_window(30.0, 10.0)
    assert win.viewer.display_window != field_window
    qtbot.keyClick(win, Qt.Key.Key_R)
    assert win.viewer.display_window == field_window


def test_sr_pane_follows_the_shown_volume(
    qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path], data_dir: Path,
) -> None:
    path = data_dir / MOSAIC_FMRI
    study = load_study(path)
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 700))
    try:
        open_and_wait(qtbot, win, [path])
        win.compare.model_picker.add_path(zoo["bicubic-x2"])
        qtbot.keyClick(win, Qt.Key.Key_S)
        compare = win.compare
        qtbot.waitUntil(lambda: compare.complete, timeout=20000)
        index = win.viewer.slice_index(AXIAL)

        def expected(volume: int) -> np.ndarray:
            return upsample(expected_slice(study, volume, AXIAL, index), 2,
                            Interpolation.BICUBIC)

        def shows(volume: int) -> bool:
            shown = compare.shown_image()
            want = expected(volume)
            return (compare.complete and shown is not None and shown.shape == want.shape
                    and float(np.max(np.abs(shown - want))) <= 1e-3 * float(np.ptp(want) + 1))

        assert shows(0)
        compare.sr_view.view_box.scaleBy(x=0.5, y=0.5)  # zoomed in on the SR pane
        zoomed = compare.sr_view.view_box.viewRange()
        qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
        qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
        qtbot.waitUntil(lambda: shows(2), timeout=20000)
        assert not shows(0)
        assert compare.sr_view.volume_caption() == "t=3/6"
        np.testing.assert_allclose(compare.sr_view.view_box.viewRange(), zoomed, atol=1e-6)
        np.testing.assert_allclose(compare.original_view.view_box.viewRange(), zoomed,
                                   atol=0.05)
        # the original pane: the new volume too (drawn bicubic on the SR grid, then native)
        np.testing.assert_array_equal(pane_pixels(win), expected(2))
        compare.set_interpolation(Interpolation.NEAREST)
        np.testing.assert_array_equal(pane_pixels(win), expected_slice(study, 2, AXIAL, index))
        qtbot.keyClick(win, Qt.Key.Key_Comma)  # back one: that volume's slice
        qtbot.waitUntil(lambda: shows(1), timeout=20000)
        qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
        qtbot.waitUntil(lambda: shows(2), timeout=20000)
    finally:
        close_model_window(win)


def test_session_keeps_the_volume(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path, tmp_path: Path,
) -> None:
    path = data_dir / DWI
    study = load_study(path)
    win = make_window()
    open_and_wait(qtbot, win, [path])
    for _ in range(4):
        qtbot.keyClick(win, Qt.Key.Key_Period)
    qtbot.keyClick(win, Qt.Key.Key_Up)  # slice 14 of 25
    assert_shows(win, study, 4, "b=1000 dir 4 5/13")
    saved = win.session.save(tmp_path / "dwi.medsr-session.json")
    assert saved is not None

    other = make_window()
    with qtbot.waitSignal(other.session.restored, timeout=30000):
        assert other.session.open(saved)
    assert other.viewer.slice_index(AXIAL) == 13
    assert_shows(other, study, 4, "b=1000 dir 4 5/13")
    assert not other.error_banner.isVisible()


def test_roi_statistics_follow_the_volume_and_the_roi_stays(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path,
) -> None:
    path = data_dir / DWI
    study = load_study(path)
    win = make_window()
    open_and_wait(qtbot, win, [path])
    display = win.viewer.display
    assert display is not None
    plane = display_plane(display, AXIAL, win.viewer.slice_index(AXIAL))
    win.roi_editor.add(RectangleRoi(plane, u0=90.0, v0=80.0, u1=150.0, v1=140.0, name="wm"))
    (roi,) = list(win.rois)

    def mean_in_table() -> float:
        (record,) = win.metrics_panel.records()  # one ROI, no model result: one row
        return float(record.metrics["mean"])

    b0 = roi_statistics(study.shown, study.shown.voxels, roi).mean
    assert mean_in_table() == pytest.approx(b0, rel=1e-6)
    qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
    volume = study.pick(1).shown
    dwi = roi_statistics(volume, volume.voxels, roi).mean
    assert dwi < 0.8 * b0  # diffusion weighting darkens the tissue
    assert mean_in_table() == pytest.approx(dwi, rel=1e-6)
    assert list(win.rois) == [roi]
