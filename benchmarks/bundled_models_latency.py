"""Benchmark: CPU latency of each bundled model for one 512 x 512 output slice.

The issue's target is <= 0.5 s for sr-x2 on CPU. Each model is loaded from its archive (as the
application does), warmed up (TorchScript profiles the first calls), then timed; prints a table
of the median and best of N runs. Not a test: timings depend on the machine and its load.

Usage: ``python benchmarks/bundled_models_latency.py [--repeat N] [--threads T]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from medsr_viewer.models.archive import load_model

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"


def main() -> int:
    """Time every bundled model and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--output-side", type=int, default=512)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, output "
          f"{args.output_side}x{args.output_side}, {args.repeat} runs")
    print(f"{'model':<18}{'input':>10}{'median s':>10}{'best s':>10}")
    for path in sorted(MODELS.glob("*.pt")):
        loaded = load_model(path)
        side = args.output_side // loaded.card.scale
        x = torch.rand(1, loaded.card.in_channels, side, side)
        times = []
        with torch.inference_mode():
            for _ in range(3):
                loaded.module(x)
            for _ in range(args.repeat):
                t = time.perf_counter()
                loaded.module(x)
                times.append(time.perf_counter() - t)
        print(f"{path.stem:<18}{f'{side}^2':>10}{np.median(times):>10.3f}{min(times):>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
