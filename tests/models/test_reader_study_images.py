"""The images of a blinded reader study (issue #14): every method on one grid, headless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.reader_study import Method
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.reader_images import ReaderImages, baseline_image
from medsr_viewer.models.registry import ModelRegistry, ModelRejected
from medsr_viewer.models.slice_engine import SliceEngine


@pytest.fixture(scope="module")
def display() -> DisplayVolume:
    """A smooth 6x20x24 volume (distinct along every axis) on an identity affine."""
    z, y, x = np.meshgrid(np.arange(6), np.arange(20), np.arange(24), indexing="ij")
    voxels = (50 + 30 * np.sin(x / 3.0) * np.cos(y / 4.0) + 5 * z).astype(np.float32)
    return DisplayVolume(Volume(voxels, np.diag([0.8, 0.9, 2.0, 1.0]), name="phantom"))


def _engine(tmp_path: Path) -> SliceEngine:
    return SliceEngine(ModelRegistry([("user", tmp_path / "none")]), device="cpu",
                       notifier=Notifier())


def test_baselines_are_bicubic_and_repeated_pixels(display: DisplayVolume) -> None:
    plane = display.slice_array(Orientation.AXIAL, 2)
    bicubic = baseline_image(display, Orientation.AXIAL, 2, 2, "bicubic")
    np.testing.assert_array_equal(bicubic, upsample(plane, 2, "bicubic"))
    original = baseline_image(display, "axial", 2, 2, "original")
    np.testing.assert_array_equal(original[::2, ::2], plane)
    np.testing.assert_array_equal(original[1::2, 1::2], plane)


def test_models_and_baselines_share_one_grid(display: DisplayVolume, zoo: dict[str, Path],
                                             tmp_path: Path) -> None:
    images = ReaderImages(display, Orientation.CORONAL, engine=_engine(tmp_path))
    methods, scale = images.methods([str(zoo["bicubic-x2"]), "bicubic", "original"])
    assert scale == 2
    model, bicubic, original = methods
    assert model.name == "bicubic-x2" and len(model.identity) == 64 and not model.is_baseline
    assert bicubic == Method.baseline("bicubic") and original.identity == "original"
    rows, cols = display.slice_shape(Orientation.CORONAL)
    index = 7
    made = images.image(model, index, scale)
    expected = images.image(bicubic, index, scale)
    assert made.shape == expected.shape == (2 * rows, 2 * cols)
    # the bicubic model equals the bicubic baseline: same grid, same orientation (the
    # coronal plane is drawn upside down, the model's result too), same units
    np.testing.assert_allclose(made, expected, atol=1e-3 * float(np.ptp(expected)))


def test_refused_methods(display: DisplayVolume, zoo: dict[str, Path], tmp_path: Path) -> None:
    images = ReaderImages(display, Orientation.AXIAL, engine=_engine(tmp_path))
    with pytest.raises(ModelRejected, match="different scales"):
        images.methods([str(zoo["bicubic-x2"]), str(zoo["bicubic-x4"])])
    with pytest.raises(ModelRejected, match="segment"):
        images.method(str(zoo["threshold-seg"]))
    assert images.methods(["bicubic", "original"])[1] == 2  # baselines only: x2
    stale = Method("bicubic-x2", "0" * 64, str(zoo["bicubic-x2"]))
    with pytest.raises(ModelRejected, match="changed"):
        images.image(stale, 0, 2)
