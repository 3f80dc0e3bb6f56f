"""Robust DICOM loading: one bad file never mirrors, moves or rescales a real series.

Every test breaks a copy of a few slices of the real 120-slice Siemens T1 series (or a real
pydicom-data file) in ``tmp_path`` and checks the geometry against the intact copy.
"""

from __future__ import annotations

import random
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut

from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.volume import Volume

data = pytest.importorskip("pydicom.data")

#: Pixel spacing of the real series (mm).
T1_PIXEL = 0.41015625


def copy_t1_slices(data_dir: Path, folder: Path, numbers: range) -> list[Path]:
    """Copy slices ``1-NNN.dcm`` of the real T1 series into ``folder``; paths in that order."""
    source = data_dir / "dicom" / "vs_seg_001_t1"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in numbers:
        name = f"1-{number:03d}.dcm"
        shutil.copy(source / name, folder / name)
        (folder / name).chmod(0o644)
        paths.append(folder / name)
    return paths


def edit(path: Path, **values: object) -> None:
    """Set (value) or delete (``None``) top-level attributes of a DICOM file in place."""
    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


def set_raw(path: Path, keyword: str, raw: bytes) -> None:
    """Overwrite the value bytes of ``keyword`` in an explicit VR little-endian file.

    Writes values pydicom refuses to write (garbled numbers); ``raw`` must have the length
    of the value it replaces.
    """
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert tag is not None
    data = bytearray(path.read_bytes())
    marker = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + pydicom.datadict.dictionary_VR(
        tag
    ).encode()
    at = data.index(marker)
    (length,) = struct.unpack("<H", data[at + 6 : at + 8])
    assert len(raw) == length, (raw, length)
    data[at + 8 : at + 8 + length] = raw
    path.write_bytes(bytes(data))


def sample(name: str) -> Path:
    """Path of a pydicom(-data) test file; skips when it is not installed locally."""
    path = data.get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available")
    return Path(path)


def assert_files_at_their_positions(volume: Volume, paths: list[Path]) -> None:
    """Each file's pixels sit, unmirrored, at the slice its ImagePositionPatient names."""
    for path in paths:
        ds = pydicom.dcmread(path)
        z, y, x = volume.world_to_index([float(v) for v in ds.ImagePositionPatient])
        k = round(float(z))
        assert abs(z - k) < 1e-3 and abs(y) < 1e-3 and abs(x) < 1e-3, path.name
        np.testing.assert_array_equal(volume.voxels[k], ds.pixel_array.astype(np.float32))


@pytest.fixture
def t1_reference(data_dir: Path, tmp_path: Path) -> Volume:
    """The intact slices 1..8 of the real series."""
    paths = copy_t1_slices(data_dir, tmp_path / "intact", range(1, 9))
    volume = load_volume(paths[0].parent)
    assert volume.shape == (8, 512, 512) and volume.warnings == ()
    return volume


def test_missing_position_with_backwards_instance_numbers_does_not_mirror(
    data_dir: Path, tmp_path: Path, t1_reference: Volume
) -> None:
    """InstanceNumbers run backwards and one file lacks ImagePositionPatient: not mirrored."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 9))
    for k, path in enumerate(paths):
        edit(path, InstanceNumber=len(paths) - k)
    edit(paths[3], ImagePositionPatient=None)

    volume = load_volume(tmp_path / "study")

    np.testing.assert_allclose(volume.affine, t1_reference.affine, atol=1e-6)
    assert volume.shape == t1_reference.shape
    good = [p for p in paths if p != paths[3]]
    assert_files_at_their_positions(volume, good)
    assert any(paths[3].name in w and "ImagePositionPatient" in w for w in volume.warnings)
    assert volume.metadata["blank_slices"] == [3]


def test_missing_position_in_first_file_does_not_move_series_to_origin(
    data_dir: Path, tmp_path: Path
) -> None:
    """The first file (by InstanceNumber) lacks its position: the rest keep their positions."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 7))
    edit(paths[0], ImagePositionPatient=None)

    volume = load_volume(tmp_path / "study")

    assert volume.shape == (5, 512, 512)
    assert_files_at_their_positions(volume, paths[1:])
    assert volume.spacing == pytest.approx((1.5, T1_PIXEL, T1_PIXEL))
    assert volume.origin != pytest.approx((0.0, 0.0, 0.0))
    assert any(paths[0].name in w for w in volume.warnings)


def test_one_file_without_pixel_spacing_does_not_rescale_series(
    data_dir: Path, tmp_path: Path, t1_reference: Volume
) -> None:
    """One file without PixelSpacing: the series keeps 0.41 mm pixels; the file is named."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 9))
    edit(paths[0], PixelSpacing=None)

    volume = load_volume(tmp_path / "study")

    assert volume.spacing == pytest.approx((1.5, T1_PIXEL, T1_PIXEL))
    assert any(paths[0].name in w and "PixelSpacing" in w for w in volume.warnings)
    assert_files_at_their_positions(volume, paths[1:])
    # Its slice is not shown at a guessed scale; the grid stays the reference's.
    np.testing.assert_allclose(volume.affine[:3, :3], t1_reference.affine[:3, :3], atol=1e-9)


def test_one_file_with_other_pixel_spacing_is_an_outlier(
    data_dir: Path, tmp_path: Path, t1_reference: Volume
) -> None:
    """A file claiming 1 mm pixels in a 0.41 mm series is excluded, not used for all."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 9))
    edit(paths[2], PixelSpacing=[1.0, 1.0])

    volume = load_volume(tmp_path / "study")

    np.testing.assert_allclose(volume.affine, t1_reference.affine, atol=1e-6)
    assert any(paths[2].name in w and "PixelSpacing" in w for w in volume.warnings)
    assert volume.metadata["blank_slices"] == [2]


def test_absurd_slice_thickness_is_not_a_spacing(data_dir: Path, tmp_path: Path) -> None:
    """SliceThickness 4294967295 on a lone slice: not used as the spacing; warned."""
    (path,) = copy_t1_slices(data_dir, tmp_path / "one", range(5, 6))
    edit(path, SliceThickness=4294967295)

    volume = load_volume(path)

    assert volume.spacing[0] == pytest.approx(1.0)
    assert volume.spacing[1:] == pytest.approx((T1_PIXEL, T1_PIXEL))
    assert any("SliceThickness" in w for w in volume.warnings)


def test_absurd_slice_thickness_without_positions_uses_the_consensus(
    data_dir: Path, tmp_path: Path
) -> None:
    """No positions anywhere, one absurd SliceThickness: the others' 1.5 mm is the spacing."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 5))
    for path in paths:
        edit(path, ImagePositionPatient=None)
    edit(paths[0], SliceThickness=4294967295)

    volume = load_volume(tmp_path / "study")

    assert volume.shape == (4, 512, 512)
    assert volume.spacing == pytest.approx((1.5, T1_PIXEL, T1_PIXEL))
    assert any("no slice positions" in w for w in volume.warnings)


def test_position_far_off_the_stack_is_an_outlier(
    data_dir: Path, tmp_path: Path, t1_reference: Volume
) -> None:
    """One file 10 m along the normal: excluded by name, no thousands of blank slices."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 9))
    ds = pydicom.dcmread(paths[7])
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    edit(paths[7], ImagePositionPatient=[x, y, z + 10000.0])

    volume = load_volume(tmp_path / "study")

    assert volume.shape == (7, 512, 512)
    np.testing.assert_allclose(volume.affine, t1_reference.affine, atol=1e-6)
    assert any(paths[7].name in w for w in volume.warnings)


def test_position_shifted_sideways_is_an_outlier(
    data_dir: Path, tmp_path: Path, t1_reference: Volume
) -> None:
    """One file displaced 50 mm within its plane: excluded, the others keep the grid."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 9))
    ds = pydicom.dcmread(paths[5])
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    edit(paths[5], ImagePositionPatient=[x + 50.0, y, z])

    volume = load_volume(tmp_path / "study")

    np.testing.assert_allclose(volume.affine, t1_reference.affine, atol=1e-6)
    assert any(paths[5].name in w for w in volume.warnings)
    assert volume.metadata["blank_slices"] == [5]


def test_bits_allocated_8_in_a_16_bit_series_is_excluded(
    data_dir: Path, tmp_path: Path, t1_reference: Volume
) -> None:
    """BitsAllocated=8 in one file: no garbage slice; the file is named in a warning."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 9))
    edit(paths[4], BitsAllocated=8, BitsStored=8, HighBit=7)

    volume = load_volume(tmp_path / "study")

    np.testing.assert_allclose(volume.affine, t1_reference.affine, atol=1e-6)
    assert any(paths[4].name in w for w in volume.warnings)
    assert volume.metadata["blank_slices"] == [4]
    assert_files_at_their_positions(volume, [p for p in paths if p != paths[4]])


def test_garbled_number_of_frames_keeps_every_frame(tmp_path: Path) -> None:
    """NumberOfFrames garbled or too small: every frame the pixel data holds is loaded."""
    reference = load_volume(sample("emri_small.dcm"))
    for raw in (b"x1", b"3 "):
        path = tmp_path / f"emri_{raw[0]}.dcm"
        shutil.copy(sample("emri_small.dcm"), path)
        set_raw(path, "NumberOfFrames", raw)
        volume = load_volume(path)
        assert volume.shape == reference.shape == (10, 64, 64)
        np.testing.assert_array_equal(volume.voxels, reference.voxels)
        np.testing.assert_allclose(volume.affine, reference.affine)
        assert any("NumberOfFrames" in w for w in volume.warnings)


def test_huge_number_of_frames_is_refused_quickly(tmp_path: Path) -> None:
    """NumberOfFrames=2147483647 in a small compressed file: a LoadError at once, no hang."""
    for name in ("emri_small_RLE.dcm", "emri_small.dcm"):
        path = tmp_path / name
        shutil.copy(sample(name), path)
        edit(path, NumberOfFrames=2147483647)
        start = time.monotonic()
        try:
            volume = load_volume(path)
        except LoadError as exc:
            assert exc.path == path
        else:
            assert volume.shape == (10, 64, 64)
            assert any("NumberOfFrames" in w for w in volume.warnings)
        assert time.monotonic() - start < 5.0


def test_corrupt_rle_frame_panic_becomes_a_load_error(tmp_path: Path) -> None:
    """A corrupt RLE frame makes the Rust decoder panic: a LoadError naming the file."""
    raw = bytearray(sample("MR_small_RLE.dcm").read_bytes())
    start = raw.find(b"\xe0\x7f\x10\x00") + 12
    rng = random.Random(0)
    for _ in range(3):
        raw[rng.randrange(start, len(raw))] = rng.randrange(256)
    path = tmp_path / "rle_corrupt.dcm"
    path.write_bytes(bytes(raw))
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert info.value.path == path and "decode" in info.value.reason


def test_corrupt_rle_frame_in_a_series_is_a_warning(data_dir: Path, tmp_path: Path) -> None:
    """The same panic inside a series: that slice is blank and named, the rest loads."""
    ds = pydicom.dcmread(sample("MR_small_RLE.dcm"))
    folder = tmp_path / "study"
    folder.mkdir()
    for k in range(4):
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.save_as(folder / f"{k}.dcm")
    raw = bytearray((folder / "2.dcm").read_bytes())
    start = raw.find(b"\xe0\x7f\x10\x00") + 12
    rng = random.Random(0)
    for _ in range(3):
        raw[rng.randrange(start, len(raw))] = rng.randrange(256)
    (folder / "2.dcm").write_bytes(bytes(raw))
    volume = load_volume(folder)
    assert volume.shape == (4, 64, 64)
    assert volume.metadata["blank_slices"] == [2]
    assert any("2.dcm" in w for w in volume.warnings)


def test_memory_limit_refuses_big_volumes(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MEDSR_MAX_VOLUME_BYTES below the volume's size: a LoadError that names the variable."""
    copy_t1_slices(data_dir, tmp_path / "study", range(1, 5))
    monkeypatch.setenv("MEDSR_MAX_VOLUME_BYTES", str(2 * 512 * 512 * 4))
    with pytest.raises(LoadError) as info:
        load_volume(tmp_path / "study")
    assert "MEDSR_MAX_VOLUME_BYTES" in info.value.reason and info.value.path == tmp_path / "study"
    monkeypatch.setenv("MEDSR_MAX_VOLUME_BYTES", "1G")
    assert load_volume(tmp_path / "study").shape == (4, 512, 512)


def test_huge_rows_and_columns_are_refused_before_allocation(
    data_dir: Path, tmp_path: Path
) -> None:
    """Rows/Columns 65535 in a lone 512x512 file: refused from the header, nothing allocated."""
    (path,) = copy_t1_slices(data_dir, tmp_path / "one", range(5, 6))
    edit(path, Rows=65535, Columns=65535)
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert info.value.path == path


def test_huge_slope_gives_finite_values_and_a_warning(data_dir: Path, tmp_path: Path) -> None:
    """RescaleSlope 1e39 would make every voxel infinite: finite values and a warning."""
    paths = copy_t1_slices(data_dir, tmp_path / "study", range(1, 4))
    edit(paths[1], RescaleSlope="1e39", RescaleIntercept=0)
    volume = load_volume(tmp_path / "study")
    assert np.isfinite(volume.voxels).all()
    assert any("RescaleSlope" in w or "infinite" in w for w in volume.warnings)
    low, high = volume.value_range()
    assert high > low
    np.testing.assert_array_equal(
        volume.voxels[0], pydicom.dcmread(paths[0]).pixel_array.astype(np.float32)
    )


def test_palette_colour_is_applied() -> None:
    """PALETTE COLOR: the palette's colours (as luminance), not the raw indices."""
    path = sample("OBXXXX1A.dcm")
    ds = pydicom.dcmread(path)
    rgb = apply_color_lut(ds.pixel_array, ds).astype(np.float32)
    expected = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    volume = load_volume(path)
    np.testing.assert_allclose(volume.voxels[0], expected, rtol=1e-5)
    assert any("PALETTE COLOR" in w for w in volume.warnings)


def test_modality_lut_sequence_is_applied() -> None:
    """A Modality LUT Sequence maps stored values (pydicom's apply_modality_lut)."""
    path = sample("mlut_18.dcm")
    ds = pydicom.dcmread(path)
    expected = apply_modality_lut(ds.pixel_array, ds).astype(np.float32)
    volume = load_volume(path)
    np.testing.assert_array_equal(volume.voxels[0], expected)


def test_deflated_transfer_syntax_loads() -> None:
    """Deflated Explicit VR Little Endian is read (not refused as truncated)."""
    path = sample("image_dfl.dcm")
    ds = pydicom.dcmread(path)
    volume = load_volume(path)
    np.testing.assert_array_equal(volume.voxels[0], ds.pixel_array.astype(np.float32))
