"""The panes' information overlay, scale bar, zoom keys and crosshair switch, used as a user
would (keys, menu actions, wheel, drags) on a real DICOM series (issue #15)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from gui_helpers import (
    close_model_window,
    cpu_model_window,
    drag,
    open_and_wait,
    wheel,
    write_nifti_crop,
)
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.info_overlay import crosshair_shown
from medsr_viewer.gui.views.pane_zoom import current_zoom
from medsr_viewer.gui.views.readout import format_window
from medsr_viewer.gui.views.slice_view import SliceView

AXIAL = Orientation.AXIAL


@pytest.fixture(scope="module")
def dicom_dir(data_dir: Path) -> Path:
    return data_dir / "dicom" / "vs_seg_001_t1"


@pytest.fixture(scope="module")
def locations(dicom_dir: Path) -> list[float]:
    """SliceLocation (IPP z of this axial series) of every file, inferior first."""
    return sorted(float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2])
                  for p in dicom_dir.glob("*.dcm"))


def corner(view: SliceView, name: str) -> str:
    return view.labels.corner_text(name)


def test_corners_follow_slice_window_and_zoom(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path, locations: list[float]
) -> None:
    open_and_wait(qtbot, main_window, [dicom_dir])
    view = main_window.viewer.views[AXIAL]
    assert corner(view, "top_right") == "t1_mpr_tra_gk_v4"  # SeriesDescription
    index = view.slice_index
    loc, thickness = corner(view, "bottom_left").split("\n")
    assert loc == f"Loc {locations[index]:.1f} mm"  # what SliceLocation says
    assert thickness == "Thk 1.5 mm  Sp 1.5 mm"
    window_line, zoom_line, plane = corner(view, "bottom_right").split("\n")
    assert window_line == format_window(main_window.view_model.window) and plane == "axial"
    assert zoom_line == f"zoom {current_zoom(view):.1f}×"

    qtbot.keyClick(view, Qt.Key.Key_Up)  # next slice
    assert corner(view, "bottom_left").startswith(f"Loc {locations[index + 1]:.1f} mm")
    wheel(view, 3)
    assert corner(view, "bottom_left").startswith(f"Loc {locations[index + 4]:.1f} mm")

    drag(qtbot, view, Qt.MouseButton.RightButton, view.viewport().rect().center(),
         QPoint(40, -20))  # window/level
    assert corner(view, "bottom_right").split("\n")[0] == format_window(
        main_window.view_model.window)
    before = current_zoom(view)
    wheel(view, 2, Qt.KeyboardModifier.ControlModifier)  # zoom in
    assert current_zoom(view) > before * 1.05
    assert corner(view, "bottom_right").split("\n")[1] == f"zoom {current_zoom(view):.1f}×"

    qtbot.keyClick(view, Qt.Key.Key_I)  # Information Overlay off
    assert not main_window.actions_.action("view.info_overlay").isChecked()
    assert all(corner(view, c) == "" for c in view.labels.corners)
    assert view.caption() and view.edge_labels().left == "R"  # letters and caption stay
    qtbot.keyClick(view, Qt.Key.Key_I)
    assert corner(view, "top_right") == "t1_mpr_tra_gk_v4"


def test_patient_data_only_on_request_and_never_logged(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    open_and_wait(qtbot, main_window, [dicom_dir])
    views = main_window.viewer.views
    action = main_window.actions_.action("view.patient_data")
    assert not action.isChecked() and action.text() == "Show &Patient Data"
    assert all("VS-SEG-001" not in corner(v, c) for v in views.values() for c in v.labels.corners)
    action.trigger()  # View ▸ Show Patient Data
    assert corner(views[AXIAL], "patient") == "VS-SEG-001\nID VS-SEG-001\nStudy 1994-09-04"
    main_window.set_three_plane(True)
    assert corner(views[Orientation.CORONAL], "patient").startswith("VS-SEG-001")
    action.trigger()
    assert all(corner(v, "patient") == "" for v in views.values())
    assert "VS-SEG-001" not in caplog.text


def test_screenshots_never_show_patient_data(
    monkeypatch: pytest.MonkeyPatch, qtbot: QtBot, tmp_path: Path, dicom_dir: Path
) -> None:
    from medsr_viewer.core import pane_info
    from medsr_viewer.gui.export import screenshot

    class PatientOn(pane_info.OverlayState):  # as if a user had switched it on
        def __init__(self, **kwargs: bool) -> None:
            super().__init__(**{"patient_data": True, **kwargs})

    monkeypatch.setattr(pane_info, "OverlayState", PatientOn)
    grabbed: list[tuple[bool, str]] = []
    real_grab = MainWindow.grab

    def grab(self: MainWindow, *args: object) -> object:
        texts = "".join(corner(v, "patient") for v in self.viewer.views.values())
        grabbed.append((self.viewer.overlays.options.state.patient_data, texts))
        return real_grab(self, *args)

    monkeypatch.setattr(MainWindow, "grab", grab)
    out = screenshot.save_screenshot(tmp_path / "shot.png", [dicom_dir], "axial", (700, 500))
    assert out.is_file() and grabbed == [(False, "")]


def test_zoom_keys_set_one_to_one_two_to_one_and_fit(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path
) -> None:
    open_and_wait(qtbot, main_window, [dicom_dir])
    view = main_window.viewer.views[AXIAL]
    model = main_window.view_model
    fit = view.view_box.viewRect()
    drag(qtbot, view, Qt.MouseButton.RightButton, view.viewport().rect().center(),
         QPoint(30, 10))
    window = model.window
    centre = view.view_box.viewRect().center()

    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ShiftModifier)  # Zoom 1:1
    assert current_zoom(view) == pytest.approx(1.0, rel=1e-3)
    rect = view.view_box.viewRect()
    assert model.view_range(AXIAL.value) == pytest.approx(
        (rect.x(), rect.y(), rect.width(), rect.height()), rel=1e-3)
    assert (rect.center().x(), rect.center().y()) == pytest.approx((centre.x(), centre.y()))
    assert corner(view, "bottom_right").split("\n")[1] == "zoom 1.0×"

    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)  # Zoom 2:1
    assert current_zoom(view) == pytest.approx(2.0, rel=1e-3)
    assert model.view_range(AXIAL.value)[2] == pytest.approx(rect.width() / 2, rel=1e-3)
    assert corner(view, "bottom_right").split("\n")[1] == "zoom 2.0×"

    qtbot.keyClick(view, Qt.Key.Key_Z)  # Zoom to Fit: the window stays
    assert model.view_range(AXIAL.value) is None
    assert view.view_box.viewRect().width() == pytest.approx(fit.width(), rel=1e-6)
    assert model.window == window

    # three planes: the keys act on the active pane only
    main_window.set_three_plane(True)
    qtbot.mouseClick(main_window.viewer.views[Orientation.CORONAL].viewport(),
                     Qt.MouseButton.LeftButton)
    assert main_window.viewer.active_orientation == Orientation.CORONAL
    axial_width = view.view_box.viewRect().width()
    main_window.actions_.action("view.zoom_2_1").trigger()
    assert current_zoom(main_window.viewer.views[Orientation.CORONAL]) == pytest.approx(
        2.0, rel=1e-3)
    assert view.view_box.viewRect().width() == pytest.approx(axial_width)


def test_scale_bar_is_round_follows_zoom_and_toggles(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path
) -> None:
    open_and_wait(qtbot, main_window, [dicom_dir])
    view = main_window.viewer.views[AXIAL]
    bar = main_window.viewer.overlays.of(view).scale_bar
    pane_width = view.view_box.width()

    def check() -> float:
        length = float(bar.text().split()[0])
        assert bar.text() == f"{length:g} mm"
        mantissa = length / 10 ** np.floor(np.log10(length))
        assert round(mantissa, 6) in (1.0, 2.0, 5.0)
        share = bar.width_px() / pane_width
        assert 0.13 <= share <= 0.34
        px_per_mm = pane_width / view.view_box.viewRect().width()
        assert bar.width_px() == pytest.approx(length * px_per_mm, rel=1e-3)
        return length

    fitted = check()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)  # 2:1
    zoomed = check()
    assert zoomed < fitted
    wheel(view, -3, Qt.KeyboardModifier.ControlModifier)  # zoom out
    check()
    main_window.actions_.action("view.scale_bar").trigger()  # View ▸ Scale Bar off
    assert bar.text() == "" and bar.width_px() == 0.0
    main_window.actions_.action("view.scale_bar").trigger()
    check()


@pytest.fixture
def sr_window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 600))
    yield win
    close_model_window(win)


def test_sr_pane_has_the_overlay_and_c_toggles_crosshairs(
    qtbot: QtBot, sr_window: MainWindow, data_dir: Path, tmp_path: Path, zoo: dict[str, Path]
) -> None:
    crop = write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz",
                            np.s_[50:122, 70:150, 90:96], tmp_path / "t1_crop.nii.gz",
                            np.float32)
    window = sr_window
    open_and_wait(qtbot, window, [crop])
    compare = window.compare
    compare.model_picker.add_path(zoo["bicubic-x2"])
    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    sr, original = compare.sr_view, compare.original_view
    sr_bar = window.viewer.overlays.of(sr).scale_bar
    assert corner(sr, "top_right") == corner(original, "top_right") == "t1_crop"
    assert corner(sr, "bottom_left") == corner(original, "bottom_left")
    assert sr_bar.text() == window.viewer.overlays.of(original).scale_bar.text() != ""
    assert crosshair_shown(sr) and crosshair_shown(original)

    qtbot.keyClick(window, Qt.Key.Key_C)  # View ▸ Crosshair off
    assert not window.actions_.action("view.crosshair").isChecked()
    assert not crosshair_shown(sr) and not crosshair_shown(original)
    wheel(original, 1)  # still off after the cursor moved
    assert not crosshair_shown(sr) and not crosshair_shown(original)

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)  # SR pane follows
    assert sr.view_box.viewRect().width() == pytest.approx(
        original.view_box.viewRect().width(), rel=1e-3)
    assert corner(sr, "bottom_right") == corner(original, "bottom_right")
    assert corner(sr, "bottom_right").split("\n")[1] == "zoom 2.0×"

    qtbot.keyClick(window, Qt.Key.Key_C)
    assert crosshair_shown(sr) and crosshair_shown(original)
    window.set_three_plane(True)  # three planes: the same switch
    views = window.viewer.views.values()
    qtbot.waitUntil(lambda: all(crosshair_shown(v) for v in views), timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_C)
    assert not any(crosshair_shown(v) for v in views)


def test_a_long_series_name_is_shortened_to_clear_the_top_letter(
    qtbot: QtBot, main_window: MainWindow, tmp_path: Path
) -> None:
    import nibabel as nib

    name = "mni_icbm152_t1_tal_nlin_sym_09a_converted_with_a_long_name"
    path = tmp_path / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((30, 30, 30)).astype(np.float32),
                             np.eye(4)), str(path))
    open_and_wait(qtbot, main_window, [path])
    qtbot.keyClick(main_window, Qt.Key.Key_4)  # three planes: narrow panes
    qtbot.wait(30)
    for view in main_window.viewer.views.values():
        labels = view.labels
        shown = corner(view, "top_right")
        assert shown.endswith("…") and name.startswith(shown[:-1])
        series = labels.corners["top_right"]
        letter = labels.edges["top"]
        text_left = series.mapToScene(series.boundingRect().topLeft()).x()
        letter_right = letter.mapToScene(letter.boundingRect().topRight()).x()
        assert text_left > letter_right  # no overlap with the "A" / "S"
    qtbot.keyClick(main_window, Qt.Key.Key_4)  # back to one wide pane: the whole name
    qtbot.wait(30)
    view = main_window.viewer.views[Orientation.AXIAL]
    qtbot.waitUntil(lambda: corner(view, "top_right") == name, timeout=3000)
