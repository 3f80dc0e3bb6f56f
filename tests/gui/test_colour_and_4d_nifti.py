"""Issue #10: colour images in colour in every pane (real colour DICOM from pydicom's test
data, an RGB PNG made from real EM images), and a real 4-D NIfTI stepped with the volume bar."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from gui_helpers import (
    close_model_window,
    cpu_model_window,
    drag,
    hover,
    open_and_wait,
    shown_image,
    view_point,
)
from PIL import Image
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.io.nifti import RAS_TO_LPS
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.compare_panel import Interpolation, upsample
from medsr_viewer.gui.views.status_readout import COLOUR_WINDOW_TEXT

AXIAL, CORONAL, SAGITTAL = Orientation.AXIAL, Orientation.CORONAL, Orientation.SAGITTAL
ALT = Qt.KeyboardModifier.AltModifier
#: dcm2niix's 4-D NIfTI of the Siemens mosaic EPI fMRI: 6 time points of 64x64x36.
FMRI_REF = Path("dicom_qa") / "ref" / "dcm_qa_mosaic" / "ep2d_Asc_2" / "2_ep2d_Asc.nii.gz"


def assert_colour_controls(win: MainWindow) -> None:
    """Window/level is off for a colour image, and the window says so."""
    assert win.window_label.text() == COLOUR_WINDOW_TEXT
    assert "luminance" in COLOUR_WINDOW_TEXT
    assert not win.preset_combo.isEnabled()
    assert win.warning_banner.isVisible()


def test_colour_ultrasound_dicom_is_shown_in_colour_with_rgb_readout(
    qtbot: QtBot, main_window: MainWindow
) -> None:
    """US1_UNCR (RGB ultrasound, 480x640): the pane holds the stored RGB exactly, the
    readout gives R, G, B and the luminance, and a right-drag changes nothing."""
    path = Path(get_testdata_file("US1_UNCR.dcm"))
    stored = pydicom.dcmread(path).pixel_array
    assert stored.shape == (480, 640, 3) and stored.dtype == np.uint8
    open_and_wait(qtbot, main_window, [path])
    view = main_window.viewer.views[AXIAL]
    image = shown_image(view)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, stored)
    colourful = np.argwhere(np.ptp(stored.astype(int), axis=-1) > 60)
    assert len(colourful) > 100  # the image really has colour
    row, col = (int(v) for v in colourful[len(colourful) // 2])
    assert tuple(image[row, col]) == tuple(stored[row, col])
    assert_colour_controls(main_window)

    hover(qtbot, view, view_point(view, row, col))
    r, g, b = (int(v) for v in stored[row, col])
    text = main_window.readout_label.text()
    assert f"voxel (z,y,x) 0, {row}, {col}" in text
    assert f"RGB {r}, {g}, {b} (luminance " in text
    luminance = float(np.float32(stored[row, col].astype(np.float32)
                                 @ np.array([0.299, 0.587, 0.114], np.float32)))
    assert f"luminance {luminance:.4g})" in text

    before = main_window.viewer.display_window
    drag(qtbot, view, Qt.MouseButton.RightButton, view_point(view, 200, 300), QPoint(80, 40))
    assert main_window.viewer.display_window == before
    np.testing.assert_array_equal(shown_image(view), stored)
    assert main_window.window_label.text() == COLOUR_WINDOW_TEXT


def test_multiframe_colour_dicom_in_colour_in_all_three_planes(
    qtbot: QtBot, main_window: MainWindow
) -> None:
    """examples_ybr_color (30 frames of YBR_FULL_422 ultrasound): axial, coronal and sagittal
    panes of the three-plane layout hold the colour of the stored frames, superior at the top
    of coronal and sagittal, slices following the cursor."""
    path = Path(get_testdata_file("examples_ybr_color.dcm"))
    frames = pydicom.dcmread(path).pixel_array  # (30, 240, 320, 3) RGB, frame = z
    assert frames.shape == (30, 240, 320, 3)
    open_and_wait(qtbot, main_window, [path])
    qtbot.keyClick(main_window, Qt.Key.Key_4)  # three planes
    viewer = main_window.viewer
    cursor = np.array([7.0, 100.0, 150.0])
    viewer.set_cursor(cursor)
    z, y, x = (int(v) for v in cursor)
    assert viewer.slice_index(AXIAL) == z
    np.testing.assert_array_equal(shown_image(viewer.views[AXIAL]), frames[z])
    np.testing.assert_array_equal(shown_image(viewer.views[CORONAL]), frames[::-1, y, :])
    np.testing.assert_array_equal(shown_image(viewer.views[SAGITTAL]), frames[::-1, :, x])
    qtbot.keyClick(main_window, Qt.Key.Key_Up)  # next axial slice
    np.testing.assert_array_equal(shown_image(viewer.views[AXIAL]), frames[z + 1])
    assert_colour_controls(main_window)


def test_rgb_png_from_real_images_is_shown_in_colour(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path, tmp_path: Path
) -> None:
    """An RGB PNG made of three real EM images (one per channel) shows exactly its colour."""
    em = data_dir / "isbi2012_em" / "images"
    channels = [np.asarray(Image.open(em / f"{n:02d}.png").convert("L")) for n in (0, 1, 2)]
    rgb = np.stack(channels, axis=-1)
    path = tmp_path / "em_rgb.png"
    Image.fromarray(rgb, "RGB").save(path)
    open_and_wait(qtbot, main_window, [path])
    view = main_window.viewer.views[AXIAL]
    image = shown_image(view)
    np.testing.assert_array_equal(image, rgb)
    for row, col in ((0, 0), (100, 400), (511, 3)):
        assert tuple(image[row, col]) == tuple(int(c[row, col]) for c in channels)
    assert_colour_controls(main_window)
    hover(qtbot, view, view_point(view, 100, 400))
    r, g, b = (int(c[100, 400]) for c in channels)
    assert f"RGB {r}, {g}, {b}" in main_window.readout_label.text()


def test_sr_of_a_colour_image_runs_on_the_luminance_and_the_colour_comes_back(
    qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]
) -> None:
    """SR on (S): the model gets the luminance, so the original pane beside it shows that
    luminance (bicubic x2 of it in the SR pane); SR off: the pane is in colour again."""
    path = Path(get_testdata_file("SC_rgb.dcm"))
    stored = pydicom.dcmread(path).pixel_array
    luminance = stored.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 600))
    try:
        open_and_wait(qtbot, win, [path])
        view = win.viewer.views[AXIAL]
        np.testing.assert_array_equal(shown_image(view), stored)
        win.compare.model_picker.add_path(zoo["bicubic-x2"])
        qtbot.keyClick(win, Qt.Key.Key_S)
        assert win.sr_action.isChecked()
        qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)
        original = shown_image(win.compare.original_view)  # bicubic display on the SR grid
        assert original.ndim == 2
        np.testing.assert_allclose(original, upsample(luminance, 2, Interpolation.BICUBIC),
                                   atol=1e-3)
        sr = win.compare.shown_image()
        assert sr is not None and sr.shape == (200, 200) and sr.ndim == 2
        qtbot.keyClick(win, Qt.Key.Key_S)
        assert not win.sr_action.isChecked()
        np.testing.assert_array_equal(shown_image(view), stored)
    finally:
        close_model_window(win)


def test_4d_nifti_steps_through_its_time_points_with_the_volume_bar(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path
) -> None:
    """dcm2niix's 4-D fMRI NIfTI: the volume bar has 6 volumes; Alt+Up, '.', ',' and
    Alt+Down show exactly nibabel's volume t in every pane, named t=i/6, the slices kept."""
    path = data_dir / FMRI_REF
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    affine = RAS_TO_LPS @ image.affine

    def expected(t: int, orientation: Orientation, index: int) -> np.ndarray:
        own = DisplayVolume(Volume(np.ascontiguousarray(data[..., t].T, np.float32), affine))
        return own.slice_array(orientation, index)

    win = main_window
    open_and_wait(qtbot, win, [path])
    bar = win.volume_bar
    assert bar.isVisible() and bar.spin.maximum() == 6 and bar.spin.suffix() == " / 6"
    qtbot.keyClick(win, Qt.Key.Key_4)  # three planes
    viewer = win.viewer
    slices = {o: viewer.slice_index(o) for o in Orientation}

    def assert_shows(t: int) -> None:
        for orientation in Orientation:
            assert viewer.slice_index(orientation) == slices[orientation]
            np.testing.assert_array_equal(shown_image(viewer.views[orientation]),
                                          expected(t, orientation, slices[orientation]))
            assert viewer.views[orientation].volume_caption() == f"t={t + 1}/6"
        assert bar.label.text() == f"t={t + 1}/6" and bar.spin.value() == t + 1

    assert_shows(0)
    qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
    assert_shows(1)
    qtbot.keyClick(win, Qt.Key.Key_Period)
    qtbot.keyClick(win, Qt.Key.Key_Period)
    assert_shows(3)
    qtbot.keyClick(win, Qt.Key.Key_Comma)
    assert_shows(2)
    for _ in range(5):
        qtbot.keyClick(win, Qt.Key.Key_Up, ALT)
    assert_shows(5)  # clamped at the last
    qtbot.keyClick(win, Qt.Key.Key_Down, ALT)
    assert_shows(4)
    assert not any(np.array_equal(data[..., 4], data[..., t]) for t in (0, 5))
