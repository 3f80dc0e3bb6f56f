"""Tile layout and feathered blending for running 2-D models on large images (NumPy only).

An image of ``H x W`` is covered by square tiles of side ``tile`` that overlap their neighbours
by at least ``overlap`` input pixels. Each tile's output (possibly at ``scale`` times the
resolution, as in MONAI's ``sliding_window_inference``) is blended into the result with a
linear feathering weight that is

- exactly 0 over the outer quarter of the overlap at an edge shared with a neighbour tile
  (where zero padding at the tile border corrupts a convolution's output),
- rising linearly to 1 across the middle half of the overlap,
- 1 elsewhere and at the image border (no neighbour to blend with).

The blend divides by the summed weights, so for any model whose receptive-field radius is at
most ``overlap / 4`` input pixels the tiled result equals the untiled one up to rounding, and
for larger receptive fields seams are smoothed rather than cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """A half-open pixel rectangle ``[y0, y1) x [x0, x1)``."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        """Number of rows."""
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        """Number of columns."""
        return self.x1 - self.x0

    def scaled(self, scale: int) -> Box:
        """The same rectangle on a grid ``scale`` times finer (an SR model's output grid)."""
        return Box(self.y0 * scale, self.x0 * scale, self.y1 * scale, self.x1 * scale)

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices for indexing a ``(..., H, W)`` array."""
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))

    def as_tuple(self) -> tuple[int, int, int, int]:
        """``(y0, x0, y1, x1)``."""
        return (self.y0, self.x0, self.y1, self.x1)


@dataclass(frozen=True)
class Tile:
    """One tile of a plan: its input box, and which of its edges have a neighbour tile."""

    index: int
    box: Box
    #: Whether the top, left, bottom, right edge overlaps a neighbour (and is feathered).
    inner_edges: tuple[bool, bool, bool, bool]


def tile_starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """Start offsets and the common tile length covering ``length`` px along one axis.

    Uses the fewest tiles of at most ``tile`` px that overlap by at least ``overlap``, then
    shrinks them to the smallest equal length that still does and spaces them evenly, so no
    pixels are computed more often than needed (512 px with 256/16 gives 3 tiles of 182 px,
    not 3 of 256). A length no larger than ``tile`` gives one tile.
    """
    if tile <= overlap:
        raise ValueError(f"tile size {tile} must exceed the overlap {overlap}")
    if length <= tile:
        return [0], length
    count = -(-(length - overlap) // (tile - overlap))
    size = min(tile, -(-(length + (count - 1) * overlap) // count))
    starts = [(i * (length - size)) // (count - 1) for i in range(count)]
    return starts, size


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Row-major tiles of at most ``tile`` px covering an ``height x width`` image."""
    rows, th = tile_starts(height, tile, overlap)
    cols, tw = tile_starts(width, tile, overlap)
    tiles: list[Tile] = []
    for r, y0 in enumerate(rows):
        for c, x0 in enumerate(cols):
            edges = (r > 0, c > 0, r < len(rows) - 1, c < len(cols) - 1)
            tiles.append(Tile(len(tiles), Box(y0, x0, y0 + th, x0 + tw), edges))
    return tiles


def _ramp(
    length_out: int, scale: int, overlap: int, inner_start: bool, inner_end: bool
) -> np.ndarray:
    """1-D feathering weights over one tile axis of ``length_out`` output pixels."""
    weights = np.ones(length_out, dtype=np.float32)
    if overlap <= 0:
        return weights
    dead = overlap / 4.0
    rise = overlap / 2.0
    # Distance of each output pixel centre from the tile's start edge, in input pixels.
    dist = (np.arange(length_out, dtype=np.float64) + 0.5) / scale
    ramp_up = np.clip((dist - dead) / rise, 0.0, 1.0).astype(np.float32)
    if inner_start:
        weights = np.minimum(weights, ramp_up)
    if inner_end:
        weights = np.minimum(weights, ramp_up[::-1])
    return weights


def feather_weights(tile: Tile, scale: int, overlap: int) -> np.ndarray:
    """2-D blending weights ``(h * scale, w * scale)`` for ``tile``'s output."""
    top, left, bottom, right = tile.inner_edges
    wy = _ramp(tile.box.height * scale, scale, overlap, top, bottom)
    wx = _ramp(tile.box.width * scale, scale, overlap, left, right)
    return wy[:, None] * wx[None, :]


class TileBlender:
    """Accumulates weighted tile outputs into one ``(C, H * scale, W * scale)`` image.

    Parameters
    ----------
    channels
        Output channels of the model.
    height, width
        Input image size.
    scale
        Output / input resolution ratio.
    overlap
        The plan's overlap (input pixels), which sets the feathering ramp.
    """

    def __init__(self, channels: int, height: int, width: int, scale: int, overlap: int) -> None:
        self.scale = scale
        self.overlap = overlap
        self._acc = np.zeros((channels, height * scale, width * scale), dtype=np.float32)
        self._wsum = np.zeros((height * scale, width * scale), dtype=np.float32)

    def add(self, tile: Tile, output: np.ndarray) -> np.ndarray:
        """Blend ``output`` ``(C, h*s, w*s)`` for ``tile``; return the current view of its box.

        Where only this tile's zero-weight margin covers a pixel so far, the view shows the
        tile's own output so progressive display has no holes; the final image never does.
        """
        out_box = tile.box.scaled(self.scale)
        expected = (self._acc.shape[0], out_box.height, out_box.width)
        if output.shape != expected:
            raise ValueError(f"tile output shape {output.shape} != expected {expected}")
        weights = feather_weights(tile, self.scale, self.overlap)
        rows, cols = out_box.slices()
        self._acc[:, rows, cols] += output * weights[None]
        self._wsum[rows, cols] += weights
        wsum = self._wsum[rows, cols]
        covered = wsum > 0
        view = np.where(
            covered[None], self._acc[:, rows, cols] / np.where(covered, wsum, 1)[None], output
        )
        return view.astype(np.float32, copy=False)

    def result(self) -> np.ndarray:
        """The blended image; pixels no tile weighted (only when tiles are missing) are 0."""
        wsum = self._wsum
        return np.divide(self._acc, np.where(wsum > 0, wsum, 1.0)[None]).astype(np.float32)
