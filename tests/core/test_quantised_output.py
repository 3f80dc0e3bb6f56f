"""Issue #18: outputs stored in the input's integer type, filled plane by plane, written from
a view (no copy of the volume), reopened within half a quantisation step."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.output_buffer import OutputBuffer
from medsr_viewer.core.quantise import (
    Quantisation,
    output_quantisation,
    plan_quantisation,
    source_integer_dtype,
    whole_numbers,
)
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import WriteError, save_nifti, save_volume


def _sr_like(low: float, high: float, shape: tuple[int, int, int] = (3, 40, 50)) -> np.ndarray:
    """Float values spread over ``low..high`` (an SR result with over- and undershoot)."""
    rng = np.random.default_rng(7)
    return rng.uniform(low, high, shape).astype(np.float32)


def test_plan_keeps_slope_one_when_the_widened_range_fits() -> None:
    # int16 MR 0..1826 widened by a quarter each side still fits: plain rounding.
    assert plan_quantisation("int16", 0, 1826) == Quantisation("int16", 1.0, 0.0)
    # uint16 cannot hold the undershoot below 0: slope 1 and an integer intercept.
    q = plan_quantisation("uint16", 0, 1826)
    assert q.slope == 1.0 and q.inter == -457.0 and q.fits(-450, 2280)
    # uint8 full range widened no longer fits 256 levels: a slope (float32-exact).
    q = plan_quantisation("uint8", 0, 255)
    assert q.slope > 1 and np.float32(q.slope) == q.slope and q.fits(-63, 318)
    # Values that are not whole numbers never get slope 1 (rounding would lose them).
    q = plan_quantisation("int16", 0.0, 2.5, whole=False)
    assert q.slope < 1e-3 and q.fits(-0.6, 3.1)
    # A constant volume, and nonsense ranges, still give a usable plan.
    assert plan_quantisation("uint8", 7, 7) == Quantisation("uint8")
    assert plan_quantisation("int16", np.nan, 1).fits(0, 0)
    with pytest.raises(ValueError, match="not an integer output type"):
        plan_quantisation("float32", 0, 1)


@pytest.mark.parametrize(("dtype", "low", "high", "whole"), [
    ("int16", -300, 2000, True), ("uint16", 0, 1826, True), ("uint8", 0, 255, True),
    ("int16", -1.0, 4.0, False), ("uint16", 0.0, 70000.0, True),
])
def test_stored_values_are_within_half_a_step(dtype: str, low: float, high: float,
                                              whole: bool) -> None:
    q = plan_quantisation(dtype, low, high, whole)
    span = high - low
    values = _sr_like(low - 0.2 * span, high + 0.2 * span)
    stored = q.encode(values)
    assert stored.dtype == np.dtype(dtype)
    assert np.abs(q.decode(stored) - values).max() <= q.step / 2 * (1 + 1e-5) + 1e-4 * span


def test_source_integer_type_comes_from_the_metadata() -> None:
    voxels = np.zeros((1, 2, 2), np.float32)
    for metadata, expected in [
        ({"source_dtype": "int16"}, "int16"), ({"source_dtype": "float32"}, None),
        ({"source_dtype": "RGB24"}, None), ({"source_mode": "L"}, "uint8"),
        ({"source_mode": "I;16"}, "uint16"), ({"source_mode": "F"}, None), ({}, None),
    ]:
        assert source_integer_dtype(Volume(voxels, np.eye(4), metadata=metadata)) == expected
    colour = Volume(voxels, np.eye(4), metadata={"source_dtype": "uint8"},
                    rgb=np.zeros((1, 2, 2, 3), np.uint8))
    assert source_integer_dtype(colour) is None
    assert whole_numbers(np.array([[[1.0, -3.0]]], np.float32))
    assert not whole_numbers(np.array([[[1.0, 0.5]]], np.float32))


def test_dicom_series_records_its_stored_type(data_dir: Path, tmp_path: Path) -> None:
    import shutil

    series = data_dir / "dicom" / "vs_seg_001_t1"
    for name in ("1-060.dcm", "1-061.dcm"):
        shutil.copy(series / name, tmp_path / name)
    volume = load_volume(tmp_path)
    assert volume.metadata["source_dtype"] == "uint16"  # 12 of 16 bits, unsigned
    q = output_quantisation(volume)
    assert q is not None and q.dtype == "uint16" and q.slope == 1.0 and q.inter < 0
    assert output_quantisation(volume, "float32") is None
    floats = volume.with_voxels(volume.voxels + 0.5, metadata={"source_dtype": "float32"})
    assert output_quantisation(floats) is None


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_buffer_quantises_each_plane_as_it_arrives(axis: int) -> None:
    values = _sr_like(-36, 1871, (4, 6, 8))
    q = plan_quantisation("int16", 0, 1826)
    buffer = OutputBuffer(values.shape, axis, q)  # type: ignore[arg-type]
    for index in range(values.shape[axis]):
        buffer.put(index, np.take(values, index, axis=axis))
    assert buffer.array.dtype == np.int16 and buffer.scaling == (1.0, 0.0)
    np.testing.assert_array_equal(buffer.array, np.rint(values).astype(np.int16))
    assert np.abs(buffer.plane(1) - np.take(values, 1, axis=axis)).max() <= 0.5
    filled = OutputBuffer.filled(values, axis, q)
    np.testing.assert_array_equal(filled.array, buffer.array)


def test_buffer_becomes_float32_rather_than_clip() -> None:
    q = plan_quantisation("uint8", 0, 100)  # room for -25..125
    buffer = OutputBuffer((3, 4, 4), 0, q)
    first = _sr_like(-10, 110, (1, 4, 4))[0]
    buffer.put(0, first)
    wild = np.full((4, 4), 400.0, np.float32)
    buffer.put(1, wild)
    assert buffer.array.dtype == np.float32 and buffer.scaling is None
    assert buffer.promoted is not None and "400" in buffer.promoted
    np.testing.assert_array_equal(buffer.array[1], wild)
    assert np.abs(buffer.array[0] - first).max() <= q.step / 2 + 1e-5


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_stored_integers_reopen_within_half_a_step(tmp_path: Path, suffix: str) -> None:
    values = _sr_like(-36, 1871)
    volume = Volume.from_spacing(values, (2.0, 0.5, 0.5), modality="MR", name="sr")
    for dtype, low, high in [("int16", 0, 1826), ("uint16", 0, 1826), ("uint8", 0, 1826)]:
        q = plan_quantisation(dtype, low, high)
        path = save_volume(volume.with_voxels(q.encode(values)), tmp_path / f"{dtype}{suffix}",
                           scaling=(q.slope, q.inter))
        image = nib.load(str(path))
        assert image.get_data_dtype() == np.dtype(dtype)
        back = load_volume(path)
        assert np.abs(back.voxels - values).max() <= q.step / 2 * (1 + 1e-5) + 1e-3
        np.testing.assert_allclose(back.affine, volume.affine, atol=1e-5)
    with pytest.raises(WriteError, match="scaling needs integer voxels"):
        save_nifti(volume, tmp_path / "bad.nii", scaling=(1.0, 0.0))
    with pytest.raises(WriteError, match="PNG holds no intensity scaling"):
        save_volume(volume, tmp_path / "bad.png", scaling=(1.0, 0.0))


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_nifti_is_written_without_a_copy_of_the_volume(tmp_path: Path, dtype: type) -> None:
    """``save_nifti`` used to write ``np.ascontiguousarray`` of the transposed volume (+ the
    volume's size in memory); nibabel writes the transposed view in chunks."""
    voxels = (_sr_like(0, 1000, (16, 256, 256))).astype(dtype)
    volume = Volume.from_spacing(voxels)
    tracemalloc.start()
    try:
        save_nifti(volume, tmp_path / "big.nii.gz",
                   scaling=(1.0, 0.0) if dtype is np.int16 else None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * voxels.nbytes
    np.testing.assert_array_equal(load_volume(tmp_path / "big.nii.gz").voxels, voxels)
