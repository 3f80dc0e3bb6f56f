"""`medsr train` end to end on real data with tiny settings: card, command, scores, resume."""

from __future__ import annotations

from medsr_viewer.models.archive import load_model
from medsr_viewer.models.training.loop import load_checkpoint


def test_train_sr_exports_scored_card_and_resumes(data_dir, tmp_path, cli, capsys):
    mri = data_dir / "mri_ct"
    out = tmp_path / "tiny-x2.safetensors"
    base = ["train", "sr", "--data", str(mri / "CT_pitch.nii.gz"), "--val",
            str(mri / "chris_PD.nii.gz"), "--scale", "2", "--arch-kwargs", "channels=4,blocks=1",
            "--steps", "6", "--batch-size", "2", "--patch-size", "32", "--val-every", "3",
            "--checkpoint-every", "3", "--out", str(out)]
    assert cli(base + ["--stop-at", "3"]) == 0
    assert load_checkpoint(out.with_suffix(".ckpt"))["step"] == 3
    assert cli(base + ["--resume", str(out.with_suffix(".ckpt"))]) == 0
    log = capsys.readouterr().out
    assert "resumed from" in log and "validation at step 6" in log and "loss" in log
    card = load_model(out).card
    assert card.task == "super_resolution" and card.scale == 2
    assert card.training["sessions"] == 2 and card.training["command"].count("medsr train sr") == 2
    assert card.training["validation_volumes"] == ["chris_PD"]
    scores = card.scores["validation"]["overall"]
    assert set(scores) == {"nearest", "bilinear", "bicubic", "lanczos", "model"}
    assert card.scores["cpu_latency_s_512_output"] > 0


def test_train_refuses_validation_in_training_data(data_dir, tmp_path, cli, capsys):
    pd = str(data_dir / "mri_ct" / "chris_PD.nii.gz")
    assert cli(["train", "sr", "--data", pd, "--val", pd, "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "also in the training data" in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()


def test_train_segment_tiny(data_dir, tmp_path, cli):
    em = data_dir / "isbi2012_em"
    out = tmp_path / "seg.safetensors"
    assert cli(["train", "segment", "--images", str(em / "images"), "--labels", str(em / "labels"),
                "--val-count", "1", "--label-values", "255:0,0:1",
                "--class-names", "background,membrane", "--arch-kwargs", "base=4,depth=2",
                "--elastic", "6", "--steps", "3", "--batch-size", "2", "--patch-size", "64", "--val-every", "3",
                "--out", str(out)]) == 0
    card = load_model(out).card
    assert card.task == "segment" and card.out_channels == 2
    assert [lab.name for lab in card.labels] == ["background", "membrane"]
    assert card.training["validation_images"] == ["23"]
    assert card.training["label_mapping"] == {"255": 0, "0": 1}
    assert "elastic deformation (max shift 6 px" in card.training["augmentation"]
    assert 0.0 <= card.scores["validation"]["membrane"]["overall"]["dice"] <= 1.0


def test_train_enhance_tiny(data_dir, tmp_path, cli):
    mri = data_dir / "mri_ct"
    out = tmp_path / "dn.safetensors"
    assert cli(["train", "enhance", "--data", str(mri / "CT_pitch.nii.gz"), "--val",
                str(mri / "chris_PD.nii.gz"), "--arch-kwargs", "channels=4,depth=3",
                "--steps", "3", "--batch-size", "2", "--patch-size", "32", "--val-every", "3",
                "--out", str(out)]) == 0
    card = load_model(out).card
    pd = card.scores["validation"]["chris_PD"]
    assert card.task == "enhance" and pd["noise"] == "rician"
    assert pd["gaussian"]["psnr"] > pd["noisy"]["psnr"]
