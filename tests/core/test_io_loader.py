"""load_volume dispatch, 2-D images, is_supported, and errors for unusable input."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medsr_viewer.core.io import LoadError, is_supported, load_study, load_volume
from medsr_viewer.core.study_writer import save_study


def test_png_from_shared_data(data_dir: Path) -> None:
    """A real 8-bit grayscale PNG becomes a 1-slice volume with unit spacing."""
    path = data_dir / "isbi2012_em" / "images" / "00.png"
    volume = load_volume(path)
    expected = np.asarray(Image.open(path), dtype=np.float32)
    assert volume.shape == (1, 512, 512)
    np.testing.assert_array_equal(volume.voxels[0], expected)
    assert volume.spacing == (1.0, 1.0, 1.0) and volume.warnings == ()
    assert volume.modality == "OT" and volume.name == "00"


def test_rgb_png_keeps_colour_beside_its_luminance(tmp_path: Path) -> None:
    """Colour pixels: BT.601 luminance in the voxels, the colour kept (and written RGB24 by
    ``save_study``); gray stored as RGB stays exact, grayscale, with no warning."""
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    rgb[2, 3] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    volume = load_volume(tmp_path / "colour.png")
    assert volume.voxels[0, 0, 0] == pytest.approx(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    assert volume.rgb is not None
    np.testing.assert_array_equal(volume.rgb[0], rgb)
    assert any("shown in colour" in w for w in volume.warnings)
    study = load_study(tmp_path / "colour.png")
    assert study.group.rgb is not None and study.group.rgb.shape == (1, 1, 4, 5, 3)
    (written, *_) = save_study(study, tmp_path / "colour.nii.gz")
    samples = np.asarray(nib.load(str(written)).dataobj)
    assert tuple(samples[3, 2, 0]) == (1, 2, 3)  # (x=3, y=2, z=0)
    gray = np.repeat(np.arange(20, dtype=np.uint8).reshape(4, 5, 1), 3, axis=2)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    volume = load_volume(tmp_path / "gray.png")
    np.testing.assert_array_equal(volume.voxels[0], gray[..., 0])
    assert volume.warnings == () and volume.rgb is None


def test_16bit_and_multipage_tiff(tmp_path: Path) -> None:
    """16-bit values are kept; a multi-page TIFF becomes one slice per page."""
    pages = [Image.fromarray(np.full((6, 7), 1000 * (p + 1), np.uint16)) for p in range(3)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    volume = load_volume(tmp_path / "stack.tif")
    assert volume.shape == (3, 6, 7)
    assert [float(volume.voxels[p, 0, 0]) for p in range(3)] == [1000.0, 2000.0, 3000.0]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing.nii.gz", "not found"),
        (lambda p: _mkdir(p / "empty"), "empty folder"),
        (lambda p: _write(p / "notes.txt", b"hello"), "not a supported format"),
        (lambda p: _write(p / "zero.dcm", b""), "empty file"),
        (lambda p: _write(p / "broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50), "image"),
        (lambda p: _write(p / "noise.dcm", bytes(range(256)) * 4), "not a supported format"),
    ],
)
def test_unusable_input_gives_one_line_load_error(tmp_path: Path, make, reason: str) -> None:
    """Every failure is a LoadError naming the path and saying why, on one line."""
    path = make(tmp_path)
    with pytest.raises(LoadError) as info:
        load_volume(path)
    assert info.value.path == path
    assert reason in info.value.reason
    assert str(info.value) == f"{path}: {info.value.reason}" and "\n" not in str(info.value)


def test_folder_without_dicom(tmp_path: Path) -> None:
    """A folder of non-DICOM files says so and how many files it looked at."""
    for n in range(3):
        _write(tmp_path / f"readme{n}.txt", b"text")
    with pytest.raises(LoadError, match="no DICOM images found among 3 files"):
        load_volume(tmp_path)


def test_is_supported(tmp_path: Path, data_dir: Path) -> None:
    """Folders and known formats are accepted for drag and drop; other files are not."""
    assert is_supported(tmp_path)
    assert is_supported(data_dir / "mri_ct" / "chris_t1.nii.gz")
    assert is_supported(data_dir / "dicom" / "vs_seg_001_t1" / "1-001.dcm")
    no_suffix = _write(tmp_path / "IM0001", b"\0" * 128 + b"DICM" + b"\0" * 10)
    assert is_supported(no_suffix)
    assert not is_supported(_write(tmp_path / "notes.txt", b"hello"))
    assert not is_supported(tmp_path / "missing.nii")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _write(path: Path, payload: bytes) -> Path:
    path.write_bytes(payload)
    return path
