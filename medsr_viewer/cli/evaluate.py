"""``medsr eval sr|segment|enhance``: score a model file by the project's protocols.

``eval sr`` prints PSNR/SSIM per volume and overall for nearest, bilinear, bicubic, Lanczos and
the model; ``eval segment`` prints Dice, IoU and 95 % Hausdorff per image and overall;
``eval enhance`` prints PSNR/SSIM of the noisy input, the best Gaussian filter and the model.
``eval sr --paths`` scores each execution path instead (fp32, channels_last, bf16 ...: PSNR per
volume and its change against fp32; see :mod:`medsr_viewer.models.evaluation.paths`), and
``--write-card OUT`` stores which reduced precisions passed in a copy of the model's card.
``--json`` prints one JSON document instead of the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from medsr_viewer.cli.evaluate_through_plane import (
    add_through_plane_eval_options,
    run_through_plane_eval,
)
from medsr_viewer.cli.main import CliError

#: Help of every ``--model`` option: the same resolution as ``medsr sr|enhance|segment``.
MODEL_HELP = "model card name, file stem (bundled or user models folder) or file path"


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand with its ``sr``, ``segment`` and ``enhance`` tasks."""
    parser = subparsers.add_parser("eval", help="score a model against baselines")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")

    sr = tasks.add_parser("sr", help="super-resolution vs interpolation baselines")
    sr.add_argument("--model", metavar="NAME|PATH",
                    help=MODEL_HELP + " (required, except with --through-plane)")
    sr.add_argument("--data", nargs="+", required=True, help="HR volumes or folders of them")
    sr.add_argument("--slice-step", type=int, default=1,
                    help="evaluate every N-th slice (1: full protocol)")
    sr.add_argument("--json", action="store_true", help="machine-readable output")
    sr.add_argument("--detail", action="store_true",
                    help="also print each method's high-frequency ratio (Laplacian energy vs "
                         "HR; 1 = as detailed as the truth) and the share of anatomy pixels "
                         "whose added detail exceeds 3 noise sigmas (what a perceptual model "
                         "invents)")
    sr.add_argument("--figure", type=Path,
                    help="write a before/after PNG (HR | LR | bicubic | model) of the first volume")
    sr.add_argument("--figure-box", default="",
                    help="Z,Y,X,SIZE: slice and HR crop for --figure (default: centre of the "
                         "middle evaluated slice)")
    sr.add_argument("--paths", nargs="*", metavar="PATH",
                    help="score execution paths against fp32 instead of baselines (default: "
                         "fp32 fp32+channels_last bf16+channels_last; any of fp32|bf16|fp16 "
                         "with +channels_last, +compiled)")
    sr.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where --paths runs (default: cpu)")
    sr.add_argument("--write-card", type=Path, metavar="OUT",
                    help="with --paths: write the model with its card's execution block "
                         "(validated precisions: within 0.02 dB of fp32) to OUT (may be the "
                         "model file itself; safe-format models only)")
    add_through_plane_eval_options(sr)
    sr.set_defaults(func=run_sr)

    seg = tasks.add_parser("segment", help="Dice, IoU and HD95 on 2-D image/label pairs")
    seg.add_argument("--model", required=True, metavar="NAME|PATH", help=MODEL_HELP)
    seg.add_argument("--images", required=True, type=Path)
    seg.add_argument("--labels", required=True, type=Path)
    seg.add_argument("--only", nargs="+", help="evaluate only these image names (stems)")
    seg.add_argument("--json", action="store_true")
    seg.add_argument("--object-value", type=int, default=None,
                     help="instance models: stored label value of the objects (default: the "
                          "card's, else 255)")
    seg.set_defaults(func=run_segment)

    en = tasks.add_parser("enhance", help="denoising vs noisy input and Gaussian filter")
    en.add_argument("--model", required=True, metavar="NAME|PATH", help=MODEL_HELP)
    en.add_argument("--data", nargs="+", required=True)
    en.add_argument("--level", type=float, default=0.05, help="noise sigma / volume range")
    en.add_argument("--slice-step", type=int, default=1)
    en.add_argument("--json", action="store_true")
    en.set_defaults(func=run_enhance)

    from medsr_viewer.cli.classify import add_eval as add_eval_classify

    add_eval_classify(tasks)


def _load(spec: str, task: str | tuple[str, ...]) -> Any:
    """The model ``spec`` names (card name, file stem or path, as ``medsr sr`` takes it)."""
    from medsr_viewer.models.archive import load_model
    from medsr_viewer.models.card import CardError
    from medsr_viewer.models.registry import ModelRegistry

    try:
        path = ModelRegistry().resolve(spec)
        loaded = load_model(path)
    except CardError as exc:  # ModelRejected (no such name) is a CardError too
        raise CliError(str(exc)) from exc
    accepted = (task,) if isinstance(task, str) else task
    if loaded.card.task not in accepted:
        raise CliError(f"{path}: model task is {loaded.card.task!r}, not "
                       f"{' or '.join(repr(t) for t in accepted)}")
    return loaded


def _bounds_fn(card: Any) -> Any:
    from medsr_viewer.models.training.patches import percentile_bounds

    norm = card.normalisation
    if norm.mode == "percentile":
        return lambda vox: percentile_bounds(vox, norm.low, norm.high)
    if norm.mode == "window":
        return lambda vox: (norm.low, norm.high)
    return lambda vox: (0.0, 1.0)


def _volumes(paths: list[str]) -> list[Any]:
    from medsr_viewer.models.study_volumes import StudyError, find_volumes, load_study

    try:
        return [load_study(p) for p in find_volumes(paths)]
    except StudyError as exc:
        raise CliError(str(exc)) from exc


def _fmt(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}" if math.isfinite(v) else "inf"


def run_sr(args: argparse.Namespace) -> int:
    """Print the SR protocol table for a model on the given volumes."""
    from medsr_viewer.models.evaluation.sr import evaluate_sr_volume, model_upscaler, overall

    if args.through_plane:
        return run_through_plane_eval(args, _load, _volumes)
    if args.model is None:
        raise CliError("--model NAME|PATH is required (or --through-plane)")
    loaded = _load(args.model, "super_resolution")
    if args.paths is not None:
        return run_sr_paths(args, loaded)
    if args.write_card is not None:
        raise CliError("--write-card needs --paths (the measurements it records)")
    bounds = _bounds_fn(loaded.card)
    scale = loaded.card.scale
    tables = []
    for vol in _volumes(args.data):
        try:
            tables.append(evaluate_sr_volume(
                vol.name, vol.voxels, scale,
                lambda lr: model_upscaler(loaded.module, bounds(lr)),
                slice_step=args.slice_step, detail=args.detail))
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    if args.figure is not None:
        _sr_figure(args, loaded, bounds)
    rows = [(t.name, len(t.slices), t.methods) for t in tables]
    rows.append(("overall", sum(len(t.slices) for t in tables), overall(tables)))
    if args.json:
        print(json.dumps({
            "model": str(loaded.path), "scale": scale, "slice_step": args.slice_step,
            "volumes": {name: {"slices": n, **{m: _json_score(s, args.detail)
                                               for m, s in methods.items()}}
                        for name, n, methods in rows},
        }, indent=2))
        return 0
    methods = list(rows[0][2])
    print(f"SR x{scale} {loaded.card.name}: PSNR dB / SSIM (protocol: README)")
    print(f"{'volume':<16}{'slices':>7}" + "".join(f"{m:>18}" for m in methods))
    for name, n, scores in rows:
        cells = "".join(f"{_fmt(scores[m].psnr):>10} / {scores[m].ssim:.4f}" for m in methods)
        print(f"{name:<16}{n:>7}{cells}")
    if args.detail:
        print("high-frequency ratio (1 = as much pixel-scale detail as HR) / "
              "anatomy pixels with added detail > 3 sigma")
        for name, n, scores in rows:
            cells = "".join(f"{_fmt(scores[m].hf_ratio, 3):>10} / {100 * scores[m].flagged:5.2f}%"
                            for m in methods)
            print(f"{name:<16}{n:>7}{cells}")
    return 0


def _json_score(score: Any, detail: bool) -> dict[str, float]:
    """One method's scores for ``--json`` (with ``--detail``: its two detail measures)."""
    out = {"psnr": score.psnr, "ssim": score.ssim}
    if detail:
        out.update(hf_ratio=score.hf_ratio, flagged_share=score.flagged)
    return out


def run_sr_paths(args: argparse.Namespace, loaded: Any) -> int:
    """Print (or write to the card) each execution path's PSNR against fp32."""
    from dataclasses import replace

    from medsr_viewer.models.archive import runs_code, save_model
    from medsr_viewer.models.cpu_features import detect_cpu
    from medsr_viewer.models.device import DeviceError, select_device
    from medsr_viewer.models.evaluation.paths import evaluate_paths, execution_block, validated
    from medsr_viewer.models.execution import (
        MEASURED_PATHS,
        ExecutionError,
        choose_plan,
        parse_path,
    )

    card = loaded.card
    paths = list(args.paths) or list(MEASURED_PATHS)
    try:
        device = select_device(args.device)
        for path in paths:
            parse_path(path)
    except (DeviceError, ExecutionError) as exc:
        raise CliError(str(exc)) from exc
    if args.write_card is not None and runs_code(loaded.path):
        raise CliError(f"{loaded.path}: --write-card writes safe-format (.safetensors) models only")
    volumes = [(v.name, v.voxels) for v in _volumes(args.data)]
    machine = detect_cpu().describe() if device.type == "cpu" else torch_device_name(device)
    print(f"SR x{card.scale} {card.name}: execution paths on {machine}", file=sys.stderr)
    try:
        scores = evaluate_paths(
            loaded.module, card, volumes, _bounds_fn(card), paths, device.type,
            args.slice_step, loaded.sha256,
            progress=lambda name: print(f"  running {name} ...", file=sys.stderr))
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from exc
    reference = scores[0]
    passed = validated(scores)
    plan = choose_plan(card, device, loaded.module, request="auto")
    if args.json:
        print(json.dumps({
            "model": str(loaded.path), "device": device.type, "machine": machine,
            "slice_step": args.slice_step, "card_validated": list(card.validated_precisions),
            "validated_now": list(passed), "plan": plan.name,
            "paths": {s.name: {"volumes": {v: {"psnr": m.psnr, "ssim": m.ssim,
                                               "delta_db": s.delta(reference, v)}
                                           for v, m in s.volumes.items()},
                               "max_abs_diff": s.max_abs_diff, "seconds": s.seconds}
                      for s in scores},
        }, indent=2))
    else:
        names = list(reference.volumes)
        print(f"SR x{card.scale} {card.name}: model PSNR dB per execution path (change vs fp32)")
        print(f"{'path':<28}" + "".join(f"{n:>22}" for n in names)
              + f"{'max|diff|':>11}{'model s':>9}")
        for s in scores:
            cells = "".join(f"{s.volumes[n].psnr:>11.4f} ({s.delta(reference, n):+.4f})"
                            for n in names)
            print(f"{s.name:<28}{cells}{s.max_abs_diff:>11.2g}{s.seconds:>9.1f}")
        print(f"within 0.02 dB of fp32: {', '.join(passed) or 'no reduced precision'}; card "
              f"validates: {', '.join(card.validated_precisions) or 'none'}; this machine's "
              f"plan: {plan.name}")
    if args.write_card is not None:
        data = [name for name, _ in volumes]
        block = execution_block(card, scores, data, args.slice_step, machine)
        written = save_model(loaded.module, replace(card, execution=block), args.write_card)
        print(f"wrote {args.write_card}: validated_precisions = "
              f"{written.validated_precisions}", file=sys.stderr)
    return 0


def torch_device_name(device: Any) -> str:
    """The GPU's name (``cuda``: torch's device name)."""
    import torch

    return str(torch.cuda.get_device_name(device))


def _sr_figure(args: argparse.Namespace, loaded: Any, bounds: Any) -> None:
    """Before/after picture of one HR crop (see :mod:`medsr_viewer.models.evaluation.figure`)."""
    import numpy as np

    from medsr_viewer.core.degrade import block_mean_downsample, crop_to_multiple
    from medsr_viewer.core.metrics.image_quality import psnr
    from medsr_viewer.models.evaluation.figure import comparison_figure
    from medsr_viewer.models.evaluation.sr import (
        evaluated_slices,
        interpolate_stack,
        model_upscaler,
    )

    s = loaded.card.scale
    vol = _volumes(args.data)[0]
    hr = crop_to_multiple(vol.voxels.astype(np.float64), s)
    lr = block_mean_downsample(hr, s)
    if args.figure_box:
        try:
            z, y, x, size = (int(v) for v in args.figure_box.split(","))
        except ValueError as exc:
            raise CliError(f"--figure-box {args.figure_box!r} is not Z,Y,X,SIZE") from exc
    else:
        zs = evaluated_slices(hr)
        z = zs[len(zs) // 2]
        size = min(hr.shape[1], hr.shape[2], 128) // s * s
        y, x = (hr.shape[1] - size) // 2 // s * s, (hr.shape[2] - size) // 2 // s * s
    if not (0 <= z < hr.shape[0] and y % s == 0 and x % s == 0 and size % s == 0
            and y + size <= hr.shape[1] and x + size <= hr.shape[2]):
        raise CliError(f"--figure-box must lie inside the volume on multiples of {s}")
    rng = float(hr.max() - hr.min())
    box = (slice(y, y + size), slice(x, x + size))
    lr_plane = lr[z : z + 1]
    outs = {
        "nearest": interpolate_stack(lr_plane, s, "nearest")[0][box],
        "bicubic": interpolate_stack(lr_plane, s, "bicubic")[0][box],
        "model": model_upscaler(loaded.module, bounds(lr))(lr_plane, s)[0][box],
    }
    ref = hr[z][box]
    panels = [("original (HR)", ref), (f"LR x{s} (block mean)", outs["nearest"])]
    for key, label in (("bicubic", "bicubic"), ("model", loaded.card.name)):
        panels.append((f"{label} {psnr(ref, outs[key], rng):.1f} dB", outs[key]))
    comparison_figure(panels, args.figure)
    print(f"wrote {args.figure} ({vol.name}, slice {z}, box y {y} x {x} size {size})",
          file=sys.stderr)


def run_segment(args: argparse.Namespace) -> int:
    """Print Dice, IoU and HD95 of each foreground label per image and overall."""
    from medsr_viewer.models.evaluation.segmentation import (
        map_labels,
        mean_score,
        predict_labels,
        score_masks,
    )
    from medsr_viewer.models.study_volumes import StudyError, load_image_pairs

    loaded = _load(args.model, ("segment", "segment_instances"))
    card = loaded.card
    bounds = _bounds_fn(card)
    mapping = {int(k): int(v) for k, v in card.training.get("label_mapping", {}).items()}
    try:
        pairs = load_image_pairs(args.images, args.labels)
    except StudyError as exc:
        raise CliError(str(exc)) from exc
    if args.only:
        pairs = [p for p in pairs if p[0] in set(args.only)]
        if not pairs:
            raise CliError(f"none of {', '.join(args.only)} found in {args.images}")
    if card.task == "segment_instances":
        from medsr_viewer.cli.eval_instances import run_instances

        return run_instances(args, loaded, pairs, bounds)
    targets = [lab for lab in card.labels if lab.value != 0] or []
    if not targets:
        raise CliError(f"{args.model}: card lists no foreground label to score")
    result: dict[str, Any] = {}
    for lab in targets:
        scores = []
        for name, image, label in pairs:
            ref = map_labels(label, mapping)
            pred = predict_labels(loaded.module, image, bounds(image))
            scores.append(score_masks(name, ref, pred, lab.value))
        scores.append(mean_score(scores))
        result[lab.name] = scores
    if args.json:
        print(json.dumps({name: {s.name: {"dice": s.dice, "iou": s.iou, "hd95_px": s.hd95}
                                 for s in scores} for name, scores in result.items()}, indent=2))
        return 0
    for name, scores in result.items():
        print(f"label {name}: Dice, IoU, 95% Hausdorff (pixels)")
        print(f"{'image':<12}{'dice':>8}{'iou':>8}{'hd95':>8}")
        for s in scores:
            print(f"{s.name:<12}{s.dice:>8.4f}{s.iou:>8.4f}{_fmt(s.hd95):>8}")
    return 0


def run_enhance(args: argparse.Namespace) -> int:
    """Print PSNR/SSIM of noisy, best Gaussian filter and model per volume."""
    from medsr_viewer.models.evaluation.denoise import evaluate_denoise_volume, model_denoiser

    loaded = _load(args.model, "enhance")
    factory = model_denoiser(loaded.module, _bounds_fn(loaded.card))
    results = [evaluate_denoise_volume(v.name, v.voxels, v.modality, args.level, factory,
                                       args.slice_step) for v in _volumes(args.data)]
    if args.json:
        print(json.dumps({r.name: {"noise": r.noise, "sigma": r.sigma, "slices": len(r.slices),
                                   "gaussian_sigma_px": r.gaussian_sigma,
                                   "psnr": r.psnr, "ssim": r.ssim} for r in results}, indent=2))
        return 0
    print(f"denoise {loaded.card.name} at sigma = {args.level:g} x range: PSNR dB / SSIM")
    print(f"{'volume':<16}{'noise':>9}" + "".join(f"{m:>18}" for m in ("noisy", "gaussian", "model")))
    for r in results:
        cells = "".join(f"{r.psnr[m]:>10.2f} / {r.ssim[m]:.4f}" for m in ("noisy", "gaussian", "model"))
        print(f"{r.name:<16}{r.noise:>9}{cells}")
    return 0
