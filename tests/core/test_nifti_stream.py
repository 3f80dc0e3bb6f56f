"""Issue #18: a NIfTI file written plane by plane is the file ``save_nifti`` writes; a plane
outside the plan and provenance changed at the end rewrite it from what was written."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.nifti_stream import NiftiPlaneWriter, planned_volume
from medsr_viewer.core.quantise import plan_quantisation
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import read_nifti_provenance, save_nifti


def _volume() -> Volume:
    values = np.random.default_rng(5).uniform(-30, 1850, (5, 12, 9)).astype(np.float32)
    return Volume.from_spacing(values, (2.0, 0.4, 0.5), (1.0, 2.0, 3.0), modality="MR",
                               name="sr", window=(600.0, 1200.0))


def _stream(path: Path, volume: Volume, quantised: bool, extra: dict[str, object],
            final: dict[str, object] | None = None, planes: np.ndarray | None = None
            ) -> NiftiPlaneWriter:
    q = plan_quantisation("uint16", 0, 1826) if quantised else None
    writer = NiftiPlaneWriter(str(path), planned_volume(volume, np.float32), q, "sr-x2 v1",
                              extra)
    try:
        for index, plane in enumerate(volume.voxels if planes is None else planes):
            writer.put(index, plane)
        writer.finish(final)
    finally:
        writer.close()
    return writer


def _inflated(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("quantised", [False, True])
def test_streamed_file_is_the_file_save_nifti_writes(tmp_path: Path, suffix: str,
                                                     quantised: bool) -> None:
    volume = _volume()
    extra = {"model": "sr-x2", "sha256": "ab" * 32}
    streamed = tmp_path / f"streamed{suffix}"
    _stream(streamed, volume, quantised, extra)
    q = plan_quantisation("uint16", 0, 1826)
    whole = volume.with_voxels(q.encode(volume.voxels)) if quantised else volume
    saved = save_nifti(whole, tmp_path / f"saved{suffix}", "sr-x2 v1", extra,
                       scaling=(q.slope, q.inter) if quantised else None)
    assert _inflated(streamed) == _inflated(saved)
    back = load_volume(streamed)
    assert np.abs(back.voxels - volume.voxels).max() <= (0.5 if quantised else 0.0)
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-5)
    assert back.window == pytest.approx((600.0, 1200.0))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_a_plane_outside_the_plan_makes_the_file_float32(tmp_path: Path, suffix: str) -> None:
    volume = _volume()
    planes = volume.voxels.copy()
    planes[3] *= 40  # far beyond the uint16 range planned from 0..1826
    path = tmp_path / f"o{suffix}"
    writer = _stream(path, volume, True, {"step": 1}, {"step": 2}, planes)
    assert writer.promoted is not None and "float32" in writer.promoted
    assert nib.load(str(path)).get_data_dtype() == np.float32
    back = load_volume(path).voxels
    assert np.abs(back[:3] - planes[:3]).max() <= 0.5  # stored before: within half a step
    np.testing.assert_array_equal(back[3:], planes[3:])
    assert read_nifti_provenance(path) == {"step": 2}


def test_provenance_changed_during_the_run_is_written(tmp_path: Path) -> None:
    volume = _volume()
    path = tmp_path / "o.nii.gz"
    _stream(path, volume, True, {"device": "cuda"}, {"device": "cpu"})
    assert read_nifti_provenance(path) == {"device": "cpu"}
    assert np.abs(load_volume(path).voxels - volume.voxels).max() <= 0.5
    same = tmp_path / "same.nii.gz"
    _stream(same, volume, True, {"device": "cpu", "x": float("nan")},
            {"device": "cpu", "x": float("nan")})  # NaN == NaN here: no rewrite needed
    assert read_nifti_provenance(same) == {"device": "cpu", "x": None}


def test_planes_must_come_in_order_and_all(tmp_path: Path) -> None:
    volume = _volume()
    writer = NiftiPlaneWriter(str(tmp_path / "o.nii"), planned_volume(volume, np.float32),
                              None)
    try:
        with pytest.raises(ValueError, match="out of order"):
            writer.put(1, volume.voxels[1])
        with pytest.raises(ValueError, match="out of order or shape"):
            writer.put(0, volume.voxels[0][:, :4])
        writer.put(0, volume.voxels[0])
        with pytest.raises(ValueError, match="1 of 5 planes written"):
            writer.finish()
    finally:
        writer.close()
