"""Half-precision weight storage: half the file, float32 compute, scores measured as stored."""

from __future__ import annotations

import pytest
import torch

from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import export_model, load_model, round_weights
from medsr_viewer.models.card import CardError, ModelCard, Normalisation
from medsr_viewer.models.training.export import export_with_card


def _card(dtype: str) -> ModelCard:
    return ModelCard(name="u", task="segment", out_channels=2, architecture="unet",
                     normalisation=Normalisation("percentile", 0.0, 99.9), weights_dtype=dtype)


def test_float16_storage_halves_the_file_and_computes_in_float32(tmp_path):
    torch.manual_seed(0)
    module = build_architecture("unet", classes=2, base=16, depth=2).eval()
    full = export_with_card(module, _card("float32"), tmp_path / "full.safetensors")
    x = torch.rand(1, 1, 40, 56)
    with torch.inference_mode():
        before = module(x)
    round_weights(module, "float16")
    half = export_with_card(module, _card("float16"), tmp_path / "half.safetensors")
    assert half.weights_dtype == "float16" and half.sha256 != full.sha256
    size_full = (tmp_path / "full.safetensors").stat().st_size
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * size_full
    loaded = load_model(tmp_path / "half.safetensors").module
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    with torch.inference_mode():
        after, got = module(x), loaded(x)
    assert torch.equal(after, got)  # the rounded module is exactly what the file computes
    assert 0 < float((before - after).abs().max()) < 1e-2  # rounding changed it, a little
    # The caller's module stays float32 after the export.
    assert {p.dtype for p in module.parameters()} == {torch.float32}


def test_card_refuses_unknown_weight_dtype_and_export_refuses_float16():
    with pytest.raises(CardError, match="weights_dtype"):
        _card("int8")
    module = build_architecture("unet", classes=2, base=4, depth=1)
    with pytest.raises(CardError, match="float32 weights only"):
        export_model(module, _card("float16"), "never-written.pt2")


def test_resumed_run_re_exports_in_float16(data_dir, tmp_path, cli):
    """A finished run's checkpoint can be exported again with compact weights."""
    em = data_dir / "isbi2012_em"
    out = tmp_path / "seg.safetensors"
    argv = ["train", "segment", "--images", str(em / "images"), "--labels", str(em / "labels"),
            "--val-count", "1", "--label-values", "255:0,0:1", "--class-names",
            "background,membrane", "--arch-kwargs", "base=8,depth=2", "--steps", "2",
            "--batch-size", "2", "--patch-size", "64", "--val-every", "2", "--threads", "1",
            "--out", str(out)]
    assert cli(argv) == 0
    first = load_model(out)
    again = argv + ["--resume", str(out.with_suffix(".ckpt")), "--weights-dtype", "float16"]
    assert cli(again) == 0
    second = load_model(out)
    assert second.card.weights_dtype == "float16" and second.card.training["sessions"] == 2
    for a, b in zip(first.module.state_dict().values(), second.module.state_dict().values()):
        if a.is_floating_point():
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
    dice = second.card.scores["validation"]["membrane"]["overall"]["dice"]
    assert abs(dice - first.card.scores["validation"]["membrane"]["overall"]["dice"]) < 0.01
