"""Lookup tables of the image panes' colour maps (:data:`~medsr_viewer.core.view_model.COLORMAPS`).

The window maps voxel values to 256 levels; a lookup table colours them. Plain grey needs
none (the fast path pyqtgraph takes without one). "hot" is colorcet's linear heat scale L3
(black, red, yellow, white), "inferno" and "viridis" the perceptually uniform maps of
matplotlib, as pyqtgraph ships them; inverting reverses any of them (bone white = low).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

from medsr_viewer.core.view_model import LutState

#: pyqtgraph's name of each colour map ("grey" is built here: exact, linear).
PYQTGRAPH_NAMES = {"hot": "CET-L3", "inferno": "inferno", "viridis": "viridis"}
LEVELS = 256


@lru_cache(maxsize=16)
def _table(colormap: str, invert: bool) -> np.ndarray:
    if colormap == "grey":
        ramp = np.arange(LEVELS, dtype=np.uint8)
        table = np.stack([ramp, ramp, ramp], axis=1)
    else:
        table = np.asarray(pg.colormap.get(PYQTGRAPH_NAMES[colormap]).getLookupTable(
            nPts=LEVELS, alpha=False), dtype=np.uint8)
    table = table[::-1] if invert else table
    table.setflags(write=False)
    return table


def lookup_table(state: LutState) -> np.ndarray | None:
    """The ``(256, 3)`` uint8 table of ``state`` (``None`` for plain grey)."""
    return None if state.plain else _table(state.colormap, state.invert)


def colour_at(state: LutState, fraction: float) -> tuple[int, int, int]:
    """The colour of a level at ``fraction`` (0 = the window's low end, 1 = its high end)."""
    table = _table(state.colormap, state.invert)
    index = int(np.clip(round(fraction * (LEVELS - 1)), 0, LEVELS - 1))
    r, g, b = (int(c) for c in table[index])
    return (r, g, b)
