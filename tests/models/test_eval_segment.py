"""`medsr eval segment` and `medsr eval enhance` on real data, against direct computations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from medsr_viewer.cli import main as cli_main
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import load_model
from medsr_viewer.models.card import Label, ModelCard, Normalisation
from medsr_viewer.models.evaluation.denoise import evaluate_denoise_volume
from medsr_viewer.models.study_volumes import StudyError, load_image_pairs, load_study
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.segment_task import PairSampler, dice_ce_loss


@pytest.fixture()
def cli(monkeypatch):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("train", "evaluate"))
    return cli_main.main


def _tiny_unet(path):
    torch.manual_seed(0)
    card = ModelCard(
        name="tiny-seg",
        task="segment",
        out_channels=2,
        labels=(Label(0, "background"), Label(1, "membrane")),
        normalisation=Normalisation("percentile", 0.0, 99.9),
        training={"label_mapping": {"255": 0, "0": 1}},
    )
    return export_with_card(build_architecture("unet", classes=2, base=4, depth=2), card, path)


def test_eval_segment_matches_direct_dice(data_dir, tmp_path, capsys, cli):
    model = tmp_path / "seg.safetensors"
    _tiny_unet(model)
    em = data_dir / "isbi2012_em"
    assert (
        cli(
            [
                "eval",
                "segment",
                "--model",
                str(model),
                "--images",
                str(em / "images"),
                "--labels",
                str(em / "labels"),
                "--only",
                "23",
                "--json",
            ]
        )
        == 0
    )
    got = json.loads(capsys.readouterr().out)["membrane"]
    image = np.asarray(Image.open(em / "images" / "23.png"), dtype=np.float32)
    ref = np.asarray(Image.open(em / "labels" / "23.png")) < 128  # 0 = membrane
    lo, hi = np.percentile(image, [0.0, 99.9])
    x = torch.from_numpy((image - lo) / (hi - lo))[None, None].float()
    with torch.inference_mode():
        pred = load_model(model).module(x)[0].argmax(0).numpy() == 1
    dice = 2 * (pred & ref).sum() / (pred.sum() + ref.sum())
    assert got["23"]["dice"] == pytest.approx(dice, abs=1e-9)
    assert got["overall"]["dice"] == pytest.approx(dice, abs=1e-9)
    assert got["23"]["iou"] == pytest.approx((pred & ref).sum() / (pred | ref).sum(), abs=1e-9)


def test_pair_sampler_keeps_labels_aligned(data_dir):
    em = data_dir / "isbi2012_em"
    pairs = load_image_pairs(em / "images", em / "labels")[:2]
    classes = [(n, img, (lab < 128).astype(np.int64)) for n, img, lab in pairs]
    x, y = PairSampler(classes, 64, seed=0).batch(6)
    assert x.shape == (6, 1, 64, 64) and y.shape == (6, 64, 64)
    # membranes are dark in these EM images: mean intensity of class 1 below class 0
    assert all(
        x[i, 0][y[i] == 1].mean() < x[i, 0][y[i] == 0].mean()
        for i in range(6)
        if 0 < y[i].sum() < y[i].size
    )
    logits = torch.zeros(6, 2, 64, 64)
    assert float(dice_ce_loss(logits, torch.from_numpy(y))) > 0


def test_image_pairs_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a" / "0.png")
    with pytest.raises(StudyError, match="1 images but"):
        load_image_pairs(tmp_path / "a", tmp_path / "b")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "b" / "0.png")
    with pytest.raises(StudyError, match="differ in size"):
        load_image_pairs(tmp_path / "a", tmp_path / "b")


def test_eval_enhance_identity_model_scores_as_noisy(data_dir, tmp_path, capsys, cli):
    # a DnCNN whose last layer is zero returns its input: it must score exactly as "noisy"
    module = build_architecture("dncnn", channels=4, depth=3)
    torch.nn.init.zeros_(module.body[-1].weight)
    torch.nn.init.zeros_(module.body[-1].bias)
    card = ModelCard(
        name="identity", task="enhance", normalisation=Normalisation("percentile", 0.0, 99.9)
    )
    export_with_card(module, card, tmp_path / "id.safetensors")
    pd = data_dir / "mri_ct" / "chris_PD.nii.gz"
    assert (
        cli(
            [
                "eval",
                "enhance",
                "--model",
                str(tmp_path / "id.safetensors"),
                "--data",
                str(pd),
                "--slice-step",
                "9",
                "--json",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)["chris_PD"]
    assert res["noise"] == "rician"
    assert res["psnr"]["model"] == pytest.approx(res["psnr"]["noisy"], abs=1e-3)
    assert res["psnr"]["gaussian"] > res["psnr"]["noisy"]
    direct = evaluate_denoise_volume("pd", load_study(pd).voxels, "MR", 0.05, None, 9)
    assert res["psnr"]["noisy"] == pytest.approx(direct.psnr["noisy"], abs=1e-9)
    # noise at 5 % of range: PSNR of the noisy input is about 20 log10(1 / 0.05) = 26 dB
    assert 24.0 < direct.psnr["noisy"] < 28.0


def test_eval_takes_model_names_like_the_other_commands(data_dir, tmp_path, capsys, cli,
                                                        monkeypatch):
    """Issue #15, bug 6: ``medsr eval --model`` took only paths; ``medsr sr|enhance|segment``
    take a card name or file stem from the bundled / user models folders."""
    import shutil

    config = tmp_path / "config"
    (config / "models").mkdir(parents=True)
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(config))
    model = tmp_path / "tiny.safetensors"
    _tiny_unet(model)
    shutil.copy(model, config / "models" / "my-seg-file.safetensors")
    em = data_dir / "isbi2012_em"
    args = ["--images", str(em / "images"), "--labels", str(em / "labels"), "--only", "22",
            "--json"]
    results = []
    for spec in (str(model), "tiny-seg", "my-seg-file"):  # path, card name, file stem
        assert cli(["eval", "segment", "--model", spec, *args]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] == results[2]
    assert set(results[0]["membrane"]) == {"22", "overall"}
    assert cli(["eval", "segment", "--model", "no-such-model", *args]) == 2
    err = capsys.readouterr().err
    assert "no model named 'no-such-model'" in err and "seg-em-membrane" in err
    assert "tiny-seg" in err
