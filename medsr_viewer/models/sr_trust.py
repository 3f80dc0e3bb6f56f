"""Trust maps of a whole super-resolved volume: calibrated intervals, consistency, added detail.

For every slice along the processing axis, given the input (LR) slice and the SR slice the
run produced: the calibrated interval ``SR -+ factor * spread`` from the card's calibration
(:mod:`medsr_viewer.models.calibration`; the model runs 8 more times per slice for the
test-time-augmentation spread), the consistency ``D(SR) - LR`` on the input grid and the
added detail ``(I - P)(SR - bicubic(LR))`` on the SR grid (:mod:`medsr_viewer.core.sr_maps`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from medsr_viewer.core.sr_maps import added_detail_map, consistency_map
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.inference import InferenceError, run_tiled_inference
from medsr_viewer.models.uncertainty import interval, sr_with_spread
from medsr_viewer.models.volume_processing import VolumeProcessor, take_slice


@dataclass
class TrustMaps:
    """Voxel arrays of the requested maps (``None`` when not requested)."""

    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    consistency: np.ndarray | None = None
    added_detail: np.ndarray | None = None
    notes: dict[str, object] = field(default_factory=dict)


def iter_trust_maps(
    processor: VolumeProcessor,
    result: Volume,
    axis: int,
    interval_level: float | None = None,
    consistency: bool = False,
    added: bool = False,
) -> Generator[int, None, TrustMaps]:
    """Yield the index of each finished slice; return the :class:`TrustMaps`.

    Raises
    ------
    InferenceError
        When an interval is asked for but the card has no calibration at that level.
    """
    card = processor.card
    scale = processor.scale
    calibrated = None
    if interval_level is not None:
        calibrated = card.interval_factor(interval_level)
        if calibrated is None:
            have = card.calibration.get("level") if card.calibration else None
            raise InferenceError(
                f"{card.name} has no calibrated {interval_level:.0%} interval"
                + (f" (its card has {float(have):.0%})" if have else
                   " (run medsr calibrate on it first)")
            )
    src = np.asarray(processor.volume.voxels)
    out = np.asarray(result.voxels)
    maps = TrustMaps()
    if calibrated is not None:
        maps.lower = np.zeros(out.shape, np.float32)
        maps.upper = np.zeros(out.shape, np.float32)
        maps.notes["interval"] = {"level": interval_level, "spread": calibrated[0],
                                  "factor": calibrated[1]}
    if consistency:
        maps.consistency = np.zeros(src.shape, np.float32)
    if added:
        maps.added_detail = np.zeros(out.shape, np.float32)
    intensity, runner = processor.intensity, processor.runner

    def upscale(plane: np.ndarray) -> np.ndarray:
        image = intensity.to_model(plane)[None]
        raw = run_tiled_inference(runner, image, scale, 1, processor.tile,
                                  card.tile_overlap)
        return np.asarray(intensity.from_model(raw[0]), dtype=np.float64)

    src_max = float(np.nanmax(src)) if src.size else 0.0  # the anatomy of the noise floor
    for index in range(src.shape[axis]):
        lr = np.asarray(take_slice(src, axis, index), dtype=np.float64)
        sr = np.asarray(take_slice(out, axis, index), dtype=np.float64)
        where_out: list[slice | int] = [slice(None)] * 3
        where_out[axis] = index
        if calibrated is not None and maps.lower is not None and maps.upper is not None:
            spread = sr_with_spread(upscale, lr, scale, src_max).spread(calibrated[0])
            low, high = interval(sr, spread, calibrated[1])
            maps.lower[tuple(where_out)] = low
            maps.upper[tuple(where_out)] = high
        if maps.consistency is not None:
            maps.consistency[tuple(where_out)] = consistency_map(sr, lr, scale)
        if maps.added_detail is not None:
            maps.added_detail[tuple(where_out)] = added_detail_map(sr, lr, scale)
        yield index
    return maps
