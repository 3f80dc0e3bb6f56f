"""Export of trained weights in the safe model format with its card, verified by a round trip."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from medsr_viewer.models.archive import load_model, save_model
from medsr_viewer.models.card import CardError, ModelCard


def export_with_card(
    module: torch.nn.Module,
    card: ModelCard,
    path: str | os.PathLike[str],
    probe_shape: tuple[int, int] = (48, 40),
) -> ModelCard:
    """Write ``module`` and ``card`` in the safe format; reload it and check it computes the same.

    The probe is a random ``(1, in_channels, *probe_shape)`` input; the reloaded archive must
    give exactly the eager module's output shape and values within 1e-5, and the output size
    must follow the card's scale and channel count.

    Raises
    ------
    CardError
        When the exported file does not reproduce the module or breaks the card's contract.
    """
    module = module.cpu().eval()
    written = save_model(module, card, path)
    loaded = load_model(path)
    probe = torch.rand(1, card.in_channels, *probe_shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = module(probe)
        got = loaded.module(probe)
    shape: tuple[int, ...] = (1, card.out_channels, probe_shape[0] * card.scale,
                              probe_shape[1] * card.scale)
    if card.task == "classify":
        shape = (1, card.out_channels)
    if tuple(got.shape) != shape:
        raise CardError(f"{path}: exported model gives {tuple(got.shape)}, card implies {shape}")
    if not torch.allclose(expected, got, atol=1e-5, rtol=0):
        raise CardError(f"{path}: exported model does not reproduce the trained module")
    if loaded.card != written:
        raise CardError(f"{path}: card read back differs from the card written")
    return written


def default_out_path(out: str | os.PathLike[str]) -> Path:
    """The output path with a ``.safetensors`` suffix added when it has none."""
    p = Path(out)
    return p if p.suffix else p.with_suffix(".safetensors")
