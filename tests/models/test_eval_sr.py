"""The SR evaluation protocol and `medsr eval`, checked against independent computations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.transform import downscale_local_mean

from medsr_viewer.cli import main as cli_main
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.evaluation.sr import evaluate_sr_volume, interpolate_stack
from medsr_viewer.models.study_volumes import load_study
from medsr_viewer.models.training.export import export_with_card


@pytest.fixture(scope="module")
def pd_volume(data_dir):
    return load_study(data_dir / "mri_ct" / "chris_PD.nii.gz")


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_baseline_matches_independent_computation(pd_volume, scale):
    res = evaluate_sr_volume("pd", pd_volume.voxels, scale, baselines=("bicubic",), slice_step=6)
    hr_all = pd_volume.voxels.astype(np.float64)
    h, w = (hr_all.shape[1] // scale) * scale, (hr_all.shape[2] // scale) * scale
    hr_all = hr_all[:, :h, :w]
    rng = hr_all.max() - hr_all.min()
    b = 2 * scale
    p_ref, s_ref, used = [], [], []
    for z in range(0, hr_all.shape[0], 6):
        hr = hr_all[z]
        if hr.max() <= 0.05 * hr_all.max():
            continue
        used.append(z)
        lr = downscale_local_mean(hr, (scale, scale))
        up = F.interpolate(
            torch.from_numpy(lr)[None, None],
            scale_factor=scale,
            mode="bicubic",
            align_corners=False,
        )[0, 0].numpy()
        ref, test = hr[b:-b, b:-b], up[b:-b, b:-b]
        p_ref.append(peak_signal_noise_ratio(ref, test, data_range=rng))
        s_ref.append(
            structural_similarity(
                ref,
                test,
                data_range=rng,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
        )
    assert res.slices == used and len(used) >= 5
    score = res.methods["bicubic"]
    np.testing.assert_allclose(score.slice_psnr, p_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(score.slice_ssim, s_ref, rtol=0, atol=1e-6)
    assert score.psnr == pytest.approx(np.mean(p_ref), abs=1e-6)


def test_baselines_rank_as_expected(pd_volume):
    res = evaluate_sr_volume("pd", pd_volume.voxels, 2, slice_step=9)
    m = res.methods
    assert m["nearest"].psnr < m["bicubic"].psnr
    assert m["bilinear"].psnr < m["bicubic"].psnr
    lr = np.random.default_rng(0).random((2, 20, 24))
    for method in ("nearest", "bilinear", "bicubic", "lanczos"):
        assert interpolate_stack(lr, 3, method).shape == (2, 60, 72)
    with pytest.raises(ValueError):
        interpolate_stack(lr, 2, "spline")


def _tiny_sr(path, scale=2):
    torch.manual_seed(0)
    card = ModelCard(
        name="tiny",
        task="super_resolution",
        scale=scale,
        normalisation=Normalisation("percentile", 0.0, 99.9),
    )
    export_with_card(build_architecture("espcn", scale=scale, channels=8), card, path)


def test_cli_eval_sr_json_and_table(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("train", "evaluate"))
    model = tmp_path / "tiny.safetensors"
    _tiny_sr(model)
    pd = str(data_dir / "mri_ct" / "chris_PD.nii.gz")
    assert (
        cli_main.main(
            ["eval", "sr", "--model", str(model), "--data", pd, "--slice-step", "9", "--json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    vols = out["volumes"]
    assert set(vols) == {"chris_PD", "overall"}
    assert set(vols["chris_PD"]) == {"slices", "nearest", "bilinear", "bicubic", "lanczos", "model"}
    expected = evaluate_sr_volume(
        "pd", load_study(pd).voxels, 2, baselines=("bicubic",), slice_step=9
    )
    assert vols["overall"]["bicubic"]["psnr"] == pytest.approx(
        expected.methods["bicubic"].psnr, abs=1e-9
    )
    assert (
        cli_main.main(["eval", "sr", "--model", str(model), "--data", pd, "--slice-step", "9"]) == 0
    )
    table = capsys.readouterr().out
    assert "lanczos" in table and "overall" in table


def test_cli_eval_refuses_bad_inputs(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("train", "evaluate"))
    model = tmp_path / "tiny.safetensors"
    _tiny_sr(model)
    assert (
        cli_main.main(
            [
                "eval",
                "segment",
                "--model",
                str(model),
                "--images",
                str(tmp_path),
                "--labels",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "not 'segment'" in capsys.readouterr().err
    missing = tmp_path / "nothing.nii.gz"
    assert cli_main.main(["eval", "sr", "--model", str(model), "--data", str(missing)]) == 2
    assert "nothing.nii.gz" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    assert cli_main.main(["eval", "sr", "--model", str(junk), "--data", str(missing)]) == 2
    assert "junk.pt" in capsys.readouterr().err


def test_cli_eval_sr_writes_figure(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("train", "evaluate"))
    model = tmp_path / "tiny.safetensors"
    _tiny_sr(model)
    pd = str(data_dir / "mri_ct" / "chris_PD.nii.gz")
    fig = tmp_path / "fig.png"
    assert cli_main.main(["eval", "sr", "--model", str(model), "--data", pd, "--slice-step", "20",
                          "--figure", str(fig), "--figure-box", "27,64,48,64"]) == 0
    from PIL import Image

    with Image.open(fig) as img:
        assert img.size[0] == 4 * 64 * 2 + 3 * 4 and img.size[1] == 64 * 2 + 22
    assert cli_main.main(["eval", "sr", "--model", str(model), "--data", pd, "--slice-step", "20",
                          "--figure", str(fig), "--figure-box", "27,63,48,64"]) == 2
    assert "multiples of 2" in capsys.readouterr().err


def test_detail_evaluation_ranks_bicubic_below_the_truth_and_prints_with_cli(
        data_dir, tmp_path, capsys, monkeypatch):
    vol = load_study(data_dir / "mri_ct" / "chris_PD.nii.gz")
    res = evaluate_sr_volume("pd", vol.voxels, 2, baselines=("nearest", "bicubic"),
                             slice_step=9, detail=True)
    bicubic, nearest = res.methods["bicubic"], res.methods["nearest"]
    assert len(bicubic.slice_hf_ratio) == len(res.slices) == len(bicubic.slice_flagged)
    assert 0 < bicubic.hf_ratio < 1
    assert bicubic.flagged == 0.0
    # Nearest's block edges are pixel-scale structure, and they lie in the null space of D.
    assert nearest.hf_ratio > bicubic.hf_ratio
    assert nearest.flagged > 0
    plain = evaluate_sr_volume("pd", vol.voxels, 2, baselines=("bicubic",), slice_step=9)
    assert np.isnan(plain.methods["bicubic"].hf_ratio)

    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("train", "evaluate"))
    model = tmp_path / "tiny.safetensors"
    _tiny_sr(model)
    pd = str(data_dir / "mri_ct" / "chris_PD.nii.gz")
    args = ["eval", "sr", "--model", str(model), "--data", pd, "--slice-step", "9", "--detail"]
    assert cli_main.main(args + ["--json"]) == 0
    vols = json.loads(capsys.readouterr().out)["volumes"]
    assert vols["chris_PD"]["bicubic"]["hf_ratio"] == pytest.approx(bicubic.hf_ratio)
    assert vols["chris_PD"]["bicubic"]["flagged_share"] == 0.0
    assert cli_main.main(args) == 0
    assert "high-frequency ratio" in capsys.readouterr().out
