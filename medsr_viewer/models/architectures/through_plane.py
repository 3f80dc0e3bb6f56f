"""Through-plane super-resolution network: refines a reformat already resampled along its rows.

The input of :class:`ThroughPlaneResNet` is a 2-D reformat (coronal or sagittal plane) whose
rows run along the slice axis and were interpolated with a cubic B-spline onto the fine grid
(the protocol's cubic baseline), plus two constant channels giving the slice spacing and the
slice thickness in fine pixels divided by :data:`CONDITION_SCALE`. Working on the fine grid makes
any factor (integer or not, with or without slice gaps) one network; the global residual means
the network only learns what the spline cannot restore, and never does worse than a blur at
initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from medsr_viewer.models.architectures.sr import ResidualBlock

#: The conditioning channels hold spacing / CONDITION_SCALE and thickness / CONDITION_SCALE.
CONDITION_SCALE = 4.0
#: Input channels: the resampled image and the two conditioning maps.
IN_CHANNELS = 3


class ThroughPlaneResNet(nn.Module):
    """Residual CNN at full resolution (EDSR blocks without up-sampling).

    Parameters
    ----------
    channels
        Feature width.
    blocks
        Number of residual blocks (two 3x3 convolutions each).
    """

    def __init__(self, channels: int = 32, blocks: int = 6) -> None:
        super().__init__()
        self.head = nn.Conv2d(IN_CHANNELS, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(channels, 0.5) for _ in range(blocks)])
        # No bias and zero weights: the network starts as the identity (the cubic B-spline)
        # and the residual cannot drift into a global offset (L1 + Adam would make one).
        self.tail = nn.Conv2d(channels, 1, 3, padding=1, bias=False)
        nn.init.zeros_(self.tail.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine ``x`` (N, 3, H, W) -> (N, 1, H, W): channel 0 plus the learned residual."""
        feat = self.head(x)
        return x[:, :1] + self.tail(feat + self.body(feat))


def condition(image: torch.Tensor, spacing: float, thickness: float) -> torch.Tensor:
    """Stack ``image`` (N, 1, H, W) with its constant spacing and thickness channels."""
    n, _c, h, w = image.shape
    maps = torch.empty((n, 2, h, w), dtype=image.dtype, device=image.device)
    maps[:, 0] = spacing / CONDITION_SCALE
    maps[:, 1] = thickness / CONDITION_SCALE
    return torch.cat([image, maps], dim=1)
