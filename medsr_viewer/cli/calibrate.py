"""``medsr calibrate --model M --data CAL... --test HELD... --out OUT``: calibrated SR intervals.

Runs the SR model with its 8 test-time augmentations on the protocol slices of the
calibration volumes (HR real slices, LR their block means), compares the spread heuristics of
:mod:`medsr_viewer.models.uncertainty`, and calibrates the narrowest one by conformal risk
control (:mod:`medsr_viewer.models.calibration`) so that at most ``alpha`` of the anatomy
pixels fall outside. The held-out ``--test`` volumes (never used for calibration) give the
coverage and width the card reports, beside the best constant-width interval. The model is
written to OUT (the safe format) with the result in its card's ``calibration`` block; the
input file is never changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError


def register(subparsers: Any) -> None:
    """Add the ``calibrate`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate per-pixel intervals of an SR model (conformal risk control)",
        description="Calibrate an SR model's per-pixel intervals on held-out volumes and "
        "write the model with the calibration in its card.",
    )
    parser.add_argument("--model", required=True, help="SR model name or file")
    parser.add_argument("--data", nargs="+", required=True, help="calibration HR volumes")
    parser.add_argument("--test", nargs="*", default=[],
                        help="held-out HR volumes for the reported coverage (never calibrated)")
    parser.add_argument("--alpha", type=float, default=0.1, help="miscoverage (0.1: 90 %%)")
    parser.add_argument("--slice-step", type=int, default=1, help="use every N-th slice")
    parser.add_argument("--out", type=Path, help="write the calibrated model here")
    parser.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    parser.add_argument("--json", action="store_true", help="print the calibration as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Calibrate, report, write; user errors raise :class:`CliError`."""
    import numpy as np

    from medsr_viewer.models.archive import runs_code, save_model
    from medsr_viewer.models.calibration import (
        CalibrationError,
        calibrate,
        collect_samples,
        evaluation_block,
    )
    from medsr_viewer.models.card import CardError
    from medsr_viewer.models.evaluation.sr import model_upscaler
    from medsr_viewer.models.registry import ModelRegistry, ModelRejected
    from medsr_viewer.models.study_volumes import StudyError, load_study
    from medsr_viewer.models.training.patches import percentile_bounds

    if args.out is not None and args.out.exists() and not args.force:
        raise CliError(f"{args.out}: exists (use --force to overwrite)")
    try:
        loaded = ModelRegistry().load(args.model, task="super_resolution")
    except ModelRejected as exc:
        raise CliError(str(exc)) from exc
    if args.out is not None and args.out.resolve() == loaded.path.resolve():
        raise CliError(f"{args.out}: is the input model; write the calibrated model elsewhere")
    card, module = loaded.card, loaded.module
    norm = card.normalisation

    def factory(lr: np.ndarray) -> Any:
        # The evaluation protocol's upscaler (card percentiles of the whole LR volume).
        stack = model_upscaler(module, percentile_bounds(lr, norm.low, norm.high))
        return lambda plane: stack(plane[None], card.scale)[0]

    def samples(paths: list[str], role: str) -> list[Any]:
        found = []
        for path in paths:
            try:
                study = load_study(path)
            except StudyError as exc:
                raise CliError(str(exc)) from exc
            print(f"{role}: {study.name}", file=sys.stderr, flush=True)
            found += collect_samples(study.name, study.voxels, card.scale, factory,
                                     slice_step=args.slice_step)
        return found

    cal = samples(args.data, "calibrating on")
    held = samples(args.test, "testing on")
    overlap = {s.volume for s in cal} & {s.volume for s in held}
    if overlap:
        raise CliError(f"volumes used both to calibrate and to test: {', '.join(sorted(overlap))}")
    try:
        block = calibrate(cal, args.alpha)
    except CalibrationError as exc:
        raise CliError(str(exc)) from exc
    if held:
        block["held_out"] = evaluation_block(held, block["spread"], block["factor"],
                                             block["level"])
    block["command"] = "medsr " + " ".join(sys.argv[1:])
    if args.json:
        print(json.dumps(block, indent=2))
    else:
        _print_table(block)
    if args.out is not None:
        if runs_code(loaded.path):
            raise CliError(f"{loaded.path}: calibrated models are written in the safe format; "
                           "this TorchScript/torch.export file cannot be re-saved (use --json)")
        try:
            save_model(module, replace(card, calibration=block), args.out)
        except CardError as exc:
            raise CliError(str(exc)) from exc
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _print_table(block: dict[str, Any]) -> None:
    print(f"calibrated {block['level']:.0%} intervals: SR +- {block['factor']:.4g} x "
          f"{block['spread']} ({block['calibration_slices']} slices of "
          f"{', '.join(block['calibration_data'])})")
    print(f"{'spread':<14}{'factor':>10}{'coverage':>10}{'width':>10}{'constant':>10}")
    for name, row in block["spreads_compared"].items():
        if "error" in row:
            print(f"{name:<14}  {row['error']}")
            continue
        print(f"{name:<14}{row['factor']:>10.4g}{row['coverage']:>10.4f}"
              f"{row['mean_width']:>10.4g}{row['constant_width_at_level']:>10.4g}")
    for name, row in block.get("held_out", {}).items():
        print(f"held out {name}: coverage {row['coverage']:.4f}, mean width "
              f"{row['mean_width']:.4g} (best constant width {row['constant_width_at_level']:.4g})")
