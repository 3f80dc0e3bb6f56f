"""Single DICOM files from pydicom-data: compressed syntaxes, multi-frame, MONOCHROME1, broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medsr_viewer.core.io import LoadError, load_volume

data = pytest.importorskip("pydicom.data")


def sample(name: str) -> Path:
    """Path of a pydicom(-data) test file; skips when it is not installed locally."""
    try:
        path = data.get_testdata_file(name)
    except (OSError, ValueError, RuntimeError) as exc:  # pragma: no cover - local data store
        pytest.skip(f"{name} not available: {exc}")
    if path is None:
        pytest.skip(f"{name} not available")
    return Path(path)


@pytest.mark.parametrize(
    ("reference", "variant", "tolerance"),
    [
        ("MR_small.dcm", "MR_small_RLE.dcm", 0),
        ("MR_small.dcm", "MR_small_jp2klossless.dcm", 0),
        ("MR_small.dcm", "MR_small_jpeg_ls_lossless.dcm", 0),
        ("MR_small.dcm", "MR_small_bigendian.dcm", 0),
        ("MR_small.dcm", "MR_small_implicit.dcm", 0),
        ("emri_small.dcm", "emri_small_RLE.dcm", 0),
        ("emri_small.dcm", "emri_small_jpeg_2k_lossless.dcm", 0),
        ("emri_small.dcm", "emri_small_jpeg_ls_lossless.dcm", 0),
        ("emri_small.dcm", "emri_small_big_endian.dcm", 0),
        ("693_UNCR.dcm", "693_J2KR.dcm", 0),  # clinical CT, JPEG 2000 lossless
        ("693_UNCI.dcm", "693_J2KI.dcm", 0.01),  # JPEG 2000 lossy: RMS error / range
        ("US1_UNCR.dcm", "US1_J2KR.dcm", 0),  # colour ultrasound, JPEG 2000 lossless (RCT)
        ("SC_rgb.dcm", "SC_rgb_rle.dcm", 0),
        ("SC_rgb.dcm", "SC_rgb_jpeg_gdcm.dcm", 0),  # JPEG lossless colour
        ("SC_rgb.dcm", "SC_rgb_jpeg_dcmtk.dcm", 0.02),  # JPEG baseline (lossy) colour
    ],
)
def test_compressed_matches_uncompressed_twin(reference: str, variant: str, tolerance: float) -> None:
    """Every transfer syntax decodes to the pixels of the uncompressed original."""
    ref = load_volume(sample(reference))
    other = load_volume(sample(variant))
    assert other.shape == ref.shape
    np.testing.assert_allclose(other.affine, ref.affine)
    if tolerance == 0:
        np.testing.assert_array_equal(other.voxels, ref.voxels)
    else:
        rms = np.sqrt(np.mean((other.voxels - ref.voxels) ** 2))
        assert rms <= tolerance * (ref.voxels.max() - ref.voxels.min())
    assert other.metadata["transfer_syntax"] == str(
        pydicom.dcmread(sample(variant), stop_before_pixels=True).file_meta.TransferSyntaxUID
    )


def test_single_slice_mr_geometry_and_values() -> None:
    """A 2-D MR file: 1-slice volume, rescaled float32, position/orientation/spacing kept."""
    path = sample("MR_small.dcm")
    ds = pydicom.dcmread(path)
    volume = load_volume(path)
    assert volume.shape == (1, 64, 64) and volume.voxels.dtype == np.float32
    expected = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    np.testing.assert_array_equal(volume.voxels[0], expected.astype(np.float32))
    assert volume.origin == pytest.approx([float(v) for v in ds.ImagePositionPatient])
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    assert volume.spacing[1:] == pytest.approx((row_spacing, col_spacing))
    assert volume.modality == "MR"
    assert volume.window == (float(ds.WindowCenter), float(ds.WindowWidth))


def test_ct_rescale_to_hounsfield() -> None:
    """CT stored values become HU through RescaleSlope/Intercept."""
    path = sample("CT_small.dcm")
    ds = pydicom.dcmread(path)
    volume = load_volume(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(volume.voxels[0], expected)
    assert volume.units == "HU"
    assert volume.metadata["rescale"]["intercept"] == float(ds.RescaleIntercept)


def test_enhanced_multiframe_positions_from_functional_groups() -> None:
    """Enhanced CT: per-frame positions, shared orientation, spacing and rescale are used."""
    path = sample("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    volume = load_volume(path)
    assert volume.shape == (2, 512, 512)
    shared = ds.SharedFunctionalGroupsSequence[0]
    spacing = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
    positions = [
        [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
        for frame in ds.PerFrameFunctionalGroupsSequence
    ]
    assert volume.spacing == pytest.approx((abs(positions[1][2] - positions[0][2]), *spacing))
    for k in range(2):
        world = volume.index_to_world((k, 0, 0))
        assert any(np.allclose(world, p) for p in positions)
    transform = shared.PixelValueTransformationSequence[0]
    raw = ds.pixel_array.astype(np.float32)
    expected = raw * float(transform.RescaleSlope) + float(transform.RescaleIntercept)
    order = np.argsort([np.dot(p, np.cross([-1, 0, 0], [0, 1, 0])) for p in positions])
    np.testing.assert_array_equal(volume.voxels, expected[order])
    assert volume.modality == "CT" and volume.window == (49.0, 102.0)


def test_multiframe_without_positions_keeps_frame_order() -> None:
    """Enhanced MR without plane positions: frames in file order, spacing from the header."""
    volume = load_volume(sample("emri_small.dcm"))
    assert volume.shape == (10, 64, 64)
    assert volume.spacing[0] == pytest.approx(1.2)  # SpacingBetweenSlices
    raw = pydicom.dcmread(sample("emri_small.dcm")).pixel_array
    np.testing.assert_array_equal(volume.voxels, raw.astype(np.float32))
    assert any("no slice positions" in w for w in volume.warnings)


def test_monochrome1_is_inverted() -> None:
    """MONOCHROME1 CR: values inverted over the stored range so that bright means dense."""
    path = sample("RG1_UNCI.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    volume = load_volume(path)
    top = 2 ** int(ds.BitsStored) - 1
    np.testing.assert_array_equal(volume.voxels[0], top - ds.pixel_array.astype(np.float32))
    assert volume.window == (top - float(ds.WindowCenter), float(ds.WindowWidth))
    assert volume.metadata["monochrome1_inverted"] is True
    assert volume.modality == "CR"


def test_colour_dicom_keeps_its_colour_beside_the_luminance() -> None:
    """RGB secondary capture: the luminance in the voxels, the colour kept, and a warning."""
    volume = load_volume(sample("SC_rgb.dcm"))
    pixels = pydicom.dcmread(sample("SC_rgb.dcm")).pixel_array
    expected = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    np.testing.assert_allclose(volume.voxels[0], expected, rtol=1e-6)
    assert volume.rgb is not None and volume.rgb.dtype == np.uint8
    np.testing.assert_array_equal(volume.rgb[0], pixels)
    assert any("shown in colour" in w and "luminance" in w for w in volume.warnings)


def test_16_bit_colour_dicom_is_shown_as_its_top_8_bits() -> None:
    """16-bit RGB samples: the display colour is their top byte (65535 -> 255)."""
    volume = load_volume(sample("SC_rgb_16bit.dcm"))
    pixels = pydicom.dcmread(sample("SC_rgb_16bit.dcm")).pixel_array
    assert pixels.dtype == np.uint16 and pixels.max() == 65535
    assert volume.rgb is not None
    np.testing.assert_array_equal(volume.rgb[0], (pixels >> 8).astype(np.uint8))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MR_truncated.dcm", "truncated"),
        ("no_meta_group_length.dcm", "not an image"),
        ("emri_small_jpeg_2k_lossless_too_short.dcm", "corrupt or truncated"),
        ("rtplan.dcm", "not an image"),
        ("test-SR.dcm", "not an image"),
    ],
)
def test_broken_or_non_image_file_alone_is_a_load_error(name: str, reason: str) -> None:
    """A lone unusable file: LoadError naming the file and the reason, never a crash."""
    path = sample(name)
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert info.value.path == path
    assert reason in info.value.reason
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_broken_files_beside_a_good_one_become_warnings(tmp_path: Path) -> None:
    """In a folder, broken/non-image files are skipped with warnings; the image still loads."""
    for name in ("MR_small.dcm", "MR_truncated.dcm", "no_meta_group_length.dcm", "rtplan.dcm",
                 "emri_small_jpeg_2k_lossless_too_short.dcm"):
        shutil.copy(sample(name), tmp_path / name)
    truncated = tmp_path / "MR_small_cut.dcm"
    truncated.write_bytes((tmp_path / "MR_small.dcm").read_bytes()[:3000])
    volume = load_volume(tmp_path)
    assert volume.shape == (1, 64, 64)
    text = "\n".join(volume.warnings)
    for name in ("no_meta_group_length.dcm", "rtplan.dcm",
                 "emri_small_jpeg_2k_lossless_too_short.dcm"):
        assert f"{name}: skipped" in text
    # MR_truncated and the cut copy share MR_small's series but not its pixels: named too.
    assert "MR_truncated.dcm" in text and "MR_small_cut.dcm" in text
