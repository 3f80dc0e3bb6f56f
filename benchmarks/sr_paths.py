"""Benchmark: each execution path of an SR model, against the conv peaks measured in the same run.

Paths (:mod:`medsr_viewer.models.execution`): fp32 NCHW (today's calls), fp32 channels_last,
bf16 autocast + channels_last (run even where the CPU has no native bf16: it is then slow, and
the table says so), and with ``--compile`` the same through ``torch.compile`` (freezing, cache
on disk). Each at 256^2 and 512^2 input slices, through the engine (tiles of the plan's size,
blended) and as bare whole-slice calls. Reported per row:

- seconds: median of ``--rounds`` rounds, every row timed once per round (interleaved, so a
  change in machine load hits all rows alike), after a warm-up call;
- GFLOP/s: convolution FLOPs actually computed (``torch.utils.flop_counter.FlopCounterMode``;
  the engine's count includes the tiles' overlap) per second, and that as a share of the peak
  of the same precision: a large 3x3 convolution (64 -> 64 channels, 256^2, channels_last)
  timed in fp32 and bf16 in every round;
- speed-up against fp32 NCHW of the same size and mode, max |difference| from it in the
  model's [0, 1] units, and PSNR on a held-out slice (``chris_t1``, the middle evaluated slice,
  by the SR protocol: LR = 2x2 block mean of the HR slice, the card's percentiles of the LR
  volume, PSNR against HR with range = volume max - min and a 2s border).

On CUDA (when a GPU is present) the same paths with fp16/bf16 run after the CPU table; without
one, one line says so. Not a test: numbers depend on the machine and its load (run it under
``flock /tmp/medsr-bench.lock`` on a shared machine).

Usage: ``python benchmarks/sr_paths.py [--model sr-x2] [--rounds 3] [--sizes 256 512]
[--compile] [--paths fp32 ...]``
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from medsr_viewer.core.degrade import block_mean_downsample, crop_to_multiple
from medsr_viewer.core.metrics.image_quality import crop_border, psnr
from medsr_viewer.models.archive import LoadedModel, load_model
from medsr_viewer.models.cpu_features import detect_cpu
from medsr_viewer.models.device import configure_cpu_threads
from medsr_viewer.models.evaluation.sr import evaluated_slices
from medsr_viewer.models.execution import (
    MEASURED_PATHS,
    ExecutionPlan,
    PlannedModel,
    measurement_plan,
)
from medsr_viewer.models.execution import run as run_planned
from medsr_viewer.models.inference import TileRunner, run_tiled_inference
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.tiling import plan_tiles
from medsr_viewer.models.training.patches import percentile_bounds

DATA = Path(os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
#: The large convolution timed for the peaks: (batch, channels, side).
PEAK_CONV = (1, 64, 256)


@dataclass
class Variant:
    """One path's two ways of running: bare whole-slice calls and the tiled engine."""

    plan: ExecutionPlan
    bare: PlannedModel
    runner: TileRunner
    tile: int
    scale: int
    out_channels: int
    overlap: int

    def run(self, image: np.ndarray, mode: str) -> np.ndarray:
        """The model's output ``(C, sH, sW)`` for a ``(H, W)`` image in ``mode``."""
        if mode == "bare":
            return self.bare(torch.from_numpy(image)[None, None])[0].numpy()
        return run_tiled_inference(self.runner, image[None], self.scale, self.out_channels,
                                   self.tile, self.overlap)


@dataclass
class Row:
    """One timed variant: a path at one size in one mode (``engine`` or ``bare``)."""

    size: int
    mode: str
    variant: Variant
    image: np.ndarray
    flops: float
    times: list[float] = field(default_factory=list)
    output: np.ndarray | None = None
    psnr: float = float("nan")

    @property
    def plan(self) -> ExecutionPlan:
        """The row's plan."""
        return self.variant.plan

    def call(self) -> np.ndarray:
        """One timed call."""
        return self.variant.run(self.image, self.mode)

    @property
    def seconds(self) -> float:
        """Median of the timed rounds."""
        return statistics.median(self.times)


def benchmark_images(sizes: list[int]) -> dict[int, np.ndarray]:
    """Real slices in ``[0, 1]`` of each side: the middle of the 120-slice 512^2 T1 series,
    block-mean downsampled for smaller sides (a smooth random image without the data)."""
    series = DATA / "dicom" / "vs_seg_001_t1"
    if series.is_dir():
        from medsr_viewer.models.study_volumes import load_study

        voxels = load_study(series).voxels
        plane = np.asarray(voxels[voxels.shape[0] // 2], dtype=np.float64)
        lo, hi = percentile_bounds(voxels, 0.0, 99.9)
        plane = (plane - lo) / (hi - lo)
    else:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[:512, :512]
        plane = 0.5 + 0.3 * np.sin(x / 17) * np.cos(y / 23) + 0.05 * rng.random((512, 512))
    out = {}
    for side in sizes:
        factor = max(1, plane.shape[0] // side)
        small = block_mean_downsample(crop_to_multiple(plane[None], factor), factor)[0]
        out[side] = np.ascontiguousarray(small[:side, :side], dtype=np.float32)
    return out


def held_out_slice(loaded: LoadedModel) -> tuple[np.ndarray, np.ndarray, float] | None:
    """``(LR in model units, HR, data range)`` of the held-out slice, or ``None`` without data."""
    path = DATA / "mri_ct" / "chris_t1.nii.gz"
    if not path.is_file():
        return None
    from medsr_viewer.models.study_volumes import load_study

    s = loaded.card.scale
    hr = crop_to_multiple(load_study(path).voxels.astype(np.float64), s)
    lr = block_mean_downsample(hr, s)
    norm = loaded.card.normalisation
    lo, hi = percentile_bounds(lr, norm.low, norm.high)
    zs = evaluated_slices(hr)
    z = zs[len(zs) // 2]
    model_lr = ((lr[z] - lo) / (hi - lo)).astype(np.float32)
    return model_lr, (hr[z] - lo) / (hi - lo), float(hr.max() - hr.min()) / (hi - lo)


def conv_flops(module: Callable[[torch.Tensor], object], h: int, w: int) -> float:
    """Convolution FLOPs of one ``(1, 1, h, w)`` call."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(torch.zeros(1, 1, h, w))
    return float(counter.get_total_flops())


def engine_flops(module: torch.nn.Module, side: int, tile: int, overlap: int) -> float:
    """FLOPs the engine computes for a ``side^2`` slice: every tile, overlap included."""
    overlap = min(overlap, max(0, tile // 2 - 1))
    cache: dict[tuple[int, int], float] = {}
    total = 0.0
    for t in plan_tiles(side, side, tile, overlap):
        shape = (t.box.height, t.box.width)
        if shape not in cache:
            cache[shape] = conv_flops(module, *shape)
        total += cache[shape]
    return total


def peak_calls() -> dict[str, Callable[[], object]]:
    """The peak convolution in fp32 and bf16 (channels_last both)."""
    n, c, side = PEAK_CONV
    conv = torch.nn.Conv2d(c, c, 3, padding=1).to(
        memory_format=torch.channels_last)  # type: ignore[call-overload]
    x = torch.rand(n, c, side, side).contiguous(memory_format=torch.channels_last)

    def fp32() -> object:
        with torch.inference_mode():
            return conv(x)

    def bf16() -> object:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return conv(x)

    return {"fp32": fp32, "bf16": bf16}


def build_rows(loaded: LoadedModel, paths: list[str], images: dict[int, np.ndarray],
               device: str) -> list[Row]:
    """Every (size, mode, path) variant, ready to time."""
    card = loaded.card
    base = loaded.module.cpu()
    rows = []
    for path in paths:
        plan = measurement_plan(path, card, device, base, model_sha256=loaded.sha256)
        runner = TileRunner(copy.deepcopy(base).to(device), device, name=card.name,
                            timeout_s=3600, plan=plan)
        tile = plan.tile or card.tile_size
        variant = Variant(plan, PlannedModel(base, plan), runner, tile, card.scale,
                          card.out_channels, card.tile_overlap)
        for side, image in images.items():
            rows.append(Row(side, "engine", variant, image,
                            engine_flops(base, side, tile, card.tile_overlap)))
            rows.append(Row(side, "bare", variant, image, conv_flops(base, side, side)))
    return rows


def score_rows(rows: list[Row], held: tuple[np.ndarray, np.ndarray, float] | None,
               scale: int) -> None:
    """PSNR of each row's path and mode on the held-out slice (one value per path and mode)."""
    if held is None:
        return
    lr, hr, data_range = held
    border = 2 * scale
    done: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row.plan.name, row.mode)
        if key not in done:
            sr = row.variant.run(lr, row.mode)[0].astype(np.float64)
            done[key] = psnr(crop_border(hr[None], border)[0], crop_border(sr[None], border)[0],
                             data_range)
        row.psnr = done[key]


def warm_up_engine(row: Row) -> None:
    """Compile a compiled engine's tile shapes in this thread (the engine calls the model in
    a worker thread, where dynamo's recompile limit stays at its default)."""
    variant = row.variant
    overlap = min(variant.overlap, max(0, variant.tile // 2 - 1))
    shapes = {(t.box.height, t.box.width) for t in plan_tiles(row.size, row.size,
                                                              variant.tile, overlap)}
    with torch.inference_mode():
        for h, w in shapes:
            # built as TileRunner builds its input: dynamo guards on the strides too
            x = torch.from_numpy(np.zeros((1, h, w), dtype=np.float32))[None]
            run_planned(variant.runner.module, x, variant.plan, torch.device(variant.plan.device))


def run_rounds(rows: list[Row], peaks: dict[str, Callable[[], object]], rounds: int
               ) -> dict[str, list[float]]:
    """Warm up, then time every row and peak once per round; returns the peaks' times."""
    peak_times: dict[str, list[float]] = {k: [] for k in peaks}
    for fn in peaks.values():
        fn()
    for row in rows:
        start = time.perf_counter()
        if row.plan.compiled and row.mode == "engine":
            warm_up_engine(row)
        row.output = row.call()
        warm = time.perf_counter() - start
        if row.plan.compiled:
            print(f"  first call (compile) {row.plan.name} {row.mode} {row.size}: {warm:.1f} s",
                  file=sys.stderr)
    for r in range(rounds):
        for name, fn in peaks.items():
            start = time.perf_counter()
            fn()
            peak_times[name].append(time.perf_counter() - start)
        for row in rows:
            start = time.perf_counter()
            row.call()
            row.times.append(time.perf_counter() - start)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr)
    return peak_times


def print_table(rows: list[Row], peaks: dict[str, float]) -> None:
    """The results table (Markdown, for README)."""
    print("| input | mode | path | tile | s (median) | GFLOP/s | % of peak | speed-up | "
          "max abs diff | PSNR dB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        ref = next(r for r in rows if r.size == row.size and r.mode == row.mode
                   and r.plan.name == "fp32")
        rate = row.flops / row.seconds / 1e9
        peak = peaks["bf16" if row.plan.precision == "bf16" else "fp32"]
        assert row.output is not None and ref.output is not None
        diff = float(np.abs(row.output - ref.output).max())
        tile = min(row.variant.tile, row.size) if row.mode == "engine" else row.size
        print(f"| {row.size}² | {row.mode} | {row.plan.name} | {tile} | {row.seconds:.3f} | "
              f"{rate:.0f} | {100 * rate / peak:.0f} % | {ref.seconds / row.seconds:.2f}× | "
              f"{diff:.1e} | {row.psnr:.3f} |")


def bench(loaded: LoadedModel, paths: list[str], sizes: list[int], rounds: int,
          device: str) -> None:
    """Build, time and print one device's table."""
    images = benchmark_images(sizes)
    rows = build_rows(loaded, paths, images, device)
    score_rows(rows, held_out_slice(loaded), loaded.card.scale)
    peaks = peak_calls() if device == "cpu" else {}
    peak_times = run_rounds(rows, peaks, rounds)
    n, c, side = PEAK_CONV
    peak_flops = 2.0 * n * c * c * 9 * side * side
    rates = {k: peak_flops / statistics.median(v) / 1e9 for k, v in peak_times.items()}
    if not rates:
        rates = {"fp32": float("nan"), "bf16": float("nan")}
    macs = conv_flops(loaded.module.cpu(), 64, 64) / 2 / (64 * 64)
    print(f"\n{loaded.card.name} on {device}: {macs:,.0f} MAC per input pixel; peak conv "
          f"({c}->{c} 3x3, {side}², channels_last) fp32 {rates['fp32']:.0f} GFLOP/s, "
          f"bf16 {rates['bf16']:.0f} GFLOP/s; median of {rounds} interleaved rounds")
    print_table(rows, rates)


def main() -> int:
    """Parse options, print the machine, run the CPU table (and CUDA's when present)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sr-x2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--paths", nargs="+", default=None,
                        help=f"paths to time (default: {' '.join(MEASURED_PATHS)})")
    parser.add_argument("--compile", action="store_true",
                        help="also time the +compiled variants (compiles per shape, minutes)")
    args = parser.parse_args()
    paths = list(args.paths or MEASURED_PATHS)
    if args.compile:
        paths += [f"{p}+compiled" for p in paths if p != "fp32" and "compiled" not in p]
        # Every compiled variant and shape here shares EDSR's forward: past dynamo's default
        # of 8 recompilations it would silently run the rest eagerly. The setting holds in
        # this (main) thread only, so compiled engines are warmed up here (warm_up_engine).
        torch._dynamo.config.recompile_limit = 64
    threads = configure_cpu_threads()
    cpu = detect_cpu()
    loaded = load_model(ModelRegistry().resolve(args.model))
    print(f"torch {torch.__version__}, {threads} threads; {cpu.describe()}")
    if not cpu.native_bf16:
        print("this CPU has no AVX512_BF16/AMX: bf16 is emulated by oneDNN (conversions around "
              "fp32 arithmetic), so bf16 paths are slower than fp32 here and never chosen")
    bench(loaded, paths, args.sizes, args.rounds, "cpu")
    if torch.cuda.is_available():
        gpu_paths = ["fp32", "fp32+channels_last", "fp16+channels_last"]
        if torch.cuda.is_bf16_supported():
            gpu_paths.append("bf16+channels_last")
        bench(loaded, gpu_paths, args.sizes, args.rounds, "cuda")
    else:
        print("\nno CUDA GPU on this machine: GPU paths (fp16/bf16, pinned non-blocking copies) "
              "not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
