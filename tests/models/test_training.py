"""Training on real slices: the loss falls, checkpoints resume exactly, export round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import load_model
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.study_volumes import load_study
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import TrainConfig, load_checkpoint, train
from medsr_viewer.models.training.patches import PatchSampler, usable_axes
from medsr_viewer.models.training.sr_task import make_sr_batch


@pytest.fixture(scope="module")
def volume(data_dir):
    return load_study(data_dir / "mri_ct" / "chris_PD.nii.gz")


def _run(volume, steps, ckpt=None, resume=None, every=0, stop_at=None):
    torch.manual_seed(0)
    model = build_architecture("edsr-lite", scale=2, channels=8, blocks=1)
    sampler = PatchSampler([volume], 32, seed=3)
    fixed = make_sr_batch(PatchSampler([volume], 32, seed=99), 16, 2, torch.device("cpu"))

    def validate(m):
        return {"loss": float(F.l1_loss(m(fixed[0]), fixed[1]))}

    before = validate(model.eval())["loss"]
    config = TrainConfig(
        steps=steps,
        lr=3e-3,
        val_every=steps,
        checkpoint_every=every,
        checkpoint_path=ckpt,
        log_every=1000,
        stop_at=stop_at,
    )
    result = train(
        model,
        lambda: make_sr_batch(sampler, 4, 2, torch.device("cpu")),
        F.l1_loss,
        validate,
        "loss",
        config,
        resume=resume,
        log=lambda s: None,
        higher_is_better=False,
        extra_state=lambda: {"rng": sampler.rng.bit_generator.state},
        restore_extra=lambda s: setattr(sampler.rng.bit_generator, "state", s["rng"]),
    )
    return model, result, before


def test_patches_are_real_and_augmented(volume):
    assert usable_axes(volume.spacing) == [0]  # 0.86 x 0.86 in-plane, 2.4 mm slices
    sampler = PatchSampler([volume], 48, seed=0)
    batch = sampler.batch(8)
    assert batch.shape == (8, 1, 48, 48) and batch.dtype == np.float32
    assert batch.mean() > 0.05 and batch.std() > 0.01


def test_few_steps_lower_the_loss(volume):
    _model, result, before = _run(volume, 25)
    assert result.best_metrics["loss"] < 0.8 * before


def test_checkpoint_resume_continues_identically(volume, tmp_path):
    full, _res, _ = _run(volume, 12)
    ckpt = tmp_path / "run.ckpt"
    _run(volume, 12, ckpt=ckpt, every=4, stop_at=6)
    assert load_checkpoint(ckpt)["step"] == 6
    first_seconds = load_checkpoint(ckpt)["seconds"]
    resumed, res2, _ = _run(volume, 12, ckpt=tmp_path / "second.ckpt", resume=ckpt)
    # The run's training time adds up over its sessions.
    assert 0 < first_seconds < res2.seconds
    assert load_checkpoint(tmp_path / "second.ckpt")["seconds"] > first_seconds
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=k)


def test_bad_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.ckpt"):
        load_checkpoint(bad)


@pytest.mark.parametrize(
    "arch,kwargs,task,scale,out_ch",
    [
        ("edsr-lite", {"scale": 2, "channels": 8, "blocks": 1}, "super_resolution", 2, 1),
        ("edsr-lite", {"scale": 4, "channels": 8, "blocks": 1}, "super_resolution", 4, 1),
        ("espcn", {"scale": 2, "channels": 16}, "super_resolution", 2, 1),
        ("dncnn", {"channels": 8, "depth": 4}, "enhance", 1, 1),
        ("unet", {"classes": 2, "base": 4, "depth": 2}, "segment", 1, 2),
        ("unet", {"classes": 2, "base": 4, "depth": 4, "max_width": 8}, "segment", 1, 2),
    ],
)
def test_export_load_infer_round_trip(volume, tmp_path, arch, kwargs, task, scale, out_ch):
    torch.manual_seed(0)
    module = build_architecture(arch, **kwargs).eval()
    card = ModelCard(
        name="t",
        task=task,
        scale=scale,
        out_channels=out_ch,
        architecture=arch,
        normalisation=Normalisation("percentile", 0.0, 99.9),
    )
    written = export_with_card(module, card, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.card == written and len(written.sha256) == 64
    plane = volume.voxels[27, :101, :75]  # odd sizes on purpose
    x = torch.from_numpy((plane / plane.max()).astype(np.float32))[None, None]
    with torch.inference_mode():
        a, b, c = module(x), loaded.module(x), load_model(tmp_path / "m.safetensors").module(x)
    assert tuple(b.shape) == (1, out_ch, 101 * scale, 75 * scale)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert torch.equal(b, c)


def test_unet_max_width_caps_the_deep_levels():
    capped = build_architecture("unet", classes=2, base=4, depth=4, max_width=8)
    assert [block[0].out_channels for block in capped.down] == [4, 8, 8, 8, 8]
    full = build_architecture("unet", classes=2, base=4, depth=4)
    assert [block[0].out_channels for block in full.down] == [4, 8, 16, 32, 64]
