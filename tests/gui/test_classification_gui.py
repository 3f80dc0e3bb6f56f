"""Tools ▸ Series Type: the panel's bars and plot, the Grad-CAM overlay's geometry in every
plane, the series type in the information overlay, a wrong-task model refused."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gui_helpers import open_and_wait
from pytestqt.qtbot import QtBot
from torch import nn

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.card import Label, ModelCard, Normalisation
from medsr_viewer.models.classification import SliceClassifierRun

SERIES_TYPE = Path(__file__).resolve().parents[2] / "resources" / "models" / \
    "series-type.safetensors"
#: Until the model is trained (medsr train classify, see resources/models/README.md).
needs_model = pytest.mark.skipif(not SERIES_TYPE.is_file(),
                                 reason="series-type is not bundled yet")


def _action(window: MainWindow):
    return window.studies.classification


def _wait_result(qtbot: QtBot, window: MainWindow, timeout: int = 60000) -> None:
    action = _action(window)
    qtbot.waitUntil(lambda: action.result is not None, timeout=timeout)


@needs_model
def test_panel_shows_slice_and_volume_probabilities(qtbot: QtBot, main_window: MainWindow,
                                                    data_dir: Path) -> None:
    study = data_dir / "dicom_qa" / "series" / "dcm_qa_decubitus" / "HFS" / "3_t1_fl2d_sag"
    open_and_wait(qtbot, main_window, [study])
    qaction = main_window.actions_.action("tools.classify")
    qaction.trigger()  # as from the Tools menu
    action = _action(main_window)
    assert action.shown and action.dock is not None and action.dock.isVisible()
    _wait_result(qtbot, main_window)
    dock, result = action.dock, action.result
    assert result is not None
    view = main_window.viewer.views[result.orientation]
    assert dock.classes == ("CT", "T1-weighted", "T2/PD-weighted", "FLAIR", "EPI",
                            "MR angiography")
    assert dock.probabilities.shape == (view.n_slices, 6)
    np.testing.assert_allclose(dock.probabilities.sum(1), 1.0, atol=1e-4)
    best = result.classes[int(np.argmax(result.volume))]
    assert dock.volume_text.startswith(f"Volume: {best} (")
    bars = dock.bar_values()
    row = dock.probabilities[view.slice_index]
    assert bars == pytest.approx(dict(zip(dock.classes, row.tolist())), abs=1e-6)
    assert dock.marker.value() == view.slice_index
    # the information overlay names the series type
    assert best in view.labels.corner_text("top_right")
    # scrolling moves the marker and the bars
    target = 3 if view.slice_index != 3 else 5
    main_window.view_model.set_slice(target, result.orientation)
    qtbot.waitUntil(lambda: dock.marker.value() == view.slice_index, timeout=5000)
    assert dock.bar_values() == pytest.approx(
        dict(zip(dock.classes, dock.probabilities[view.slice_index].tolist())), abs=1e-6)
    assert dock.slice_text.startswith(f"Slice {view.slice_index + 1}: ")
    # off again: the overlay text goes
    qaction.trigger()
    assert not dock.isVisible() and best not in view.labels.corner_text("top_right")


class Bright(nn.Module):
    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 4)

    def classify(self, maps: torch.Tensor) -> torch.Tensor:
        m = maps.mean(dim=(2, 3))
        return torch.cat([1 - 300 * m, 300 * m - 1], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.feature_maps(x))


CARD = ModelCard(name="bright", task="classify", out_channels=2, input_size=64,
                 normalisation=Normalisation("window", 0.0, 1.0),
                 labels=(Label(0, "dark"), Label(1, "bright")))


def test_grad_cam_overlay_lands_on_the_blob_in_three_planes(
        qtbot: QtBot, main_window: MainWindow, tmp_path: Path) -> None:
    x, y, z = np.mgrid[0:80, 0:40, 0:30]
    mm = np.sqrt((x - 60.0) ** 2 + ((y - 10.0) * 2) ** 2 + (z - 12.0) ** 2)
    path = tmp_path / "blob.nii.gz"
    nib.save(nib.Nifti1Image(np.where(mm <= 4, 1.0, 0.0).astype(np.float32),
                             np.diag([1.0, 2.0, 1.0, 1.0])), str(path))
    open_and_wait(qtbot, main_window, [path])
    action = _action(main_window)
    action._run_for = lambda display, _name: SliceClassifierRun(  # the blob detector
        LoadedModel(Bright(), CARD, Path("bright")), display.volume)
    main_window.set_three_plane(True)
    display = main_window.view_model.display
    # every plane through the blob's centre
    centre = np.round(np.argwhere(display.voxels > 0.5).mean(axis=0))
    main_window.view_model.set_cursor(centre)
    action.set_saliency(True)
    for orientation, view in main_window.viewer.views.items():
        item = action.items[orientation]
        qtbot.waitUntil(lambda o=orientation: o in action.saliency and
                        action.items[o].isVisible(), timeout=30000)
        shown = display.slice_array(orientation, view.slice_index)
        saliency = action.saliency[orientation]
        assert saliency.shape == shown.shape  # on the pane's grid
        assert item.image.shape[:2] == shown.shape
        assert item.mapRectToParent(item.boundingRect()) == view.image_rect()
        peak = np.unravel_index(np.argmax(saliency), saliency.shape)
        blob = np.argwhere(shown > 0.5).mean(axis=0)  # the blob's centre in this pane
        assert abs(peak[0] - blob[0]) <= 4 and abs(peak[1] - blob[1]) <= 4, (orientation, peak)
    action.set_saliency(False)
    assert not any(item.isVisible() for item in action.items.values())
    assert Orientation.AXIAL in action.saliency


def test_an_sr_model_is_refused_with_a_clear_message(qtbot: QtBot, main_window: MainWindow,
                                                     t1_path: Path) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    action = _action(main_window)
    action.model_name = "sr-x2"
    action.set_shown(True)
    dock = action.dock
    qtbot.waitUntil(lambda: bool(dock.notice_text), timeout=30000)
    assert "'super_resolution' model, not 'classify'" in dock.notice_text
    assert dock.volume_text == "Classification failed"


@needs_model
def test_em_model_on_an_mr_study_names_the_series_type(qtbot: QtBot, main_window: MainWindow,
                                                      t1_path: Path) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    dock = main_window.label_dock
    assert dock.runner.select_model("seg-em-membrane")
    with qtbot.waitSignal(dock.runner.finished, timeout=60000):
        dock.segment_current_slice()
    qtbot.waitUntil(main_window.warning_banner.isVisible, timeout=10000)
    text = main_window.warning_banner.text()
    assert "seg-em-membrane: may not suit this study" in text
    assert "series-type reads this study as T1-weighted MR" in text
