"""The output volume of a slice-by-slice run, filled one finished plane at a time.

The buffer is the only full-size array of the run: float32, ``uint8`` labels, or the stored
integers of a :class:`~medsr_viewer.core.quantise.Quantisation` (half the memory of float32
for 16-bit types), so a plane is quantised as soon as the model has produced it and no float
copy of the whole output ever exists. A plane whose values the plan cannot hold turns the
buffer into float32 (the planes stored so far are decoded, within half a step of their
values); nothing is clipped.
"""

from __future__ import annotations

import numpy as np

from medsr_viewer.core.quantise import Quantisation


class OutputBuffer:
    """A ``(z, y, x)`` output array written plane by plane along one axis.

    Parameters
    ----------
    shape
        The output's voxel shape ``(z, y, x)``.
    axis
        The axis the planes are taken along (0 = z, 1 = y, 2 = x).
    quantisation
        Store integers with this scaling; ``None`` stores ``dtype`` as given.
    dtype
        The stored type without a quantisation (float32, or ``uint8`` for labels).
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        axis: int,
        quantisation: Quantisation | None = None,
        dtype: type | np.dtype = np.float32,
    ) -> None:
        if axis not in (0, 1, 2):
            raise ValueError(f"slice axis must be 0, 1 or 2, got {axis}")
        self.axis = axis
        self.quantisation = quantisation
        self.array = np.zeros(shape, dtype=quantisation.dtype if quantisation else dtype)
        #: Why a planned integer output became float32 (``None`` while it holds).
        self.promoted: str | None = None

    @classmethod
    def filled(cls, array: np.ndarray, axis: int, quantisation: Quantisation | None
               ) -> OutputBuffer:
        """A buffer holding the planes of a finished real-valued ``array`` along ``axis``
        (quantised plane by plane, as :meth:`put` would have)."""
        shape = (int(array.shape[0]), int(array.shape[1]), int(array.shape[2]))
        buffer = cls(shape, axis, quantisation, array.dtype)
        for index in range(shape[axis]):
            buffer.put(index, array[buffer._where(index)])
        return buffer

    @property
    def scaling(self) -> tuple[float, float] | None:
        """``(scl_slope, scl_inter)`` of the stored integers; ``None`` for real values."""
        q = self.quantisation
        return None if q is None else (q.slope, q.inter)

    def _where(self, index: int) -> tuple[slice | int, ...]:
        where: list[slice | int] = [slice(None)] * 3
        where[self.axis] = index
        return tuple(where)

    def put(self, index: int, plane: np.ndarray) -> None:
        """Store the finished 2-D ``plane`` number ``index`` (real units, or labels)."""
        q = self.quantisation
        if q is not None:
            low, high = float(np.min(plane)), float(np.max(plane))
            if not q.fits(low, high):
                self.promote(low, high)
                q = None
        self.array[self._where(index)] = plane if q is None else q.encode(plane)

    def plane(self, index: int) -> np.ndarray:
        """Plane ``index`` in real units (decoded from the stored integers)."""
        stored = self.array[self._where(index)]
        q = self.quantisation
        return stored if q is None else q.decode(stored)

    def promote(self, low: float, high: float) -> None:
        """Switch to float32 because of values ``low..high``: decode what is stored, keep the
        reason in :attr:`promoted`."""
        q = self.quantisation
        assert q is not None
        first, last = q.value_range
        self.promoted = (f"values {low:.6g}..{high:.6g} outside the {q.dtype} range "
                         f"{first:.6g}..{last:.6g} planned from the input: written as float32")
        real = self.array.astype(np.float32)
        if q.slope != 1.0:
            real *= np.float32(q.slope)
        if q.inter != 0.0:
            real += np.float32(q.inter)
        self.array = real
        self.quantisation = None
