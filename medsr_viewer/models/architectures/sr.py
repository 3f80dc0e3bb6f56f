"""Single-image super-resolution networks working on one-channel slices in ``[0, 1]``.

Both predict the residual over bicubic up-sampling of the input (a global skip): the network
only learns the detail bicubic misses, which trains faster and never does worse than a blur.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ESPCN(nn.Module):
    """Fast SR: three convolutions at low resolution and a sub-pixel (pixel-shuffle) output.

    Shi et al. 2016, with a bicubic global residual. Cheap enough for interactive use.

    Parameters
    ----------
    scale
        Integer up-sampling factor.
    channels
        Width of the first feature layer (the second has half of it).
    """

    def __init__(self, scale: int = 2, channels: int = 64) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(channels, channels // 2, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(channels // 2, scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Up-sample ``x`` (N, 1, H, W) to (N, 1, sH, sW)."""
        base = F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        return base + self.body(x)


class ResidualBlock(nn.Module):
    """Conv-ReLU-conv with an identity skip and residual scaling (EDSR style, no batch norm)."""

    def __init__(self, channels: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + res_scale * f(x)``."""
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class EDSRLite(nn.Module):
    """Quality SR: a small EDSR (residual blocks at low resolution, pixel-shuffle tail).

    Lim et al. 2017, reduced to a few blocks and channels for CPU use, plus a bicubic global
    residual. The output is a sub-pixel convolution straight to one channel (ESPCN style), which
    keeps the cost at low resolution; x4 first doubles the features with a x2 pixel shuffle.

    Parameters
    ----------
    scale
        Up-sampling factor: 2, 3 or 4.
    channels
        Feature width.
    blocks
        Number of residual blocks.
    """

    def __init__(self, scale: int = 2, channels: int = 32, blocks: int = 6) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"EDSRLite supports scale 2, 3 or 4, got {scale}")
        self.scale = scale
        self.head = nn.Conv2d(1, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(channels, 0.5) for _ in range(blocks)])
        self.body_tail = nn.Conv2d(channels, channels, 3, padding=1)
        stages: list[nn.Module] = []
        if scale == 4:
            stages += [nn.Conv2d(channels, channels * 4, 3, padding=1), nn.PixelShuffle(2)]
        last = 2 if scale == 4 else scale
        stages += [nn.Conv2d(channels, last * last, 3, padding=1), nn.PixelShuffle(last)]
        self.upsample = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Up-sample ``x`` (N, 1, H, W) to (N, 1, sH, sW)."""
        base = F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        feat = self.head(x)
        feat = feat + self.body_tail(self.body(feat))
        return base + self.upsample(feat)
