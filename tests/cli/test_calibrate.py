"""``medsr calibrate``: conformal intervals for an SR model, written into a copy of its card."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import pytest
import torch

from medsr_viewer.cli.main import main
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import load_model, read_card, save_model
from medsr_viewer.models.card import ModelCard, Normalisation


@pytest.fixture(scope="module")
def crops(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cal")
    t1 = nib.load(str(data_dir / "mri_ct" / "chris_t1.nii.gz"))
    pd = nib.load(str(data_dir / "mri_ct" / "chris_PD.nii.gz"))
    nib.save(t1.slicer[40:104, 80:144, 60:130], str(folder / "t1.nii.gz"))
    nib.save(pd.slicer[60:124, 90:154, 10:40], str(folder / "pd.nii.gz"))
    return folder / "t1.nii.gz", folder / "pd.nii.gz"


def test_calibrate_writes_a_calibrated_copy(crops, tmp_path, capsys) -> None:
    torch.manual_seed(0)
    model = tmp_path / "tiny.safetensors"
    card = ModelCard(name="tiny", task="super_resolution", scale=2,
                     normalisation=Normalisation("percentile", 0.0, 99.9))
    save_model(build_architecture("espcn", scale=2, channels=4), card, model)
    out = tmp_path / "tiny-calibrated.safetensors"
    t1, pd = (str(p) for p in crops)
    assert main(["calibrate", "--model", str(model), "--data", t1, "--test", pd,
                 "--slice-step", "2", "--out", str(out), "--json"]) == 0
    block = json.loads(capsys.readouterr().out)
    assert block["level"] == 0.9 and block["calibration_slices"] >= 20
    assert set(block["spreads_compared"]) == {"tta-std", "residual", "tta+residual", "tta+noise"}
    held = block["held_out"]["pd"]
    assert 0.0 < held["coverage"] <= 1.0 and held["mean_width"] > 0
    written = read_card(out)
    assert written.calibration["factor"] == block["factor"]
    assert written.interval_factor(0.9) == (block["spread"], block["factor"])
    assert written.interval_factor(0.8) is None
    assert read_card(model).calibration == {}  # the input is untouched
    assert load_model(out).sha256 != load_model(model).sha256  # a new file, same weights
    assert written.sha256 == read_card(model).sha256
    # Calibrating and testing on the same volume is refused.
    assert main(["calibrate", "--model", str(model), "--data", t1, "--test", t1]) == 2
    assert "both to calibrate and to test" in capsys.readouterr().err


def test_medsr_sr_writes_interval_consistency_and_added_detail(crops, tmp_path, zoo_models):
    t1 = crops[0]
    small = tmp_path / "small.nii.gz"
    nib.save(nib.load(str(t1)).slicer[:, :, 30:33], str(small))
    out, bounds = tmp_path / "sr.nii.gz", tmp_path / "bounds.nii.gz"
    cons, added = tmp_path / "cons.nii.gz", tmp_path / "added.nii.gz"
    assert main(["sr", str(small), str(out), "--model", "sr-x2", "--axis", "2", "--quiet",
                 "--interval", "0.9", "--interval-out", str(bounds), "--consistency-out",
                 str(cons), "--added-detail-out", str(added)]) == 0
    sr = nib.load(str(out))
    b = nib.load(str(bounds))
    assert b.shape == (*sr.shape, 2) and (b.affine == sr.affine).all()
    lower, upper = b.get_fdata()[..., 0], b.get_fdata()[..., 1]
    values = sr.get_fdata()  # the SR stored in the input's uint8: within half a step
    tol = float(sr.dataobj.slope) / 2 + 1e-3  # of the float SR the bounds enclose
    assert (lower <= values + tol).all() and (values <= upper + tol).all()
    assert (upper - lower).mean() > 0
    c = nib.load(str(cons))
    assert c.shape == nib.load(str(small)).shape and (c.affine == nib.load(str(small)).affine).all()
    a = nib.load(str(added))
    assert a.shape == sr.shape and abs(a.get_fdata()).max() > 0
    # Bicubic adds nothing the measurement could not confirm; an uncalibrated model has no
    # interval (one clear line, exit 2).
    assert main(["sr", str(small), str(tmp_path / "b.nii.gz"), "--model",
                 str(zoo_models["bicubic-x2"]), "--axis", "2", "--quiet",
                 "--added-detail-out", str(tmp_path / "b-added.nii.gz")]) == 0
    bic = nib.load(str(tmp_path / "b-added.nii.gz")).get_fdata()
    assert abs(bic).max() < 1e-2 * abs(a.get_fdata()).max()
    assert main(["sr", str(small), str(tmp_path / "c.nii.gz"), "--model",
                 str(zoo_models["bicubic-x2"]), "--interval", "0.9", "--interval-out",
                 str(tmp_path / "c-b.nii.gz")]) == 2


@pytest.fixture(scope="module")
def zoo_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from model_zoo import export_zoo

    return export_zoo(tmp_path_factory.mktemp("cal-zoo"))
