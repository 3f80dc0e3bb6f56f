"""Whole slices batched into one model call: the GPU's share of a whole-volume run.

A GPU runs a small 2-D model far below its throughput on one slice at a time (kernel launch
and copy latency dominate), so when every slice fits in one tile, a whole-volume run on CUDA
stacks several slices (:func:`~medsr_viewer.models.device.cuda_slice_batch`, from the free
memory) into one ``(N, 1, H, W)`` call. On the CPU batching is slower (measured 2.1-2.7x on
``sr-x2``: the activations of N tiles leave the cache), so it is used there only when asked
for. Every slice's output is checked as a tile's is (shape, finite values) and handed on in
slice order, so streamed writing is unchanged; an out-of-memory error on a batch finishes
the run one slice per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import numpy as np
import torch

from medsr_viewer.models.inference import TileUpdate, checked_output
from medsr_viewer.models.tiling import Box

if TYPE_CHECKING:
    from medsr_viewer.models.volume_processing import VolumeProcessor, VolumeProgress


def iter_batched_planes(
    processor: VolumeProcessor,
    axis: int,
    put: Callable[[int, np.ndarray], None],
    batch: int,
) -> Generator[VolumeProgress, None, list[float]]:
    """Run every slice along ``axis`` ``batch`` slices per model call.

    Same contract as :meth:`VolumeProcessor.iter_planes
    <medsr_viewer.models.volume_processing.VolumeProcessor.iter_planes>`: one progress item
    per slice (its whole-slice "tile"), ``put(index, plane)`` in slice order, and the
    seconds per slice (a batch's time shared by its slices) as the return value.
    """
    from medsr_viewer.models.volume_processing import VolumeProgress, slice_count, take_slice

    total = slice_count(processor.volume, axis)
    card, scale = processor.card, processor.scale
    seconds: list[float] = []
    index = 0
    while index < total:
        group = list(range(index, min(total, index + batch)))
        start = time.perf_counter()
        images = np.stack([
            processor.intensity.to_model(take_slice(processor.volume.voxels, axis, k))[None]
            for k in group
        ])
        try:
            outputs = processor.runner.run_batch(images)
        except torch.cuda.OutOfMemoryError:
            if processor.runner.device.type == "cuda":
                torch.cuda.empty_cache()
            rest = yield from processor.iter_single_planes(axis, put, start=index)
            return seconds + rest
        share = (time.perf_counter() - start) / len(group)
        for k, image, output in zip(group, images, outputs, strict=True):
            plane = processor.postprocess(checked_output(output, image.shape, scale,
                                                         card.out_channels))
            box = Box(0, 0, image.shape[1], image.shape[2]).scaled(scale)
            yield VolumeProgress(k, total, k, TileUpdate(1, 1, box, plane))
            seconds.append(share)
            put(k, plane)
        index += len(group)
    return seconds

