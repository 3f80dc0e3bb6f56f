"""Label-map overlay: File ▸ Open Label Map, colours per label, slice following, O, opacity."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import open_and_wait, shown_image, wheel, write_flair_crop
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import default_color
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.main_window import MainWindow

#: A crop of the FLAIR/lesion pair holding all three lesion labels (x, y, z voxel ranges).
CROP = (slice(20, 100), slice(30, 130), slice(55, 79))


@pytest.fixture(scope="module")
def flair_pair(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small real FLAIR and its lesion labels, cropped identically (same grid)."""
    return write_flair_crop(data_dir, tmp_path_factory.mktemp("flair"), CROP)


def labels_zyx(path: Path) -> np.ndarray:
    """The label array of a NIfTI file in the project's (z, y, x) order."""
    return np.asarray(nib.load(str(path)).dataobj).transpose(2, 1, 0).astype(np.int64)


def overlay_image(window: MainWindow, orientation: Orientation) -> np.ndarray:
    """The RGBA image the overlay item of a pane shows."""
    image = window.label_overlay.items[orientation].image
    assert image is not None
    return np.asarray(image)


def expected_slice(window: MainWindow, labels: np.ndarray, orientation: Orientation) -> np.ndarray:
    """The labels of the slice a pane shows, reoriented exactly like the study."""
    study = window.viewer.volume
    assert study is not None
    display = DisplayVolume(Volume(labels, study.affine))
    return display.slice_array(orientation, window.viewer.views[orientation].slice_index)


def assert_colours(rgba: np.ndarray, labels: np.ndarray, alpha: int) -> None:
    """Labelled pixels have their label's default colour and ``alpha``; the rest are clear."""
    assert rgba.shape == (*labels.shape, 4)
    assert np.all(rgba[labels == 0, 3] == 0)
    present = [int(v) for v in np.unique(labels) if v]
    assert present, "the slice must hold labels for the test to mean anything"
    for value in present:
        pixels = rgba[labels == value]
        assert np.all(pixels[:, :3] == default_color(value)[:3])
        assert np.all(pixels[:, 3] == alpha)


def test_overlay_colours_follow_slices_toggle_and_opacity(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path]
) -> None:
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.open_label_map(lesion)
    assert not main_window.error_banner.isVisible()
    labels = labels_zyx(lesion)
    overlay = main_window.label_overlay
    alpha = round(255 * overlay.opacity)
    view = main_window.viewer.views[Orientation.AXIAL]
    item = overlay.items[Orientation.AXIAL]
    assert item.isVisible() and item.zValue() > view.image_item.zValue()
    assert item.mapRectToParent(item.boundingRect()) == view.image_rect()
    first = expected_slice(main_window, labels, Orientation.AXIAL)
    assert shown_image(view).shape == first.shape
    assert_colours(overlay_image(main_window, Orientation.AXIAL), first, alpha)

    # Scrolling: the overlay shows the new slice.
    before = view.slice_index
    wheel(view, -4)
    assert view.slice_index == before - 4
    moved = expected_slice(main_window, labels, Orientation.AXIAL)
    assert not np.array_equal(moved, first)
    assert_colours(overlay_image(main_window, Orientation.AXIAL), moved, alpha)

    # Every pane of the three-plane layout carries it.
    main_window.set_three_plane(True)
    for orientation in Orientation:
        assert overlay.items[orientation].isVisible()
        assert_colours(
            overlay_image(main_window, orientation),
            expected_slice(main_window, labels, orientation),
            alpha,
        )
    main_window.set_three_plane(False)

    # O hides and shows again.
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert not overlay.visible and not item.isVisible()
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert overlay.visible and item.isVisible()

    # The opacity slider scales the alpha.
    main_window.label_controls.opacity_slider.setValue(100)
    assert_colours(overlay_image(main_window, Orientation.AXIAL), moved, 255)
    main_window.label_controls.opacity_slider.setValue(20)
    assert_colours(overlay_image(main_window, Orientation.AXIAL), moved, round(255 * 0.2))


def test_label_map_on_a_coarser_grid_lines_up_in_world_space(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    flair, lesion = flair_pair
    fine = nib.load(str(lesion))
    coarse_data = np.asarray(fine.dataobj)[::2, ::2, ::2]
    coarse_affine = fine.affine @ np.diag([2.0, 2.0, 2.0, 1.0])  # voxel i = fine voxel 2i
    coarse_path = tmp_path / "lesion_coarse.nii.gz"
    nib.save(nib.Nifti1Image(coarse_data, coarse_affine), str(coarse_path))
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.open_label_map(coarse_path)
    shown = main_window.label_overlay.label_map
    assert shown is not None
    assert shown.labels.shape == main_window.viewer.volume.shape  # type: ignore[union-attr]
    # Fine voxels at even indices are the coarse voxel centres: their labels must match.
    fine_labels = labels_zyx(lesion)
    assert np.array_equal(shown.labels[::2, ::2, ::2], fine_labels[::2, ::2, ::2])
    # And the pane draws those labels on the study's pixels.
    view = main_window.viewer.views[Orientation.AXIAL]
    view_labels = expected_slice(main_window, shown.labels, Orientation.AXIAL)
    assert_colours(
        overlay_image(main_window, Orientation.AXIAL),
        view_labels,
        round(255 * main_window.label_overlay.opacity),
    )
    assert shown_image(view).shape == view_labels.shape


def test_bad_label_file_shows_an_error_naming_it(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    flair, lesion = flair_pair
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti file")
    file_menu = main_window.menuBar().actions()[0].menu()
    assert main_window.label_controls.open_action in file_menu.actions()
    # No study yet: refused with a message.
    assert not main_window.open_label_map(lesion)
    assert main_window.error_banner.isVisible()
    assert "lesion.nii.gz" in main_window.error_banner.text()
    open_and_wait(qtbot, main_window, [flair])
    assert not main_window.open_label_map(bad)
    assert "broken.nii.gz" in main_window.error_banner.text()
    assert main_window.label_overlay.label_map is None
    assert not main_window.label_overlay.items[Orientation.AXIAL].isVisible()
    # A good map afterwards works, and opening another study removes it.
    assert main_window.open_label_map(lesion)
    assert main_window.label_overlay.label_map is not None
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.label_overlay.label_map is None
