"""Model files an attacker could hand a user, each proven harmful when loaded the naive way.

Each writer returns the file; its payload creates or overwrites ``marker``, so a test can
assert that nothing ran (the marker is absent or unchanged) unless the file was trusted.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from model_zoo import BicubicUp, sr_card
from torch import nn

from medsr_viewer.models.archive import export_model, quiet_torchscript, save_torchscript


class _WritesMarker:
    """Unpickling this creates ``path`` (``open(path, "w")``): code run by a model file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def pickled_pt2(path: Path, marker: Path) -> Path:
    """A ``torch.export`` archive with a valid card whose weight config says ``use_pickle``.

    ``torch.export.load`` then unpickles the weight with ``weights_only=False``, running the
    payload (creating ``marker``).
    """
    clean = path.with_name(path.stem + ".clean.pt2")
    export_model(BicubicConv(), sr_card("innocent-x2", 2), clean)
    with zipfile.ZipFile(clean) as zin:
        config_name = next(n for n in zin.namelist()
                           if n.endswith("data/weights/model_weights_config.json"))
        config = json.loads(zin.read(config_name))
        for entry in config["config"].values():
            entry["use_pickle"] = True
        payload_name = next(iter(config["config"].values()))["path_name"]
        with zipfile.ZipFile(path, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item)
                if item.filename == config_name:
                    data = json.dumps(config).encode()
                elif item.filename.endswith(f"data/weights/{payload_name}"):
                    data = pickle.dumps(_WritesMarker(str(marker)))
                zout.writestr(item, data)
    clean.unlink()
    return path


class BicubicConv(nn.Module):
    """Bicubic x2 after a 1x1 identity convolution (so the export has weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=2.0, mode="bicubic", align_corners=False)


class OverwritesFile(nn.Module):
    """TorchScript whose forward writes ``ABCD`` into an existing file through ``from_file``."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mapped = torch.from_file(self.target, True, 4, dtype=torch.uint8)
        mapped.copy_(torch.tensor([65, 66, 67, 68], dtype=torch.uint8))
        up = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
        return up + 0.0 * mapped[0].float()  # used, so TorchScript keeps the write


def overwriting_torchscript(path: Path, victim: Path) -> Path:
    """A TorchScript SR model (valid card) that overwrites ``victim`` during its dry run."""
    with quiet_torchscript():
        save_torchscript(OverwritesFile(str(victim)), sr_card("helpful-x2", 2), path)
    return path


def plain_torchscript(path: Path) -> Path:
    """A harmless TorchScript bicubic x2 model (for trust round trips)."""
    save_torchscript(BicubicUp(2), sr_card("plain-x2", 2), path)
    return path


#: A script writing a TorchScript SR model that takes minutes on every tile larger than
#: 16 px (its 16x16 dry run is quick): ``python script.py OUT.pt`` (TorchScript needs the
#: class source in a file, so it is written out and run rather than defined here).
SLOW_MODEL = """
import sys, torch, torch.nn.functional as F
from torch import nn
sys.path.insert(0, {zoo!r})
from model_zoo import sr_card
from medsr_viewer.models.archive import save_torchscript

class Slow(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
        if x.shape[2] > 16:
            a = torch.rand(256, 256)
            for _ in range(100000):
                a = torch.tanh(a @ a)
            y = y + 0.0 * a.mean()
        return y

save_torchscript(Slow(), sr_card("slow-x2", 2, tile_size=32, tile_overlap=4), sys.argv[1])
"""
