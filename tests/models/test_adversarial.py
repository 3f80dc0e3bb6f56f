"""The SRGAN-style perceptual stage: discriminator steps, generator gradients, the CLI run."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from medsr_viewer.models.archive import load_model
from medsr_viewer.models.training.adversarial import (
    PERCEPTUAL_NOTE,
    AdversarialLoss,
    PatchDiscriminator,
)
from medsr_viewer.models.training.loop import load_checkpoint


def test_discriminator_scores_patches():
    logits = PatchDiscriminator(channels=8, levels=3)(torch.rand(2, 1, 64, 48))
    assert logits.shape == (2, 1, 8, 6)


def test_loss_trains_the_discriminator_and_not_through_it():
    torch.manual_seed(0)
    loss_fn = AdversarialLoss(weight=0.5)
    disc = loss_fn.discriminator
    before = [p.detach().clone() for p in disc.parameters()]
    target = torch.rand(4, 1, 32, 32)
    pred = torch.rand(4, 1, 32, 32, requires_grad=True)
    loss = loss_fn(pred, target)
    changed = [not torch.equal(a, b.detach()) for a, b in zip(before, disc.parameters())]
    assert any(changed) and loss_fn.last_d_loss > 0
    assert all(p.requires_grad for p in disc.parameters())
    d_grads = [p.grad.clone() for p in disc.parameters() if p.grad is not None]
    loss.backward()
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0
    # The generator's backward pass adds nothing to the discriminator's gradients.
    after = [p.grad for p in disc.parameters() if p.grad is not None]
    assert len(after) == len(d_grads)
    for a, b in zip(d_grads, after):
        assert torch.equal(a, b)
    # The adversarial term is really in the loss: it differs from plain L1.
    l1 = torch.nn.functional.l1_loss(pred.detach(), target)
    assert abs(float(loss.detach()) - float(l1)) > 1e-4
    assert loss_fn.report().startswith("D loss ") and loss_fn.report() == ""


def test_adversarial_loss_state_round_trips():
    torch.manual_seed(0)
    a = AdversarialLoss(weight=0.1)
    a(torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32))
    b = AdversarialLoss(weight=0.1)
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.discriminator.state_dict().values(), b.discriminator.state_dict().values()):
        assert torch.equal(x, y)


def test_perceptual_fine_tune_from_an_exported_model(data_dir, tmp_path, cli, capsys):
    mri = data_dir / "mri_ct"
    common = ["train", "sr", "--data", str(mri / "CT_pitch.nii.gz"), "--val",
              str(mri / "chris_PD.nii.gz"), "--scale", "2", "--arch-kwargs", "channels=4,blocks=1",
              "--batch-size", "2", "--patch-size", "32", "--threads", "1"]
    base = tmp_path / "base.safetensors"
    assert cli(common + ["--steps", "4", "--val-every", "4", "--out", str(base)]) == 0
    gan = tmp_path / "gan.safetensors"
    assert cli(common + ["--steps", "4", "--val-every", "2", "--checkpoint-every", "2",
                         "--init-from", str(base), "--adversarial", "0.01",
                         "--out", str(gan)]) == 0
    out = capsys.readouterr().out
    assert f"starting from the weights of {base}" in out
    assert re.search(r"step 4/4 loss [0-9.]+ lr \S+ \(.*\) D loss [0-9.]+ adversarial [0-9.]+", out)
    card = load_model(gan).card
    assert card.description.startswith(PERCEPTUAL_NOTE)
    assert card.training["variant"] == "perceptual (adversarial)"
    assert card.training["loss"].startswith("L1 + 0.01 x adversarial")
    assert card.training["best_step"] == 4  # the last weights, not the best-PSNR ones
    assert "discriminator" in load_checkpoint(gan.with_suffix(".ckpt"))["extra"]["adversarial"]
    moved = [not torch.equal(a, b) for a, b in zip(load_model(base).module.state_dict().values(),
                                                   load_model(gan).module.state_dict().values())]
    assert any(moved)


def test_init_from_a_model_of_another_architecture_is_refused(data_dir, tmp_path, cli, capsys):
    mri = data_dir / "mri_ct"
    seg = Path(__file__).resolve().parents[2] / "resources" / "models" / "seg-em-membrane.safetensors"
    out = tmp_path / "m.safetensors"
    assert cli(["train", "sr", "--data", str(mri / "CT_pitch.nii.gz"), "--val",
                str(mri / "chris_PD.nii.gz"), "--steps", "1", "--init-from", str(seg),
                "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(seg) in err and "'unet'" in err
    assert not out.exists()
