"""Robust NIfTI loading: size checks before allocation, unusable affines, odd data types.

Every file is a real volume of the shared data (chris_PD) written with a broken or unusual
header, or a tiny hand-made header claiming far more data than the file holds.
"""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.cli.main import main
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.io.nifti import RAS_TO_LPS

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@pytest.fixture(scope="module")
def pd_image(data_dir: Path) -> nib.Nifti1Image:
    """A 40x48x20 int16 crop of the real chris_PD MRI with its real affine."""
    image = nib.load(data_dir / "mri_ct" / "chris_PD.nii.gz")
    data = np.asarray(image.dataobj)[60:100, 100:148, 10:30].astype(np.int16)
    return nib.Nifti1Image(data, image.affine)


def claim_header(shape: tuple[int, ...], dtype: type = np.int16) -> bytes:
    """A NIfTI-1 header (plus the 4-byte extension flag) claiming ``shape`` voxels."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header["vox_offset"] = 352
    return header.binaryblock + b"\0" * 4


def test_tiny_gzip_claiming_1024_cubed_is_refused_before_allocation(tmp_path: Path) -> None:
    """A 65-byte-ish .nii.gz claiming 1024^3 int16: a LoadError, nothing large allocated."""
    path = tmp_path / "claim.nii.gz"
    path.write_bytes(gzip.compress(claim_header((1024, 1024, 1024))))
    assert path.stat().st_size < 200
    tracemalloc.start()
    try:
        with pytest.raises(LoadError) as info:
            load_volume(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20
    assert info.value.path == path and "compress" in info.value.reason


def test_gzip_bomb_is_refused(tmp_path: Path) -> None:
    """Real zeros compressed 1000:1 behind a header claiming 8 GiB: refused from the sizes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunks = [packer.compress(claim_header((2048, 2048, 1024)))]
    zeros = bytes(1 << 20)
    chunks += [packer.compress(zeros) for _ in range(64)]
    chunks.append(packer.flush())
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(b"".join(chunks))
    start = time.monotonic()
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert time.monotonic() - start < 5
    assert info.value.path == path and "decompression bomb" in info.value.reason


def test_uncompressed_header_claiming_more_than_the_file_is_refused(tmp_path: Path) -> None:
    """An uncompressed .nii whose data is shorter than the header says: a LoadError."""
    path = tmp_path / "short.nii"
    path.write_bytes(claim_header((512, 512, 512)) + bytes(1000))
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert "truncated" in info.value.reason


def test_memory_limit_applies_to_nifti(
    tmp_path: Path, pd_image: nib.Nifti1Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MEDSR_MAX_VOLUME_BYTES smaller than the volume: refused, naming the variable."""
    path = tmp_path / "pd.nii.gz"
    nib.save(pd_image, path)
    monkeypatch.setenv("MEDSR_MAX_VOLUME_BYTES", "10000")
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert "MEDSR_MAX_VOLUME_BYTES" in info.value.reason


@pytest.mark.parametrize("kind", ["zero", "nan", "singular"])
def test_unusable_affine_falls_back_to_pixdim(
    tmp_path: Path, pd_image: nib.Nifti1Image, kind: str
) -> None:
    """Zero, NaN or singular sform: a finite diagonal affine from pixdim, with a warning."""
    sform = {
        "zero": np.zeros((4, 4)),
        "nan": np.full((4, 4), np.nan),
        "singular": np.array([[1.0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]),
    }[kind]
    image = nib.Nifti1Image(np.asarray(pd_image.dataobj), None)
    image.header.set_zooms((0.9, 0.8, 2.5))
    image.header.set_sform(sform, code=2)
    image.header.set_qform(None, code=0)
    path = tmp_path / f"{kind}.nii.gz"
    nib.save(image, path)

    volume = load_volume(path)

    assert np.isfinite(volume.affine).all()
    assert volume.spacing == pytest.approx((2.5, 0.8, 0.9))
    assert abs(np.linalg.det(volume.affine[:3, :3])) > 0
    assert any("affine is singular or not finite" in w for w in volume.warnings)
    np.testing.assert_array_equal(volume.voxels, np.asarray(pd_image.dataobj).transpose(2, 1, 0))


def test_zero_pixdim_and_no_affine_uses_1_mm(tmp_path: Path, pd_image: nib.Nifti1Image) -> None:
    """No qform/sform and zero pixdim: 1 mm voxels (never a singular affine)."""
    image = nib.Nifti1Image(np.asarray(pd_image.dataobj), None)
    image.header.set_sform(None, code=0)
    image.header.set_qform(None, code=0)
    image.header["pixdim"][1:4] = 0
    path = tmp_path / "nopixdim.nii"
    nib.save(image, path)
    volume = load_volume(path)
    assert volume.spacing == pytest.approx((1.0, 1.0, 1.0))
    assert abs(np.linalg.det(volume.affine[:3, :3])) == pytest.approx(1.0)


def test_complex_data_becomes_magnitude(tmp_path: Path, pd_image: nib.Nifti1Image) -> None:
    """complex64 voxels: their magnitude (not the real part), with a warning."""
    real = np.asarray(pd_image.dataobj).astype(np.float32)
    image = nib.Nifti1Image((real * (0.6 - 0.8j)).astype(np.complex64), pd_image.affine)
    path = tmp_path / "complex.nii.gz"
    nib.save(image, path)
    volume = load_volume(path)
    np.testing.assert_allclose(volume.voxels, np.abs(real).transpose(2, 1, 0), rtol=1e-5)
    assert any("magnitude" in w for w in volume.warnings)
    np.testing.assert_allclose(volume.affine, RAS_TO_LPS @ pd_image.affine, atol=1e-5)


@pytest.mark.parametrize("channels", ["RGB", "RGBA"])
def test_rgb_nifti_becomes_luminance(
    tmp_path: Path, pd_image: nib.Nifti1Image, channels: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """RGB24 / RGBA32 NIfTI: BT.601 luminance, the colour kept for display, a warning;
    ``medsr info`` describes it."""
    gray = (np.asarray(pd_image.dataobj) % 256).astype(np.uint8)
    dtype = np.dtype([(c, "u1") for c in channels])
    rgb = np.zeros(gray.shape, dtype=dtype)
    rgb["R"], rgb["G"], rgb["B"] = gray, gray // 2, 255 - gray
    if "A" in channels:
        rgb["A"] = 7
    path = tmp_path / f"{channels}.nii.gz"
    nib.save(nib.Nifti1Image(rgb, pd_image.affine), path)

    volume = load_volume(path)

    expected = np.stack([gray, gray // 2, 255 - gray], axis=-1).astype(np.float32) @ LUMA
    np.testing.assert_allclose(volume.voxels, expected.transpose(2, 1, 0), rtol=1e-5)
    assert any("shown in colour" in w for w in volume.warnings)
    assert volume.rgb is not None
    np.testing.assert_array_equal(
        volume.rgb, np.stack([gray, gray // 2, 255 - gray], axis=-1).transpose(2, 1, 0, 3))
    assert main(["info", "--json", str(path)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["shape"] == [20, 48, 40] and facts["source_dtype"] == f"{channels}{len(channels) * 8}"


def test_qform_sform_disagreement_is_warned(tmp_path: Path, pd_image: nib.Nifti1Image) -> None:
    """qform 10 mm away from the sform: the sform is used and the disagreement is reported."""
    image = nib.Nifti1Image(np.asarray(pd_image.dataobj), pd_image.affine)
    moved = pd_image.affine.copy()
    moved[:3, 3] += 10.0
    image.header.set_qform(moved, code=1)
    image.header.set_sform(pd_image.affine, code=2)
    path = tmp_path / "disagree.nii.gz"
    nib.save(image, path)
    volume = load_volume(path)
    np.testing.assert_allclose(volume.affine, RAS_TO_LPS @ pd_image.affine, atol=1e-4)
    assert any("qform and sform disagree" in w for w in volume.warnings)
    agreeing = tmp_path / "agree.nii.gz"
    nib.save(pd_image, agreeing)
    assert load_volume(agreeing).warnings == ()


def _strict_json(text: str) -> dict:
    """Parse JSON refusing NaN/Infinity (which are not JSON)."""
    def refuse(name: str) -> float:
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_info_json_is_valid_for_a_nan_affine(
    tmp_path: Path, pd_image: nib.Nifti1Image, capsys: pytest.CaptureFixture[str]
) -> None:
    """``medsr info --json`` on a NaN-affine file prints valid JSON (no NaN)."""
    image = nib.Nifti1Image(np.asarray(pd_image.dataobj), None)
    image.header.set_sform(np.full((4, 4), np.nan), code=2)
    path = tmp_path / "nan.nii.gz"
    nib.save(image, path)
    assert main(["info", "--json", str(path)]) == 0
    facts = _strict_json(capsys.readouterr().out)
    assert all(np.isfinite(facts["spacing"]))


def test_info_json_never_prints_nan() -> None:
    """Even a volume with a NaN window and affine is described as strict JSON."""
    from medsr_viewer.cli.info import describe, to_json
    from medsr_viewer.core.volume import Volume

    affine = np.eye(4)
    affine[0, 3] = np.nan
    volume = Volume(np.zeros((1, 2, 2), np.float32), affine, window=(np.nan, np.inf))
    facts = _strict_json(to_json(describe(volume, [])))
    assert facts["window"] == [None, None] and facts["origin"][0] is None


def test_info_value_range_with_huge_rescale_slope(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RescaleSlope 1e39 in a DICOM series: ``medsr info`` gives a real range, not 0 .. 0."""
    from test_io_robust_dicom import copy_t1_slices, edit

    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 4))
    for path in paths:
        edit(path, RescaleSlope="1e39", RescaleIntercept=0)
    assert main(["info", str(tmp_path / "study")]) == 0
    out = capsys.readouterr().out
    assert "value range:  0 .. 0" not in out
    assert "RescaleSlope" in out
