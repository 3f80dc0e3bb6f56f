"""Whole slices batched into one model call: the GPU's share of a whole-volume run.

A GPU runs a small 2-D model far below its throughput on one slice at a time (kernel launch
and copy latency dominate), so when every slice fits in one tile, a whole-volume run on CUDA
stacks several slices (:func:`~medsr_viewer.models.device.cuda_slice_batch`, from the free
memory) into one ``(N, 1, H, W)`` call. On the CPU batching is slower (measured 2.1-2.7x on
``sr-x2``: the activations of N tiles leave the cache), so it is used there only when asked
for. Every slice's output is checked as a tile's is (shape, finite values) and handed on in
slice order, so streamed writing is unchanged; after an out-of-memory error on a batch the
caller finishes the run one slice per call
(:meth:`~medsr_viewer.models.volume_processing.VolumeProcessor.iter_planes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import numpy as np
import torch

from medsr_viewer.models.inference import TileRunner, TileUpdate, checked_output
from medsr_viewer.models.tiling import Box

#: What :func:`iter_batches` yields per slice: index, its whole-slice update, the finished
#: plane, and its share of the batch's seconds.
BatchedSlice = tuple[int, TileUpdate, np.ndarray, float]


def iter_batches(
    runner: TileRunner,
    image_of: Callable[[int], np.ndarray],
    total: int,
    batch: int,
    scale: int,
    out_channels: int,
    postprocess: Callable[[np.ndarray], np.ndarray],
) -> Generator[BatchedSlice, None, int]:
    """Run slices ``0 .. total - 1``, ``batch`` per call of ``runner.run_batch``.

    Parameters
    ----------
    runner
        The model's runner.
    image_of
        Slice index -> its model-space image ``(C, H, W)``.
    total, batch
        Slice count and slices per call.
    scale, out_channels
        From the card; every output is checked against them.
    postprocess
        Model output ``(C_out, h, w)`` -> the finished 2-D plane.

    Returns
    -------
    int
        The first slice not done: ``total``, or where a batch ran out of GPU memory.
    """
    index = 0
    while index < total:
        group = list(range(index, min(total, index + batch)))
        start = time.perf_counter()
        images = np.stack([image_of(k) for k in group])
        try:
            outputs = runner.run_batch(images)
        except torch.cuda.OutOfMemoryError:
            if runner.device.type == "cuda":
                torch.cuda.empty_cache()
            return index
        share = (time.perf_counter() - start) / len(group)
        for k, image, output in zip(group, images, outputs, strict=True):
            plane = postprocess(checked_output(output, image.shape, scale, out_channels))
            box = Box(0, 0, image.shape[1], image.shape[2]).scaled(scale)
            yield k, TileUpdate(1, 1, box, plane), plane, share
        index += len(group)
    return total
