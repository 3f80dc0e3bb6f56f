"""Before/after comparison pictures for the README: HR | LR (nearest) | bicubic | model.

Pure Pillow (no plotting library): the panels share one display window taken from the HR
slice so differences in sharpness, not contrast, are what the eye sees.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from medsr_viewer.core.atomic import atomic_write


def _to_uint8(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((image - lo) / max(hi - lo, 1e-9), 0, 1) * 255).round().astype(np.uint8)


def comparison_figure(
    panels: list[tuple[str, np.ndarray]],
    path: str | os.PathLike[str],
    zoom: int = 2,
    window: tuple[float, float] | None = None,
) -> Path:
    """Write panels side by side with a caption each, atomically, as PNG.

    Parameters
    ----------
    panels
        ``(caption, image)`` pairs of equal-size 2-D arrays (raw units).
    path
        Output PNG path.
    zoom
        Integer pixel replication so fine detail stays visible.
    window
        Display ``(low, high)``; default: 0.5 and 99.5 percentiles of the first panel.
    """
    first = panels[0][1]
    if any(img.shape != first.shape for _c, img in panels):
        raise ValueError("all panels must have the same shape")
    lo, hi = window if window is not None else tuple(np.percentile(first, [0.5, 99.5]))
    h, w = first.shape[0] * zoom, first.shape[1] * zoom
    caption_h, gap = 22, 4
    canvas = Image.new("L", (len(panels) * (w + gap) - gap, h + caption_h), color=0)
    draw = ImageDraw.Draw(canvas)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.truetype("DejaVuSans.ttf", 14)
    except OSError:
        font = ImageFont.load_default()
    for i, (caption, image) in enumerate(panels):
        tile = Image.fromarray(_to_uint8(image, lo, hi)).resize((w, h), Image.Resampling.NEAREST)
        x = i * (w + gap)
        canvas.paste(tile, (x, caption_h))
        draw.text((x + 4, 3), caption, fill=255, font=font)
    return atomic_write(path, lambda tmp: canvas.save(tmp, format="PNG", optimize=True))
