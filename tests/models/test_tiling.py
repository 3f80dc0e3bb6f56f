"""Tiled inference equals untiled inference; OOM re-splitting and CPU fallback keep it so."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from model_zoo import BicubicUp, OomAbove, SmallConvSR, WrongShape

from medsr_viewer.core.notify import Notifier
from medsr_viewer.models.inference import (
    InferenceError,
    TileRunner,
    iter_tiled_inference,
    run_tiled_inference,
)
from medsr_viewer.models.tiling import Box, TileBlender, feather_weights, plan_tiles, tile_starts


def _image(h: int, w: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((1, h, w), dtype=np.float32)


def test_tile_starts_cover_with_overlap() -> None:
    for length in (1, 30, 64, 65, 100, 512, 517, 1000):
        starts, size = tile_starts(length, 64, 16)
        assert size <= 64 and starts[0] == 0 and starts[-1] + size == length
        for a, b in itertools.pairwise(starts):
            assert size - (b - a) >= 16  # overlap at least 16
        if length > 64:  # fewest tiles: one fewer could not overlap enough
            n = len(starts) - 1
            assert n * 64 - (n - 1) * 16 < length
    assert tile_starts(512, 256, 16) == ([0, 165, 330], 182)
    with pytest.raises(ValueError):
        tile_starts(100, 16, 16)


def test_plan_covers_every_pixel_and_marks_inner_edges() -> None:
    tiles = plan_tiles(150, 90, 64, 16)
    cover = np.zeros((150, 90), int)
    for t in tiles:
        cover[t.box.slices()] += 1
    assert cover.min() >= 1
    assert tiles[0].inner_edges == (False, False, True, True)
    assert tiles[-1].inner_edges == (True, True, False, False)


def test_feather_weights_sum_positive_and_zero_at_inner_margin() -> None:
    tiles = plan_tiles(100, 100, 48, 16)
    wsum = np.zeros((200, 200))
    for t in tiles:
        wsum[t.box.scaled(2).slices()] += feather_weights(t, 2, 16)
    assert wsum.min() > 0
    inner = feather_weights(tiles[4], 2, 16)  # a tile with neighbours on all sides
    assert inner[:8, :].max() == 0 and inner[:, -8:].max() == 0  # dead quarter of overlap
    assert inner[inner.shape[0] // 2, inner.shape[1] // 2] == 1


@pytest.mark.parametrize(
    "module,scale", [(BicubicUp(2), 2), (SmallConvSR(2), 2), (BicubicUp(4), 4)]
)
def test_tiled_equals_untiled(module: torch.nn.Module, scale: int) -> None:
    image = _image(150, 203)
    runner = TileRunner(module.eval())
    full = runner(image)
    tiled = run_tiled_inference(runner, image, scale, 1, tile=48, overlap=16)
    assert tiled.shape == full.shape == (1, 150 * scale, 203 * scale)
    data_range = float(full.max() - full.min())
    assert np.abs(tiled - full).max() <= 1e-4 * data_range


def test_without_feathering_margin_tiles_would_differ() -> None:
    """Guard that the equality test can fail: overlap 0 shows seams for a conv model."""
    image = _image(100, 100)
    runner = TileRunner(SmallConvSR(2).eval())
    full = runner(image)
    seamed = run_tiled_inference(runner, image, 2, 1, tile=40, overlap=0)
    assert np.abs(seamed - full).max() > 1e-3


def test_generator_yields_each_tile_with_output_box_and_can_be_cancelled() -> None:
    image = _image(100, 120)
    runner = TileRunner(BicubicUp(2).eval())
    gen = iter_tiled_inference(runner, image, 2, 1, 48, 16, postprocess=lambda a: a * 10)
    updates = list(gen)
    total = len(plan_tiles(100, 120, 48, 16))
    assert [u.done for u in updates] == list(range(1, total + 1))
    assert updates[-1].fraction == 1.0
    first = updates[0]
    plan = plan_tiles(100, 120, 48, 16)
    assert first.box == plan[0].box.scaled(2) == Box(0, 0, 88, 84)
    assert first.array.shape == (1, 88, 84)
    full = runner(image) * 10
    # The first tile's non-overlapped interior is already final.
    np.testing.assert_allclose(first.array[:, :50, :50], full[:, :50, :50], atol=1e-4)

    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(1)
            return BicubicUp(2)(x)

    gen2 = iter_tiled_inference(TileRunner(Counting()), image, 2, 1, 48, 16)
    next(gen2)
    gen2.close()  # cancel between tiles
    assert len(calls) == 1


def test_wrong_output_shape_is_refused() -> None:
    with pytest.raises(InferenceError, match="does not match its card"):
        run_tiled_inference(TileRunner(WrongShape()), _image(40, 40), 2, 1, 64, 16)


def test_oom_resplits_tiles_and_result_is_unchanged() -> None:
    image = _image(130, 130)
    module = OomAbove(limit=40)
    runner = TileRunner(module)
    out = run_tiled_inference(runner, image, 2, 1, tile=96, overlap=16)
    full = TileRunner(BicubicUp(2))(image)
    assert np.abs(out - full).max() <= 1e-4 * float(full.max() - full.min())
    sizes = [max(c) for c in module.calls]
    # The first 73-px tile fails and is halved; later tiles go straight to sub-tiles of the
    # size learnt, so only one call was ever above the limit.
    assert sizes[0] == plan_tiles(130, 130, 96, 16)[0].box.height == 73
    assert sum(s > 40 for s in sizes) == 1 and len(sizes) > 4


def test_oom_at_smallest_tile_on_cpu_is_an_error() -> None:
    runner = TileRunner(OomAbove(limit=4))
    with pytest.raises(InferenceError, match="out of memory"):
        run_tiled_inference(runner, _image(64, 64), 2, 1, tile=64, overlap=16)


class _PretendCudaRunner(TileRunner):
    """Reports a CUDA device until it falls back (there is no GPU on the test machine)."""

    on_gpu = True

    @property
    def device(self) -> torch.device:
        return torch.device("cuda") if self.on_gpu else torch.device("cpu")

    def __call__(self, patch: np.ndarray) -> np.ndarray:
        if self.on_gpu:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().__call__(patch)

    def fall_back_to_cpu(self, reason: str) -> None:
        self.on_gpu = False
        super().fall_back_to_cpu(reason)


def test_oom_on_cuda_falls_back_to_cpu_with_a_visible_notice() -> None:
    hub = Notifier()
    seen = []
    hub.subscribe(seen.append)
    runner = _PretendCudaRunner(BicubicUp(2), "cpu", name="bicubic", notifier=hub)
    image = _image(64, 64)
    out = run_tiled_inference(runner, image, 2, 1, tile=64, overlap=16)
    np.testing.assert_allclose(out, TileRunner(BicubicUp(2))(image), atol=1e-5)
    assert runner.device.type == "cpu"
    assert len(seen) == 1 and seen[0].level == "warning" and "CPU" in seen[0].message


def test_blender_rejects_wrong_tile_shape() -> None:
    tiles = plan_tiles(32, 32, 32, 8)
    blender = TileBlender(1, 32, 32, 2, 8)
    with pytest.raises(ValueError):
        blender.add(tiles[0], np.zeros((1, 32, 32), np.float32))
