"""Denoising network for one-channel slices in ``[0, 1]``."""

from __future__ import annotations

import torch
from torch import nn


class DnCNN(nn.Module):
    """DnCNN (Zhang et al. 2017): a plain conv stack that predicts the noise, subtracted from x.

    Batch norm is left out so the exported model behaves the same for any batch and tile.

    Parameters
    ----------
    channels
        Feature width.
    depth
        Total number of convolution layers (>= 3).
    """

    def __init__(self, channels: int = 32, depth: int = 10) -> None:
        super().__init__()
        if depth < 3:
            raise ValueError(f"DnCNN needs depth >= 3, got {depth}")
        layers: list[nn.Module] = [nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoised ``x`` (N, 1, H, W), same shape."""
        return x - self.body(x)
