"""``medsr sr --through-plane`` and ``medsr eval sr --through-plane`` on real thick-slice data."""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from test_io_writer import write_dicom_series

from medsr_viewer.cli.main import main
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.slice_profile import through_plane_affine
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import read_nifti_provenance


@pytest.fixture(scope="module")
def thick_pd(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64 x 72 x 20 crop of the real 2.4 mm PD study (geometry kept by nibabel's slicer)."""
    image = nib.load(str(data_dir / "mri_ct" / "chris_PD.nii.gz"))
    crop = image.slicer[64:128, 90:162, 17:37]
    path = tmp_path_factory.mktemp("tp") / "pd_crop.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(crop.dataobj, np.float32), crop.affine), str(path))
    return path


def _edges(volume: Volume) -> np.ndarray:
    nz, ny, nx = volume.shape
    corners = np.array([[z, y, x] for z in (-0.5, nz - 0.5) for y in (-0.5, ny - 0.5)
                        for x in (-0.5, nx - 0.5)])
    return volume.index_to_world(corners)


def _overlays(source: Volume, result: Volume, factor: int) -> None:
    """The result lies over the source: same world box of voxel edges, and each source slice
    is close to the mean of the ``factor`` result slices it covers."""
    np.testing.assert_allclose(_edges(result), _edges(source), atol=1e-4)
    blocks = result.voxels.reshape((source.shape[0], factor) + source.shape[1:]).mean(axis=1)
    span = float(source.voxels.max() - source.voxels.min())
    assert float(np.median(np.abs(blocks - source.voxels))) < 0.02 * span


def test_factor_two_writes_a_volume_that_overlays_the_input(
        thick_pd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tp.nii.gz"
    before = thick_pd.read_bytes()
    assert main(["sr", str(thick_pd), str(out), "--through-plane", "--factor", "2",
                 "--adapt-minutes", "0"]) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and "20 -> 40 slices" in captured.err
    assert "wrote" in captured.out and thick_pd.read_bytes() == before
    source, result = load_volume(thick_pd), load_volume(out)
    assert result.shape == (40, 72, 64)
    np.testing.assert_allclose(result.affine, through_plane_affine(source.affine, 0, 20, 40),
                               atol=1e-5)
    _overlays(source, result, 2)
    prov = read_nifti_provenance(out)
    assert prov["model"] == "sr-through-plane" and len(prov["sha256"]) == 64
    assert prov["through_plane"]["factor"] == 2.0
    assert prov["through_plane"]["slice_profile"]["thickness_px"] == pytest.approx(2.0)
    assert prov["adaptation"]["steps"] == 0 and prov["adaptation"]["probe_l1_before"] is None
    assert result.modality == source.modality  # kept (NIfTI has none: OT)


def test_isotropic_non_integer_factor_and_adaptation_steps(
        thick_pd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "iso.nii.gz"
    assert main(["sr", str(thick_pd), str(out), "--through-plane", "--isotropic",
                 "--adapt-minutes", "5", "--adapt-steps", "4", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "adapted in 4 steps" in err
    source, result = load_volume(thick_pd), load_volume(out)
    n = int(20 * source.spacing[0] / min(source.spacing[1:]) + 0.5)  # 2.4 / 0.86 = 2.79
    assert result.shape == (n, 72, 64)
    assert result.spacing[0] == pytest.approx(20 * source.spacing[0] / n, rel=1e-4)
    np.testing.assert_allclose(_edges(result), _edges(source), atol=1e-4)
    prov = read_nifti_provenance(out)
    assert prov["adaptation"]["steps"] == 4
    assert prov["adaptation"]["probe_l1_after"] is not None


def test_bad_requests_get_clear_messages(thick_pd: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sr", str(thick_pd), str(tmp_path / "a.nii.gz"), "--through-plane",
                 "--factor", "4", "--adapt-minutes", "0"]) == 2
    assert "finer than the pixels" in capsys.readouterr().err
    assert main(["sr", str(thick_pd), str(tmp_path / "a.png"), "--through-plane"]) == 2
    assert "volume (.nii or .nii.gz)" in capsys.readouterr().err
    assert main(["sr", str(thick_pd), str(tmp_path / "b.nii.gz")]) == 2
    assert "--model" in capsys.readouterr().err


def test_a_result_above_the_memory_limit_is_refused_before_any_work(
        thick_pd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 x 72 x 64 float32 = 737 kB per array, 3 arrays: a 2 MB limit refuses it at once.
    monkeypatch.setenv("MEDSR_MAX_VOLUME_BYTES", "2M")
    out = tmp_path / "big.nii.gz"
    assert main(["sr", str(thick_pd), str(out), "--through-plane", "--factor", "2",
                 "--adapt-minutes", "5"]) == 2
    err = capsys.readouterr().err
    assert "40x72x64 result needs" in err and "MEDSR_MAX_VOLUME_BYTES" in err
    assert "adapting" not in err and not out.exists()


def test_oblique_dicom_series_with_a_slice_gap(thick_pd: Path, tmp_path: Path) -> None:
    # The crop as an oblique DICOM series (rotated 20 degrees about two axes) whose
    # SliceThickness is 0.8 x the spacing: the output overlays it and the profile has a gap.
    source = load_volume(thick_pd)
    a, b = np.radians(20.0), np.radians(12.0)
    rot_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rot_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    affine = source.affine.copy()
    affine[:3, :3] = rot_z @ rot_x @ np.diag(source.spacing[::-1])
    voxels = np.clip(np.rint(source.voxels), 0, None)
    oblique = source.with_voxels(voxels, affine=affine)
    folder = tmp_path / "oblique"
    write_dicom_series(oblique, folder)
    series = load_volume(folder)
    assert series.metadata["slice_thickness_mm"] == pytest.approx(0.8 * source.spacing[0],
                                                                  abs=1e-3)
    out = tmp_path / "oblique_tp.nii.gz"
    assert main(["sr", str(folder), str(out), "--through-plane", "--factor", "2",
                 "--adapt-minutes", "0", "--quiet"]) == 0
    result = load_volume(out)
    _overlays(series, result, 2)
    prov = read_nifti_provenance(out)
    assert prov["through_plane"]["slice_thickness_mm"] == pytest.approx(
        0.8 * source.spacing[0], abs=1e-3)
    assert prov["through_plane"]["slice_profile"]["thickness_px"] == pytest.approx(1.6, abs=1e-3)
