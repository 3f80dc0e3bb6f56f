"""Classification core: slice preparation, per-volume result, Grad-CAM/occlusion geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.card import CardError, Label, ModelCard, Normalisation
from medsr_viewer.models.classification import (
    SliceClassifierRun,
    check_classifier,
    has_anatomy,
    placement,
    prepare_slice,
    to_slice_grid,
    volume_probabilities,
)


class Bright(nn.Module):
    """'bright' when the image is bright: the class depends only on the blob's pixels."""

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 4)

    def classify(self, maps: torch.Tensor) -> torch.Tensor:
        m = maps.mean(dim=(2, 3))
        return torch.cat([1 - 300 * m, 300 * m - 1], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.feature_maps(x))


class Opaque(nn.Module):
    """The same decision without the Grad-CAM hooks (gets the occlusion map)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = Bright()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


CARD = ModelCard(name="bright", task="classify", out_channels=2, input_size=64,
                 normalisation=Normalisation("window", 0.0, 1.0),
                 labels=(Label(0, "dark"), Label(1, "bright")))


def _blob_volume() -> Volume:
    """(z, y, x) = (20, 40, 80) with 2 mm rows: every plane's two axes span the same mm."""
    z, y, x = np.mgrid[0:20, 0:40, 0:80]
    mm = np.sqrt((z - 10.0) ** 2 + ((y - 10.0) * 2) ** 2 + (x - 60.0) ** 2)
    voxels = np.where(mm <= 4, 1.0, 0.0).astype(np.float32)
    return Volume(voxels, np.diag([1.0, 2.0, 1.0, 1.0]), modality="MR")


def _peak(saliency: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(saliency), saliency.shape))


@pytest.mark.parametrize("module", [Bright(), Opaque()], ids=["grad-cam", "occlusion"])
@pytest.mark.parametrize(("axis", "index", "where"), [
    (0, 10, (10, 60)),  # axial plane (y, x): 40 x 80 px of 2 x 1 mm
    (1, 10, (10, 60)),  # coronal plane (z, x): 20 x 80 px of 1 x 1 mm
    (2, 60, (10, 10)),  # sagittal plane (z, y): 20 x 40 px of 1 x 2 mm
])
def test_saliency_lands_on_the_blob_in_every_orientation(module, axis, index, where):
    volume = _blob_volume()
    run = SliceClassifierRun(LoadedModel(module, CARD, Path("bright")), volume)
    probs = run.probabilities(axis, [index])[0]
    assert probs[1] > 0.5  # the blob makes the slice "bright"
    saliency = run.saliency(axis, index, class_index=1)
    plane_shape = np.take(volume.voxels, index, axis=axis).shape
    assert saliency.shape == plane_shape  # on the slice's own grid
    assert saliency.min() >= 0 and saliency.max() == pytest.approx(1.0)
    peak = _peak(saliency)
    tol = 6 if isinstance(module, Opaque) else 4
    assert abs(peak[0] - where[0]) <= tol and abs(peak[1] - where[1]) <= tol, peak
    # nothing far from the blob
    far = np.take(volume.voxels, index, axis=axis) * 0
    far[:, : plane_shape[1] // 4] = 1
    if where[1] > plane_shape[1] // 2:
        assert float((saliency * far).max()) < 0.2


def test_placement_keeps_the_physical_aspect_and_maps_back():
    place = placement((40, 80), (2.0, 1.0), 64)  # 80 x 80 mm: fills the square
    assert (place.height, place.width, place.top, place.left) == (64, 64, 0, 0)
    place = placement((20, 80), (1.0, 1.0), 64)  # 20 x 80 mm: a band in the middle
    assert (place.height, place.width) == (16, 64) and place.top == 24
    plane = np.zeros((20, 80), np.float32)
    plane[5, 70] = 1.0
    x, place = prepare_slice(plane, (1.0, 1.0), 64)
    assert tuple(x.shape) == (1, 64, 64)
    assert float(x[0, :24].abs().max()) == 0.0  # padding stays background
    back = to_slice_grid(x[0].numpy(), place)
    assert back.shape == (20, 80)
    assert _peak(back) == pytest.approx((5, 70), abs=2)


def test_volume_result_is_the_geometric_mean_over_anatomy():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.01, 0.99]])
    anatomy = np.array([True, True, False])  # the last slice is empty: ignored
    out = volume_probabilities(probs, anatomy)
    g = np.sqrt([0.9 * 0.6, 0.1 * 0.4])
    np.testing.assert_allclose(out, g / g.sum(), rtol=1e-9)
    np.testing.assert_allclose(volume_probabilities(probs, np.zeros(3, bool)).sum(), 1.0)
    assert has_anatomy(np.pad(np.ones((10, 10)), 10)) and not has_anatomy(np.zeros((30, 30)))


def test_run_over_a_volume_and_json():
    volume = _blob_volume()
    result = SliceClassifierRun(LoadedModel(Bright(), CARD, Path("bright")), volume).run()
    assert result.probabilities.shape == (20, 2) and result.axis == 0
    assert result.anatomy.sum() == 0 or result.predicted in ("dark", "bright")
    data = result.to_dict()
    assert len(data["slices"]) == 20 and data["classes"] == ["dark", "bright"]
    assert abs(sum(data["volume"]["probabilities"].values()) - 1) < 1e-4


def test_real_architecture_gives_a_map_on_the_grid():
    torch.manual_seed(0)
    module = build_architecture("slice-classifier", classes=2, base=8).eval()
    card = ModelCard(name="net", task="classify", out_channels=2, input_size=64,
                     architecture="slice-classifier",
                     labels=(Label(0, "a"), Label(1, "b")))
    volume = _blob_volume()
    run = SliceClassifierRun(LoadedModel(module, card, Path("net")), volume)
    sal = run.saliency(2, 60)
    assert sal.shape == (20, 40) and np.isfinite(sal).all()


def test_non_classifiers_are_refused_with_a_clear_message():
    sr = ModelCard(name="sr-x2", task="super_resolution", scale=2)
    with pytest.raises(CardError, match="'super_resolution' model, not a classifier"):
        check_classifier(sr)
    with pytest.raises(CardError, match="one label per output"):
        ModelCard(name="x", task="classify", out_channels=3, labels=(Label(0, "a"),))
    assert CARD.class_names == ("dark", "bright")
    assert ModelCard.from_json(CARD.to_json()) == CARD


def test_header_modality_limits_the_classes_and_says_so():
    from medsr_viewer.models.classification import apply_prior, modality_prior

    classes = ("CT", "T1-weighted", "EPI")
    np.testing.assert_array_equal(modality_prior(classes, "CT"), [True, False, False])
    np.testing.assert_array_equal(modality_prior(classes, "MR"), [False, True, True])
    assert modality_prior(classes, "OT") is None and modality_prior(("a", "b"), "CT") is None
    probs = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 1.0]], np.float32)
    np.testing.assert_allclose(apply_prior(probs, modality_prior(classes, "MR")),
                               [[0, 2 / 3, 1 / 3], [0, 0, 1]], rtol=1e-6)
    # A CT study whose slices the model calls anything else is still CT (uniform over the
    # allowed classes when the model gives them nothing).
    np.testing.assert_allclose(apply_prior(probs, modality_prior(classes, "CT")),
                               [[1, 0, 0], [1, 0, 0]])
    assert apply_prior(probs, None) is probs

    card = ModelCard(name="kinds", task="classify", out_channels=2, input_size=64,
                     normalisation=Normalisation("window", 0.0, 1.0),
                     labels=(Label(0, "CT"), Label(1, "T1-weighted")))
    loaded = LoadedModel(Bright(), card, Path("kinds"))
    mr = _blob_volume()  # mostly dark slices: the model alone says "CT" for this MR study
    plain = SliceClassifierRun(loaded, mr).run()
    limited = SliceClassifierRun(loaded, mr, header_prior=True).run()
    assert plain.prior == "" and plain.predicted == "CT"
    assert limited.prior == "MR" and limited.predicted == "T1-weighted"
    assert limited.to_dict()["header_prior"] == "MR"
    assert np.all(limited.probabilities[:, 0] == 0)
    ct = Volume(mr.voxels, mr.affine, modality="CT")
    assert SliceClassifierRun(loaded, ct, header_prior=True).run().predicted == "CT"
    unknown = Volume(mr.voxels, mr.affine, modality="OT")
    result = SliceClassifierRun(loaded, unknown, header_prior=True).run()
    assert result.prior == "" and result.predicted == "CT"
