"""Small, exactly-known models the tests export as TorchScript (``save_torchscript``).

Most are not registry architectures (bicubic, models that fail on purpose), so they are
TorchScript files, which run code when loaded: :func:`export_zoo` writes them into a folder
it adds to ``$MEDSR_TRUSTED_MODEL_DIRS`` (see :mod:`medsr_viewer.models.trust`). Tests of the
untrusted path copy a file elsewhere.

Shared by tests/models, tests/cli and tests/gui (import as ``tests.models.model_zoo`` or via
the fixtures in tests/models/conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from medsr_viewer.models.archive import save_torchscript
from medsr_viewer.models.card import Label, ModelCard, Normalisation
from medsr_viewer.models.trust import TRUSTED_DIRS_ENV


class BicubicUp(nn.Module):
    """Exactly bicubic up-sampling by an integer factor (align_corners=False)."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)


class SmallConvSR(nn.Module):
    """Convolutions (receptive field 7 px) then bicubic x2: a stand-in for a learnt SR model."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.scale = scale
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + 0.1 * self.c3(torch.tanh(self.c2(torch.tanh(self.c1(x)))))
        return F.interpolate(y, scale_factor=float(self.scale), mode="bicubic", align_corners=False)


class SmoothDenoise(nn.Module):
    """A 3x3 box blur (an "enhance" model with a known output)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="replicate", bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0 / 9.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ThresholdSeg(nn.Module):
    """Two-class segmentation: logits (background, foreground) from a 0.5 threshold."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fg = (x - 0.5) * 10.0
        return torch.cat([-fg, fg], dim=1)


class Raises(nn.Module):
    """A model that fails on every call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] >= 0:
            raise RuntimeError("deliberate failure inside the model")
        return x


class WrongShape(nn.Module):
    """Claims x2 in its card but returns the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0


class NanAbove16(nn.Module):
    """Bicubic x2, but NaN everywhere on tiles larger than 16 px (passes a 16x16 dry run)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
        if x.shape[2] > 16:
            y = y * float("nan")
        return y


class OomAbove(nn.Module):
    """Bicubic x2 that raises CUDA out-of-memory for tiles larger than ``limit`` pixels."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.calls: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((int(x.shape[2]), int(x.shape[3])))
        if max(x.shape[2], x.shape[3]) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)


def sr_card(name: str = "bicubic-x2", scale: int = 2, **kw: object) -> ModelCard:
    """Card for an SR test model (percentile 0-100 normalisation: min/max)."""
    fields: dict[str, object] = {
        "tile_size": 64,
        "tile_overlap": 16,
        "normalisation": Normalisation("percentile", 0.0, 100.0),
        "description": "test model",
    }
    fields.update(kw)
    task = "super_resolution"
    return ModelCard(name=name, task=task, scale=scale, **fields)  # type: ignore[arg-type]


def trust_folder_for_tests(folder: Path) -> None:
    """Add ``folder`` to ``$MEDSR_TRUSTED_MODEL_DIRS`` for this test process."""
    known = [p for p in os.environ.get(TRUSTED_DIRS_ENV, "").split(os.pathsep) if p]
    if str(folder) not in known:
        os.environ[TRUSTED_DIRS_ENV] = os.pathsep.join([*known, str(folder)])


def export_zoo(folder: Path) -> dict[str, Path]:
    """Write every test model into ``folder`` (then trusted); returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    trust_folder_for_tests(folder)
    paths: dict[str, Path] = {}

    def put(name: str, module: nn.Module, card: ModelCard) -> None:
        path = folder / f"{name}.pt"
        save_torchscript(module, card, path)
        paths[name] = path

    put("bicubic-x2", BicubicUp(2), sr_card("bicubic-x2", 2))
    put("bicubic-x4", BicubicUp(4), sr_card("bicubic-x4", 4, tile_size=32, tile_overlap=8))
    put("conv-x2", SmallConvSR(2), sr_card("conv-x2", 2))
    put(
        "smooth",
        SmoothDenoise(),
        ModelCard(
            name="smooth",
            task="enhance",
            tile_size=64,
            tile_overlap=16,
            normalisation=Normalisation("window", 0.0, 255.0),
        ),
    )
    put(
        "threshold-seg",
        ThresholdSeg(),
        ModelCard(
            name="threshold-seg",
            task="segment",
            out_channels=2,
            tile_size=64,
            tile_overlap=16,
            normalisation=Normalisation("window", 0.0, 255.0),
            labels=(Label(0, "background", (0, 0, 0)), Label(1, "bright", (255, 0, 0))),
        ),
    )
    put("raises", Raises(), sr_card("raises", 2))
    put("wrong-shape", WrongShape(), sr_card("wrong-shape", 2))
    put("wrong-task", SmoothDenoise(), ModelCard(name="wrong-task", task="classify"))
    # No card: a plain TorchScript file.
    from medsr_viewer.models.archive import quiet_torchscript

    with quiet_torchscript():
        torch.jit.save(torch.jit.script(BicubicUp(2)), str(folder / "no-card.pt"))
    paths["no-card"] = folder / "no-card.pt"
    return paths
