"""``medsr eval sr --through-plane``: the through-plane protocol table (README, model card).

For each HR volume and factor: linear and cubic B-spline baselines and the model (bundled
weights, or adapted to each LR study for ``--adapt-minutes`` / ``--adapt-steps``), PSNR and
SSIM under :mod:`medsr_viewer.models.evaluation.through_plane`, the gain over cubic and the
seconds each method took. ``--subset`` scores the card's quick subset (central 64 px).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from medsr_viewer.cli.main import CliError


def add_through_plane_eval_options(parser: argparse.ArgumentParser) -> None:
    """The through-plane options of ``medsr eval sr``."""
    group = parser.add_argument_group("through-plane protocol")
    group.add_argument("--through-plane", action="store_true",
                       help="score through-plane SR (block means of s slices)")
    group.add_argument("--factor", type=int, nargs="+", default=[2, 4], metavar="S",
                       help="slice factors to score (default: 2 4)")
    group.add_argument("--adapt-minutes", type=float, default=0.0, metavar="M",
                       help="adapt to each LR study for M minutes first (default 0)")
    group.add_argument("--adapt-steps", type=int, default=None, metavar="N",
                       help="cap the adaptation at N steps (reproducible)")
    group.add_argument("--subset", action="store_true",
                       help="score the central 64 px of each volume (the card's quick subset)")


def run_through_plane_eval(args: argparse.Namespace, load: Callable[[str, str], Any],
                           volumes: Callable[[list[str]], list[Any]]) -> int:
    """Print (or ``--json``) the through-plane table."""
    from medsr_viewer.cli.through_plane import DEFAULT_MODEL
    from medsr_viewer.models.evaluation.through_plane import (
        evaluate_volumes,
        scores_dict,
        subset_of,
    )

    if any(f < 2 for f in args.factor):
        raise CliError(f"--factor {args.factor}: integer factors of at least 2")
    loaded = load(args.model or DEFAULT_MODEL, "through_plane_sr")
    data = volumes(args.data)
    if args.subset:
        data = [subset_of(v) for v in data]
    try:
        tables = evaluate_volumes(data, loaded.module, loaded.card.normalisation,
                                  tuple(args.factor), args.adapt_minutes, args.adapt_steps)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    scores = scores_dict(tables)
    if args.json:
        print(json.dumps({"model": loaded.card.name, "sha256": loaded.card.sha256,
                          "adapt_minutes": args.adapt_minutes, "adapt_steps": args.adapt_steps,
                          "scores": scores}, indent=2))
        return 0
    print(f"through-plane protocol, model {loaded.card.name} "
          f"(adaptation: {args.adapt_minutes:g} min"
          + (f", at most {args.adapt_steps} steps" if args.adapt_steps is not None else "") + ")")
    header = (f"{'volume':<28} {'s':>2} {'axis':>4} {'slices':>6} {'method':<7} "
              f"{'PSNR dB':>8} {'SSIM':>7} {'seconds':>8}")
    print(header)
    print("-" * len(header))
    for key, entry in scores.items():
        name = key.rsplit(" x", 1)[0]
        for method in ("linear", "cubic", "model"):
            m = entry[method]
            print(f"{name[:28]:<28} {entry['factor']:>2} {entry['axis']:>4} "
                  f"{entry['slices']:>6} {method:<7} {m['psnr']:>8.3f} {m['ssim']:>7.4f} "
                  f"{m['seconds']:>8.1f}")
        print(f"{'':<28} {'':>2} {'':>4} {'':>6} {'gain':<7} "
              f"{entry['gain_over_cubic_db']:>+8.3f} "
              f"{entry['model']['ssim'] - entry['cubic']['ssim']:>+7.4f}")
    return 0
