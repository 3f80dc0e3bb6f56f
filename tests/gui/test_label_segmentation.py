"""Segmentation runs as label layers: the bundled EM model on real EM images, in the GUI."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from gui_helpers import open_and_wait
from model_zoo import trust_folder_for_tests
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.io import load_volume
from medsr_viewer.gui.docks.label_dock import NAME_COLUMN
from medsr_viewer.gui.layers.segmentation import SegmentationRunner
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.models.archive import save_torchscript
from medsr_viewer.models.card import Label, ModelCard
from medsr_viewer.models.registry import bundled_models_dir, load_checked
from medsr_viewer.models.volume_processing import VolumeProcessor

#: Held-out validation images of the bundled model, and the crop used (rows, cols).
EM_IMAGES = ("20", "21", "22")
BOX = (slice(96, 224), slice(160, 288))
MODEL = bundled_models_dir() / "seg-em-membrane.safetensors"


@pytest.fixture(scope="module")
def em_crop(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A crop of a real EM image (PNG) and the membrane mask of its ground truth."""
    folder = data_dir / "isbi2012_em"
    image = np.asarray(Image.open(folder / "images" / "22.png"))[BOX]
    truth = np.asarray(Image.open(folder / "labels" / "22.png"))[BOX]
    path = tmp_path_factory.mktemp("em") / "em22_crop.png"
    Image.fromarray(image).save(path)
    return path, truth < 128  # label 0 = membrane


@pytest.fixture(scope="module")
def em_stack(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real EM crops stacked as a small volume (NIfTI, 1 mm voxels)."""
    folder = data_dir / "isbi2012_em" / "images"
    slices = [np.asarray(Image.open(folder / f"{n}.png"))[BOX] for n in EM_IMAGES]
    data = np.stack(slices, axis=-1).transpose(1, 0, 2).astype(np.float32)  # (x, y, z)
    path = tmp_path_factory.mktemp("em_stack") / "em_stack.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def headless(study_path: Path, axis: int, indices: list[int]) -> np.ndarray:
    """Labels the bundled model gives on the stored voxel array, without the GUI."""
    volume = load_volume(study_path)
    processor = VolumeProcessor(load_checked(MODEL, task="segment"), volume)
    labels = np.zeros(volume.shape, np.uint8)
    for index in indices:
        target = [slice(None)] * 3
        target[axis] = index  # type: ignore[call-overload]
        labels[tuple(target)] = processor.run_slice(index, axis)
    return labels


def test_segment_current_slice_of_an_em_image(
    qtbot: QtBot, main_window: MainWindow, em_crop: tuple[Path, np.ndarray]
) -> None:
    path, membrane = em_crop
    open_and_wait(qtbot, main_window, [path])
    dock = main_window.label_dock
    runner = dock.runner
    assert runner.current_model() is not None
    assert runner.current_model().name == "seg-em-membrane"  # type: ignore[union-attr]
    assert not dock.isVisible()
    dock.toggleViewAction().trigger()  # Segmentation ▸ Labels
    assert dock.isVisible()
    progress: list[float] = []
    runner.progressChanged.connect(progress.append)
    with qtbot.waitSignal(runner.finished, timeout=60000) as finished:
        qtbot.mouseClick(dock.segment_slice_button, Qt.MouseButton.LeftButton)
        assert runner.busy and dock.cancel_button.isEnabled()
    layer = finished.args[0]
    assert not runner.busy and progress[-1] == 1.0
    assert dock.progress_bar.value() == dock.progress_bar.maximum()
    overlay = main_window.label_overlay
    assert overlay.active_layer is layer and layer.model == "seg-em-membrane"
    assert layer.name == "seg-em-membrane (axial slice 1)" and layer.source is None
    expected = headless(path, 0, [0])
    assert np.array_equal(layer.labels, expected)
    # Sanity against the ground truth: the model finds the membranes.
    found = layer.labels[0] == 1
    dice = 2 * (found & membrane).sum() / (found.sum() + membrane.sum())
    assert dice > 0.6
    # The card's names and colours; drawn red over the membranes.
    assert dock.listed_values() == [1]
    assert dock.table.item(0, NAME_COLUMN).text() == "membrane"
    rgba = np.asarray(overlay.items[Orientation.AXIAL].image)
    assert np.all(rgba[found, :3] == (255, 0, 0)) and np.all(rgba[~found] == 0)
    assert not main_window.error_banner.isVisible()


def test_segment_volume_with_progress_cancel_and_supersede(
    qtbot: QtBot, main_window: MainWindow, em_stack: Path
) -> None:
    open_and_wait(qtbot, main_window, [em_stack])
    dock = main_window.label_dock
    runner: SegmentationRunner = dock.runner
    worker = runner.worker
    overlay = main_window.label_overlay
    study = main_window.viewer.volume
    assert study is not None and study.shape == (3, 128, 128)

    # Cancel after the first slice: nothing is added.
    dock.segment_volume_action.trigger()
    assert runner.busy and runner.job is not None and runner.job.indices == [0, 1, 2]
    qtbot.waitUntil(lambda: runner.job is not None and runner.job.position >= 1, timeout=60000)
    qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)
    assert not runner.busy and dock.progress_bar.value() == 0
    qtbot.waitUntil(lambda: not worker.busy, timeout=60000)
    qtbot.wait(50)
    assert overlay.layers == ()

    # A newer request supersedes the running one: only the slice layer arrives.
    finished: list[object] = []
    runner.finished.connect(finished.append)
    assert runner.segment_volume()
    main_window.viewer.step_slice(1)
    axial = main_window.viewer.views[Orientation.AXIAL]
    shown = axial.slice_index
    assert dock.segment_current_slice()
    qtbot.waitUntil(lambda: bool(finished), timeout=60000)
    qtbot.waitUntil(lambda: not worker.busy, timeout=60000)
    qtbot.wait(50)
    assert len(finished) == 1 and len(overlay.layers) == 1
    layer = overlay.layers[0]
    assert layer.name == f"seg-em-membrane (axial slice {shown + 1})"
    run = [k for k in range(3) if layer.labels[k].any()]
    assert len(run) == 1  # slices not run are 0
    # The run slice is the one shown: the axial pane draws the layer's labels there.
    rgba = np.asarray(overlay.items[Orientation.AXIAL].image)
    assert (rgba[..., 3] > 0).sum() == (layer.labels[run[0]] > 0).sum()

    # The whole volume, with per-slice progress, matches the model run headless.
    progress: list[float] = []
    runner.progressChanged.connect(progress.append)
    with qtbot.waitSignal(runner.finished, timeout=90000):
        dock.segment_volume_button.click()
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3
    volume_layer = overlay.active_layer
    assert volume_layer is not None and volume_layer.name == "seg-em-membrane"
    expected = headless(em_stack, 0, [0, 1, 2])
    assert np.array_equal(volume_layer.labels, expected)
    assert np.array_equal(layer.labels[run[0]], expected[run[0]])
    assert [lay.name for lay in overlay.layers][-1] == "seg-em-membrane"


class _FailsOnLargeTiles(torch.nn.Module):
    """A two-class "segmentation" that passes the 16x16 dry run and fails on real tiles."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 32:
            raise RuntimeError("this model cannot process tiles larger than 32 pixels")
        return torch.cat([x, 1.0 - x], dim=1)


def test_wrong_or_failing_models_are_reported(
    qtbot: QtBot, main_window: MainWindow, em_crop: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, _membrane = em_crop
    dock = main_window.label_dock
    # No study yet.
    assert not dock.segment_current_slice()
    assert "Open a study" in main_window.error_banner.text()
    open_and_wait(qtbot, main_window, [path])
    # A super-resolution model is refused, naming the file.
    sr_model = bundled_models_dir() / "sr-x2.safetensors"
    assert not dock.open_model(sr_model)
    assert "sr-x2.safetensors" in main_window.error_banner.text()
    assert "not a segment model" in main_window.error_banner.text()
    # A segment model that fails while running: reported, the app keeps going.
    card = ModelCard(name="fails-large", task="segment", out_channels=2, tile_size=64,
                     tile_overlap=8,
                     labels=(Label(0, "background", (0, 0, 0)), Label(1, "thing", (0, 255, 0))))
    broken = tmp_path / "fails_large.pt"
    save_torchscript(_FailsOnLargeTiles(), card, broken)
    trust_folder_for_tests(tmp_path)  # TorchScript runs code: this test trusts its own file
    assert dock.open_model(broken)
    assert dock.runner.current_model().name == "fails-large"  # type: ignore[union-attr]
    with qtbot.waitSignal(dock.runner.failed, timeout=60000) as failed:
        dock.segment_slice_action.trigger()
    assert "fails_large.pt" in failed.args[0] or "fails-large" in failed.args[0]
    assert "32 pixels" in main_window.error_banner.text()
    assert not dock.runner.busy and main_window.label_overlay.layers == ()
    # The bundled model still works afterwards.
    assert dock.runner.select_model("seg-em-membrane")
    with qtbot.waitSignal(dock.runner.finished, timeout=60000):
        dock.segment_current_slice()
    assert len(main_window.label_overlay.layers) == 1


def test_opening_another_study_drops_a_running_segmentation(
    qtbot: QtBot, main_window: MainWindow, em_stack: Path, em_crop: tuple[Path, np.ndarray]
) -> None:
    open_and_wait(qtbot, main_window, [em_stack])
    runner = main_window.label_dock.runner
    busy: list[bool] = []
    runner.busyChanged.connect(busy.append)
    assert runner.segment_volume()
    open_and_wait(qtbot, main_window, [em_crop[0]])
    assert busy == [True, False] and not runner.busy
    qtbot.waitUntil(lambda: not runner.worker.busy, timeout=60000)
    qtbot.wait(50)
    assert main_window.label_overlay.layers == ()
    assert not main_window.error_banner.isVisible()
