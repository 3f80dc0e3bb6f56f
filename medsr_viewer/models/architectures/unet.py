"""A small 2-D U-Net for segmentation of one-channel slices in ``[0, 1]``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015) with same-padding convolutions, returning class logits.

    Inputs of any size work: the forward pass reflect-pads height and width up to a multiple
    of ``2**depth`` and crops the logits back, so tiles of any size give aligned outputs.

    Parameters
    ----------
    classes
        Number of output channels (logits; argmax gives the label).
    base
        Channels at the first level, doubled at each level down.
    depth
        Number of 2x down-sampling steps.
    max_width
        Cap on the channels of the deeper levels, so that a deeper network (a wider field of
        view) need not grow the file fourfold per level; ``None`` doubles without limit.
    """

    def __init__(self, classes: int = 2, base: int = 16, depth: int = 3,
                 max_width: int | None = None) -> None:
        super().__init__()
        self.depth = depth
        widths = [base * 2**i for i in range(depth + 1)]
        if max_width is not None:
            widths = [min(w, max_width) for w in widths]
        self.down = nn.ModuleList([_double_conv(1, widths[0])])
        for i in range(depth):
            self.down.append(_double_conv(widths[i], widths[i + 1]))
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for i in range(depth, 0, -1):
            self.up.append(nn.ConvTranspose2d(widths[i], widths[i - 1], 2, stride=2))
            self.merge.append(_double_conv(widths[i - 1] * 2, widths[i - 1]))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes, H, W) for ``x`` (N, 1, H, W)."""
        h, w = x.shape[-2], x.shape[-1]
        m = 1 << self.depth
        ph, pw = (m - h % m) % m, (m - w % m) % m
        if ph > 0 or pw > 0:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, [0, pw, 0, ph], mode=mode)
        skips: list[torch.Tensor] = []
        feat = x
        for i, block in enumerate(self.down):
            if i > 0:
                feat = F.max_pool2d(feat, 2)
            feat = block(feat)
            skips.append(feat)
        feat = skips[-1]
        for i, (up, merge) in enumerate(zip(self.up, self.merge)):
            feat = up(feat)
            feat = merge(torch.cat([skips[-2 - i], feat], dim=1))
        return self.head(feat)[..., :h, :w]
