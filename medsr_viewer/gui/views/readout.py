"""Text of the status-bar readout: where the mouse is and what value it points at.

Kept free of widgets so the wording can be tested directly. Positions are reported as the
*original* voxel index ``(z, y, x)`` as stored in the file, and world LPS millimetres; label
layers say the label there, ``aparc.a2009s+aseg: 17 Left-Hippocampus``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelLayer
from medsr_viewer.core.windowing import Window


def format_value(value: float, units: str = "") -> str:
    """A voxel value for display: integers without decimals, others to 4 significant digits."""
    if not math.isfinite(value):
        text = str(value)
    elif float(value).is_integer() and abs(value) < 1e9:
        text = str(int(value))
    else:
        text = f"{value:.4g}"
    return f"{text} {units}".rstrip()


def format_window(window: Window) -> str:
    """``"W 400 L 40"``: the window as radiologists say it (width, then level)."""
    return f"W {format_value(round(window.width, 4))} L {format_value(round(window.center, 4))}"


def slice_text(orientation: Orientation, index: int, count: int) -> str:
    """``"axial 12/120"``: the plane and the 1-based slice number of its count."""
    return f"{Orientation(orientation).value} {index + 1}/{count}"


def position_text(display: DisplayVolume, canonical_zyx: np.ndarray | None) -> str:
    """Original voxel index, world LPS mm and value (with units) at a canonical index; for a
    colour image the colour shown, ``RGB 10, 250, 30``, and the luminance models and
    measurements use.

    Returns an empty string when the point is outside the volume.
    """
    if canonical_zyx is None or not display.contains(canonical_zyx):
        return ""
    canonical = np.rint(np.asarray(canonical_zyx, dtype=np.float64))
    voxel = np.rint(display.canonical_to_voxel(canonical)).astype(int)
    world = display.canonical_to_world(canonical)
    value = display.value_at(canonical)
    z, y, x = (int(v) for v in voxel)
    wx, wy, wz = (float(v) for v in world)
    value_text = format_value(value if value is not None else math.nan, display.volume.units)
    colour = display.rgb_at(canonical)
    if colour is not None:
        value_text = "RGB {}, {}, {} (luminance {})".format(*colour, value_text)
    return (
        f"voxel (z,y,x) {z}, {y}, {x}  |  LPS ({wx:.1f}, {wy:.1f}, {wz:.1f}) mm  |  "
        f"value {value_text}"
    )


def label_text(display: DisplayVolume, canonical_zyx: np.ndarray | None,
               layers: Sequence[LabelLayer]) -> str:
    """The label under a canonical index in each of ``layers`` that shows one there:
    ``"aparc.a2009s+aseg: 17 Left-Hippocampus"``, layers joined by ``"  |  "``.

    Layers are on the study's grid (label maps of another grid were resampled onto it), so
    the study's voxel is the layer's voxel and the name is that of the label drawn there.
    Background (0), labels hidden in the layer's table and points outside the study say
    nothing; an empty string when no layer has a label there.
    """
    if canonical_zyx is None or not display.contains(canonical_zyx):
        return ""
    canonical = np.rint(np.asarray(canonical_zyx, dtype=np.float64))
    z, y, x = (int(v) for v in np.rint(display.canonical_to_voxel(canonical)))
    parts = []
    for layer in layers:
        labels = layer.labels
        if labels.shape != display.volume.shape:
            continue  # a layer of the study shown before (about to be put on this grid)
        value = int(labels[z, y, x])
        entry = layer.table.entry(value)
        if value and entry.visible:
            parts.append(f"{layer.name}: {value} {entry.name}")
    return "  |  ".join(parts)
