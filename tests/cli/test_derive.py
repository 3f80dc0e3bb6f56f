"""``medsr derive`` (issue #17): an SR output as a derived DICOM series of its source study."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medsr_viewer.cli.main import main
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import save_nifti

PROVENANCE = {"model": "sr-x2", "model_version": "0.1.0", "sha256": "cd" * 32,
              "task": "super_resolution", "scale": 2}


def test_sr_output_becomes_a_series_of_the_source_study(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Six adjacent slices of the real series, as a series of their own (quick to load).
    files = sorted((data_dir / "dicom" / "vs_seg_001_t1").iterdir(), key=lambda f: float(
        pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    for f in files[50:56]:
        shutil.copy(f, source_dir / f.name)
    source = load_volume(source_dir)
    crop = source.voxels[:2, 192:320, 192:320]  # a 128² box of two slices, upsampled ×2
    voxels = np.repeat(np.repeat(crop, 2, axis=1), 2, axis=2).astype(np.float32)
    affine = source.affine.copy()
    affine[:3, 3] = (source.affine @ [192, 192, 0, 1])[:3]
    affine[:3, :2] /= 2.0
    result = Volume(voxels, affine, modality="MR", name="sr")
    nifti = tmp_path / "sr.nii.gz"
    save_nifti(result, nifti, extra=PROVENANCE)
    assert main(["derive", str(nifti), "--source", str(source_dir), "--out",
                 str(tmp_path / "derived")]) == 0
    assert "wrote 2 files" in capsys.readouterr().out
    back = load_volume(tmp_path / "derived")
    np.testing.assert_allclose(back.affine, load_volume(nifti).affine, atol=1e-4)
    ds = pydicom.dcmread(min((tmp_path / "derived").iterdir()), stop_before_pixels=True)
    assert "super-resolution by MedSR Viewer" in ds.DerivationDescription
    assert "model sr-x2 v0.1.0" in ds.DerivationDescription and "cd" * 32 in \
        ds.DerivationDescription

    # A file without medsr provenance, or one elsewhere in space, is refused by name.
    plain = tmp_path / "plain.nii.gz"
    save_nifti(result, plain)
    assert main(["derive", str(plain), "--source", str(source_dir), "--out",
                 str(tmp_path / "d2")]) == 2
    assert "plain.nii.gz: not a medsr sr/enhance output" in capsys.readouterr().err
    far = Volume(voxels, affine + np.c_[np.zeros((4, 3)), [5000, 0, 0, 0]], modality="MR")
    save_nifti(far, tmp_path / "far.nii.gz", extra=PROVENANCE)
    assert main(["derive", str(tmp_path / "far.nii.gz"), "--source", str(source_dir),
                 "--out", str(tmp_path / "d3")]) == 2
    assert "does not overlap" in capsys.readouterr().err
    assert not (tmp_path / "d2").exists() and not (tmp_path / "d3").exists()
