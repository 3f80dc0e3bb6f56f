"""Undoable label-map edits: paint or erase voxels of a label array.

The command stores only the changed voxels (flat indices, old values), so brushing on a 256³
map costs memory in proportion to the stroke, not the volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PaintLabels:
    """Command: set the voxels of ``mask`` in ``labels`` to ``value`` (0 erases).

    ``labels`` is edited in place (it is the label layer's array); ``only_value`` restricts an
    erase or repaint to voxels currently holding that label.
    """

    labels: np.ndarray
    mask: np.ndarray
    value: int
    only_value: int | None = None
    _indices: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    _old: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        if self.mask.shape != self.labels.shape:
            raise ValueError(f"mask {self.mask.shape} does not fit labels {self.labels.shape}")
        if not self.labels.flags.c_contiguous:
            raise ValueError("label array must be C-contiguous to be edited in place")
        info = np.iinfo(self.labels.dtype)
        if not info.min <= self.value <= info.max:
            raise ValueError(f"label {self.value} does not fit the map's {self.labels.dtype}")

    @property
    def description(self) -> str:
        """Menu text."""
        return "Erase labels" if self.value == 0 else f"Paint label {self.value}"

    def apply(self) -> None:
        """Write ``value`` into the masked voxels, remembering what was there."""
        flat = self.labels.reshape(-1)
        select = self.mask.reshape(-1).astype(bool)
        if self.only_value is not None:
            select &= flat == self.only_value
        self._indices = np.flatnonzero(select & (flat != self.value))
        self._old = flat[self._indices].copy()
        flat[self._indices] = self.value

    def revert(self) -> None:
        """Put the old values back."""
        self.labels.reshape(-1)[self._indices] = self._old

    @property
    def changed_count(self) -> int:
        """How many voxels the last :meth:`apply` changed."""
        return int(self._indices.size)
