"""What the SR pane's map modes draw: one slice's map on the SR grid and its colour range.

Every map is a float32 array on the SR grid (``scale`` times the LR slice's size), so it lines
up in millimetres with the SR image; maps that live on the LR grid (consistency) are repeated
over each ``scale x scale`` block (nearest), which is what they mean: one number per measured
pixel. The colour range is *robust*, so a handful of extreme pixels (a bright vessel edge)
does not wash the rest of the slice out to the neutral colour: ``-L .. L`` for signed maps with
``L`` the ``p``-th percentile of ``|value|`` over the slice (``p`` = 99 by default), and the
``(100 - p)``-th to ``p``-th percentiles for the non-negative interval width (whose floor, the
noise level a ``tta+noise`` calibration adds everywhere, would otherwise fill the whole bar).

- **difference** ``SR - bicubic(LR)``: everything the model changed over the baseline;
- **consistency** ``D(SR) - LR`` (:func:`~medsr_viewer.core.sr_maps.consistency_map`);
- **added detail** ``(I - P)(SR - bicubic(LR))`` with pixels flagged above ``k`` noise sigmas
  (:func:`~medsr_viewer.core.sr_maps.added_detail`);
- **interval width** ``2 * factor * spread`` of a calibrated model (computed by the models
  layer, which has to run the model; :func:`width_map` only frames it).

Qt-free and torch-free; the viewer computes these off the GUI thread (an added-detail map of a
512 x 512 slice at x2 takes tens of milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr_viewer.core.sr_maps import DEFAULT_K, added_detail
from medsr_viewer.core.sr_maps import consistency_map as lr_consistency_map
from medsr_viewer.core.upsampling import upsample

#: Default percentile of ``|value|`` that sets a map's colour range.
DEFAULT_PERCENTILE = 99.0
#: Smallest half-range (a map that is zero everywhere still gets a usable colour bar).
MIN_LIMIT = 1e-6


def robust_limit(values: np.ndarray, percentile: float = DEFAULT_PERCENTILE) -> float:
    """The ``percentile``-th percentile of ``|values|`` (finite pixels), at least :data:`MIN_LIMIT`.

    Parameters
    ----------
    values
        A map of any shape.
    percentile
        In ``(0, 100]``; 100 is the maximum.
    """
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    data = np.abs(np.asarray(values, dtype=np.float64))
    data = data[np.isfinite(data)]
    if data.size == 0:
        return MIN_LIMIT
    return max(float(np.percentile(data, percentile)), MIN_LIMIT)


@dataclass(frozen=True)
class MapImage:
    """One slice's map as the SR pane draws it.

    Attributes
    ----------
    kind
        ``difference``, ``consistency``, ``added detail`` or ``interval width``.
    values
        The map on the SR grid (float32, raw intensity units).
    levels
        Colour range ``(low, high)``: ``(-limit, limit)`` for signed maps, the ``(100 - p)``-th
        to ``p``-th percentiles for the width.
    percentile
        The percentile of ``|value|`` that set ``limit``.
    signed
        Whether the map is signed (diverging colour map) or not (sequential).
    flagged
        Pixels flagged as added detail above the noise (added detail only), else ``None``.
    sigma, k
        Noise standard deviation (raw units) and threshold of the flags (added detail only).
    """

    kind: str
    values: np.ndarray
    levels: tuple[float, float]
    percentile: float
    signed: bool = True
    flagged: np.ndarray | None = None
    sigma: float = 0.0
    k: float = 0.0

    @property
    def limit(self) -> float:
        """Upper end of the colour range."""
        return self.levels[1]

    @property
    def flagged_fraction(self) -> float:
        """Share of the slice's pixels flagged (0 when nothing is flagged)."""
        return 0.0 if self.flagged is None else float(np.mean(self.flagged))

    def value_at(self, row: int, col: int) -> float | None:
        """The map value at SR-grid pixel ``(row, col)``, ``None`` outside."""
        rows, cols = self.values.shape
        if not (0 <= row < rows and 0 <= col < cols):
            return None
        return float(self.values[row, col])

    def is_flagged(self, row: int, col: int) -> bool:
        """Whether SR-grid pixel ``(row, col)`` is flagged."""
        if self.flagged is None:
            return False
        rows, cols = self.flagged.shape
        return 0 <= row < rows and 0 <= col < cols and bool(self.flagged[row, col])


def _signed(kind: str, values: np.ndarray, percentile: float, **extra: object) -> MapImage:
    limit = robust_limit(values, percentile)
    return MapImage(kind, np.ascontiguousarray(values, dtype=np.float32), (-limit, limit),
                    float(percentile), **extra)  # type: ignore[arg-type]


def difference_map(sr: np.ndarray, lr: np.ndarray, scale: int,
                   percentile: float = DEFAULT_PERCENTILE) -> MapImage:
    """``SR - bicubic(LR)`` on the SR grid."""
    base = upsample(np.asarray(lr, dtype=np.float64), scale, "bicubic")
    sr = np.asarray(sr, dtype=np.float64)[: base.shape[0], : base.shape[1]]
    return _signed("difference", sr - base, percentile)


def consistency_map(sr: np.ndarray, lr: np.ndarray, scale: int,
                    percentile: float = DEFAULT_PERCENTILE) -> MapImage:
    """``D(SR) - LR`` repeated over each LR pixel's block of the SR grid (nearest)."""
    values = lr_consistency_map(sr, lr, scale)
    fine = np.repeat(np.repeat(values, scale, axis=0), scale, axis=1)
    return _signed("consistency", fine, percentile)


def added_detail_image(sr: np.ndarray, lr: np.ndarray, scale: int, k: float = DEFAULT_K,
                       percentile: float = DEFAULT_PERCENTILE) -> MapImage:
    """``(I - P)(SR - bicubic(LR))`` on the SR grid with ``|value| > k * sigma`` flagged."""
    detail = added_detail(sr, lr, scale, k)
    return _signed("added detail", detail.values, percentile, flagged=detail.flagged,
                   sigma=detail.sigma, k=detail.k)


def width_map(width: np.ndarray, percentile: float = DEFAULT_PERCENTILE) -> MapImage:
    """An interval-width map (non-negative) with the range ``(100 - p)``-th .. ``p``-th
    percentile of the width (the whole range for ``p`` = 100)."""
    values = np.ascontiguousarray(width, dtype=np.float32)
    high = robust_limit(values, percentile)
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        low = 0.0
    elif percentile < 100.0:
        low = float(np.percentile(finite, 100.0 - percentile))
    else:
        low = float(finite.min())
    low = min(low, high - MIN_LIMIT)
    return MapImage("interval width", values, (low, high), float(percentile), signed=False)


def outline(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` that touch a pixel outside it (4-neighbours; image edge = outside)."""
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    inner = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    return mask & ~inner
