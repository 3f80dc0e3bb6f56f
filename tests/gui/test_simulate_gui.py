"""Simulate mode and reference volumes: the model scored against the real study (issue #4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gui_helpers import close_model_window, cpu_model_window, open_and_wait, write_nifti_crop
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.degrade import block_mean_downsample
from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.roi import RectangleRoi
from medsr_viewer.gui.main_window import MainWindow

AXIAL = Orientation.AXIAL


@pytest.fixture(scope="module")
def t1(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64x72x4 crop of the real head MR."""
    return write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz",
                            np.s_[60:124, 80:152, 90:94],
                            tmp_path_factory.mktemp("simulate") / "t1.nii.gz", np.float32)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    win = cpu_model_window(qtbot, tmp_path, zoo["bicubic-x2"].parent)
    yield win
    close_model_window(win)


def psnr(ref: np.ndarray, test: np.ndarray, data_range: float) -> float:
    return float(10 * np.log10(data_range ** 2 / np.mean((ref - test) ** 2)))


def test_simulate_scores_the_model_against_the_real_study(
    qtbot: QtBot, window: MainWindow, t1: Path, zoo: dict[str, Path]
) -> None:
    open_and_wait(qtbot, window, [t1])
    window.compare.model_picker.add_path(zoo["bicubic-x2"])
    hr = window.viewer.volume
    assert hr is not None
    display = window.viewer.display
    index = window.viewer.slice_index(AXIAL)
    roi = RectangleRoi(display_plane(display, AXIAL, index), u0=10.0, v0=12.0, u1=30.0,
                       v1=26.0, name="box")
    window.roi_editor.add(roi)

    window.references.simulate_action.trigger()  # File ▸ Simulate Low Resolution
    lr = window.viewer.volume
    assert lr is not None and lr.metadata["simulated_scale"] == 2
    assert lr.shape == (hr.shape[0], hr.shape[1] // 2, hr.shape[2] // 2)
    assert window.references.reference is hr
    assert list(window.rois) == [roi]  # same subject: the ROI stays

    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: window.compare.complete, timeout=10000)
    qtbot.waitUntil(lambda: "gain" in window.metrics_panel.quality_label.text(), timeout=5000)

    # independent: the HR slice, its protocol LR, bicubic by the protocol's torch call
    hr_slice = DisplayVolume(hr).slice_array(AXIAL, window.viewer.slice_index(AXIAL))
    hr_slice = np.asarray(hr_slice, np.float64)
    lr_slice = block_mean_downsample(hr_slice, 2)
    bicubic = F.interpolate(torch.from_numpy(lr_slice)[None, None], scale_factor=2,
                            mode="bicubic", align_corners=False)[0, 0].numpy()
    low, high = hr.value_range()
    crop = (slice(4, -4), slice(4, -4))
    want = psnr(hr_slice[crop], bicubic[crop], high - low)
    quality = window.metrics_panel.slice_quality()
    assert quality is not None
    assert quality["bicubic"]["psnr_db"] == pytest.approx(want, abs=1e-3)
    # the zoo model *is* bicubic: its score equals the baseline's, gain 0
    assert quality["sr"]["psnr_db"] == pytest.approx(want, abs=1e-3)
    assert re.search(r"gain [+-]0.00 dB", window.metrics_panel.quality_label.text())

    original, sr, delta = window.metrics_panel.records()
    mask = np.zeros(hr_slice.shape, bool)
    rows, cols = np.mgrid[: hr_slice.shape[0], : hr_slice.shape[1]]
    row_mm, col_mm = display.pixel_spacing(AXIAL)
    mask = (cols * col_mm >= 10) & (cols * col_mm <= 30) & (rows * row_mm >= 12) & \
        (rows * row_mm <= 26)
    assert sr.metrics["count"] == mask.sum()
    assert sr.metrics["psnr_db"] == pytest.approx(
        psnr(hr_slice[mask], bicubic[mask], high - low), abs=1e-3)
    assert original.metrics["psnr_db"] == pytest.approx(sr.metrics["psnr_db"], abs=1e-3)
    assert abs(delta.metrics["psnr_db"]) < 1e-3

    # back to the real study: ROIs kept, reference gone
    window.references.simulate_action.trigger()
    assert window.viewer.volume is hr and window.references.reference is None
    assert list(window.rois) == [roi]


def test_reference_file_errors_are_named(qtbot: QtBot, window: MainWindow, t1: Path,
                                         tmp_path: Path) -> None:
    assert not window.references.simulate()  # no study yet
    assert "Open a study" in window.error_banner.text()
    open_and_wait(qtbot, window, [t1])
    bad = tmp_path / "ref.nii.gz"
    bad.write_bytes(b"not a nifti")
    assert not window.references.open_reference(bad)
    assert str(bad) in window.error_banner.text()
    assert window.references.open_reference(t1)
    assert window.references.reference is not None
    # another study ends the reference
    open_and_wait(qtbot, window, [t1])
    assert window.references.reference is None


def test_switching_to_the_simulated_study_keeps_the_slice(
    qtbot: QtBot, window: MainWindow, t1: Path, zoo: dict[str, Path]
) -> None:
    open_and_wait(qtbot, window, [t1])
    window.compare.model_picker.add_path(zoo["bicubic-x2"])
    window.viewer.set_slice(1, AXIAL)
    hr_display = window.viewer.display
    world = hr_display.canonical_to_world(window.viewer.cursor_point)
    assert window.references.simulate()
    lr_display = window.viewer.display
    assert window.viewer.slice_index(AXIAL) == 1
    shown = lr_display.canonical_to_world(window.viewer.cursor_point)
    # same axial position; in plane within one LR voxel
    assert np.max(np.abs(shown - world)) <= max(lr_display.pixel_spacing(AXIAL))
