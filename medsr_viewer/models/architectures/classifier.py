"""A compact residual CNN that classifies one-channel slices (e.g. 1x128x128 in ``[0, 1]``)."""

from __future__ import annotations

import torch
from torch import nn


class _Block(nn.Module):
    """Two 3x3 convolutions with batch norm and a (strided, projected) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(body(x) + skip(x))``."""
        return self.relu(self.body(x) + self.skip(x))


class SliceClassifier(nn.Module):
    """ResNet-style slice classifier: a strided stem, one residual block per stage (each
    halving the grid), global average pooling and a linear layer giving class logits.

    Inputs of any size work (global pooling); the card fixes the size slices are resized to.
    :attr:`features` is the last convolutional block, the layer Grad-CAM explains
    (:mod:`medsr_viewer.models.classification`).

    Parameters
    ----------
    classes
        Number of output logits.
    base
        Channels of the first stage, doubled per stage up to ``4 * base``.
    stages
        Residual stages after the stem (each halves height and width).
    dropout
        Dropout before the linear layer (training only).
    """

    def __init__(self, classes: int = 6, base: int = 16, stages: int = 4,
                 dropout: float = 0.2) -> None:
        super().__init__()
        widths = [min(base * 2**i, base * 4) for i in range(stages)]
        self.stem = nn.Sequential(nn.Conv2d(1, base, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(base), nn.ReLU(inplace=True))
        blocks: list[nn.Module] = []
        cin = base
        for i, width in enumerate(widths):
            blocks.append(_Block(cin, width, 1 if i == 0 else 2))
            cin = width
        self.blocks = nn.Sequential(*blocks[:-1])
        self.features = blocks[-1]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, classes)

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Activations ``(N, C, h, w)`` of the last convolutional block for ``x`` (N, 1, H, W)."""
        return self.features(self.blocks(self.stem(x)))

    def classify(self, maps: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, classes)`` from :meth:`feature_maps` (global average pooling + linear)."""
        return self.head(self.dropout(maps.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, classes)`` for ``x`` (N, 1, H, W)."""
        return self.classify(self.feature_maps(x))
