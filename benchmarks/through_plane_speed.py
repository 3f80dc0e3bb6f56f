"""Benchmark: through-plane SR of a 150 x 256 x 256 output volume on this machine's CPU.

The issue's target is <= 5 minutes on 2 CPU cores, adaptation included. A real 1 mm volume
(default: FreeSurfer's ``norm.mgz`` of the shared data) is cut to 150 slices and averaged in
blocks of 3 (a 3 mm study), then made isotropic again by the bundled ``sr-through-plane``
model: once with the bundled weights, once after the default adaptation budget, beside the
cubic B-spline baseline of the same grid. Prints seconds per stage and the ratio to the
baseline. Not a test: times depend on the machine and its load (run it on a quiet machine).

Usage: ``python benchmarks/through_plane_speed.py [--volume PATH] [--adapt-minutes M]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from medsr_viewer.core.slice_profile import block_mean, fine_positions, interpolate_along
from medsr_viewer.models.evaluation.through_plane import time_isotropic_run
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.study_volumes import load_study
from medsr_viewer.models.through_plane.adapt import DEFAULT_ADAPT_MINUTES

DATA = Path(os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> int:
    """Time the stages and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=Path,
                        default=DATA / "labelled" / "freesurfer_subject" / "norm.mgz")
    parser.add_argument("--model", default="sr-through-plane")
    parser.add_argument("--adapt-minutes", type=float, default=DEFAULT_ADAPT_MINUTES)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    volume = load_study(args.volume)
    loaded = ModelRegistry().load(args.model, task="through_plane_sr")
    start = max(0, (volume.voxels.shape[0] - 150) // 2)
    lr = block_mean(volume.voxels[start : start + 150], 0, 3)
    t = time.perf_counter()
    interpolate_along(lr, 0, fine_positions(lr.shape[0], 150), order=3)
    cubic = time.perf_counter() - t
    bundled = time_isotropic_run(loaded.module, loaded.card.normalisation, volume,
                                 adapt_minutes=0.0)
    adapted = time_isotropic_run(loaded.module, loaded.card.normalisation, volume,
                                 adapt_minutes=args.adapt_minutes)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {volume.name}: "
          f"{'x'.join(map(str, bundled['input_shape_zyx']))} -> "
          f"{'x'.join(map(str, bundled['output_shape_zyx']))}")
    print(f"{'method':<28}{'adapt s':>9}{'refine s':>10}{'total s':>9}{'x cubic':>9}")
    print(f"{'cubic B-spline':<28}{0:>9.1f}{cubic:>10.2f}{cubic:>9.2f}{1:>9.0f}")
    for name, row in (("model, bundled weights", bundled),
                      (f"model, {args.adapt_minutes:g} min adaptation", adapted)):
        print(f"{name:<28}{row['adapt_s']:>9.1f}{row['refine_s']:>10.1f}{row['total_s']:>9.1f}"
              f"{row['total_s'] / cubic:>9.0f}")
    print(f"adaptation steps: {adapted['adapt_steps']}; target: total <= 300 s on 2 cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
