"""Issue #18: ``medsr sr`` along axis 0 streams its slices into the NIfTI file: the output
volume is never held, a failing or cancelled run leaves nothing behind."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

from model_zoo import BicubicUp, sr_card, trust_folder_for_tests

from medsr_viewer.cli.main import main
from medsr_viewer.cli.progress import ProgressBar
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.writers import read_nifti_provenance
from medsr_viewer.models.archive import save_torchscript


class NanOnBright(nn.Module):
    """Bicubic x2, NaN on a tile holding the volume's brightest voxel (above 0.99)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
        if bool(x.max() > 0.99):
            y = y * float("nan")
        return y


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stream-zoo")
    trust_folder_for_tests(folder)
    paths = {"nan": folder / "nan-bright.pt", "x4": folder / "bicubic-x4.pt"}
    save_torchscript(NanOnBright(), sr_card("nan-bright", 2, tile_size=64, tile_overlap=8),
                     paths["nan"])
    save_torchscript(BicubicUp(4), sr_card("bicubic-x4", 4, tile_size=64, tile_overlap=8),
                     paths["x4"])
    return paths


def _study(folder: Path, slices: int = 6, side: int = 64, bright: int | None = None) -> Path:
    """An int16 NIfTI with thick slices along z (so the run goes along axis 0)."""
    rng = np.random.default_rng(1)
    values = rng.integers(100, 900, (side, side, slices)).astype(np.int16)
    if bright is not None:
        values[side // 2, side // 2, bright] = 2000
    path = folder / "study.nii.gz"
    nib.save(nib.Nifti1Image(values, np.diag([0.5, 0.5, 3.0, 1.0])), str(path))
    return path


def test_a_model_failing_mid_run_leaves_no_file(models: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = _study(tmp_path, bright=3)  # slices 0-2 are written before slice 3 fails
    out = tmp_path / "out" / "sr.nii.gz"
    out.parent.mkdir()
    assert main(["sr", str(source), str(out), "--model", str(models["nan"]), "--quiet"]) == 2
    assert "NaN" in capsys.readouterr().err or not out.exists()
    assert list(out.parent.iterdir()) == []  # no output, no temporary file


def test_a_cancelled_run_leaves_no_file(models: dict[str, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source = _study(tmp_path)
    out = tmp_path / "out" / "sr.nii.gz"
    out.parent.mkdir()
    original = ProgressBar.update

    def update(self: ProgressBar, fraction: float, text: str = "") -> None:
        if "slice 3/" in text:
            raise KeyboardInterrupt  # Ctrl+C during the third slice
        original(self, fraction, text)

    monkeypatch.setattr(ProgressBar, "update", update)
    assert main(["sr", str(source), str(out), "--model", str(models["x4"])]) == 130
    assert list(out.parent.iterdir()) == []


def test_streamed_output_is_never_held_in_memory(models: dict[str, Path],
                                                 tmp_path: Path) -> None:
    """The x4 output (40 slices of 512 x 512 int16, 21 MB) is written as it is made: the
    run's NumPy peak (input, a slice's tiles and temporaries) stays well below the output's
    size (torch's memory is not traced)."""
    (tmp_path / "warm").mkdir()
    warm = _study(tmp_path / "warm", slices=2, side=128)
    model = ["--model", str(models["x4"]), "--quiet"]
    assert main(["sr", str(warm), str(tmp_path / "warm.nii.gz"), *model]) == 0  # first imports
    source = _study(tmp_path, slices=40, side=128)
    out = tmp_path / "sr.nii.gz"
    argv = ["sr", str(source), str(out), *model]
    tracemalloc.start()
    try:
        assert main(argv) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    stored = nib.load(str(out))
    assert stored.shape == (512, 512, 40) and stored.get_data_dtype() == np.int16
    output_bytes = 40 * 512 * 512 * 2
    assert peak < 0.6 * output_bytes, f"peak {peak / 1e6:.1f} MB"
    src = load_volume(source)
    assert np.abs(load_volume(out).voxels[:, 2::4, 2::4].mean() - src.voxels.mean()) < 5
    assert read_nifti_provenance(out)["stored_as"]["dtype"] == "int16"
