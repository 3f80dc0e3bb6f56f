"""``medsr train sr|enhance|segment|segment-volumes``: train a model on real data and export it with its card."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.cli.train_instances import register_instances
from medsr_viewer.models.card import WEIGHT_DTYPES


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand and its three tasks."""
    parser = subparsers.add_parser("train", help="train a model and export it with its card")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")

    def common(p: argparse.ArgumentParser, steps: int, batch: int, patch: int, lr: float) -> None:
        p.add_argument("--out", required=True, type=Path, help="model file to write (.safetensors: card + weights, cannot run code)")
        p.add_argument("--name", help="model name in the card (default: the file stem)")
        p.add_argument("--arch", help="architecture name from the registry")
        p.add_argument("--arch-kwargs", default="", help="e.g. 'channels=32,blocks=6'")
        p.add_argument("--steps", type=int, default=steps, help="optimisation steps")
        p.add_argument("--batch-size", type=int, default=batch)
        p.add_argument("--patch-size", type=int, default=patch, help="(HR) patch side in pixels")
        p.add_argument("--lr", type=float, default=lr, help="peak learning rate")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--val-every", type=int, default=250, help="validate every N steps")
        p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: OUT.ckpt)")
        p.add_argument("--checkpoint-every", type=int, default=250)
        p.add_argument("--resume", type=Path, help="continue from this checkpoint")
        p.add_argument("--stop-at", type=int, help="stop after this step (checkpoint written); "
                       "a later --resume run continues the same schedule")
        p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
        p.add_argument("--device", default="auto", help="cpu, cuda or auto")
        p.add_argument("--licence", default="", help="licence text for the card")
        p.add_argument("--description", default="", help="card description")
        p.add_argument("--data-description", default="", help="training data for the card")
        p.add_argument("--weights-dtype", choices=WEIGHT_DTYPES, default=WEIGHT_DTYPES[0],
                       help="how the file stores the weights (float16: half the size; the "
                            "card's scores are measured with the rounded weights)")

    sr = tasks.add_parser("sr", help="super-resolution from NIfTI/DICOM volumes")
    sr.add_argument("--data", nargs="+", required=True, help="training volumes or folders")
    sr.add_argument("--val", nargs="+", required=True,
                    help="validation volumes (other subjects than --data)")
    sr.add_argument("--scale", type=int, default=2)
    sr.add_argument("--init-from", type=Path,
                    help="start from the weights of this exported model (fine-tuning)")
    sr.add_argument("--adversarial", type=float, default=0.0, metavar="WEIGHT",
                    help="add an adversarial loss of this weight (SRGAN-style perceptual "
                         "variant, labelled as such in its card; usually with --init-from)")
    common(sr, 2000, 16, 64, 1e-3)
    sr.set_defaults(func=run_sr)

    en = tasks.add_parser("enhance", help="denoising (simulated Rician/Gaussian noise)")
    en.add_argument("--data", nargs="+", required=True, help="training volumes or folders")
    en.add_argument("--val", nargs="+", required=True, help="validation volumes")
    en.add_argument("--sigma-range", type=float, nargs=2, default=(0.01, 0.10),
                    help="noise sigma range, fraction of the normalised range")
    common(en, 1500, 16, 64, 1e-3)
    en.set_defaults(func=run_enhance)

    tp = tasks.add_parser("through-plane", help="through-plane SR from real in-plane slices")
    tp.add_argument("--data", nargs="+", required=True, help="training volumes or folders")
    tp.add_argument("--val", nargs="+", required=True,
                    help="validation volumes (pick the best step; other subjects than --data)")
    tp.add_argument("--test", nargs="+", required=True,
                    help="held-out volumes scored into the card (through-plane protocol)")
    tp.add_argument("--keep", choices=("best", "last"), default="best",
                    help="export the best-validation weights or the last step's")
    tp.add_argument("--timing-volume", type=Path,
                    help="volume with >= 150 slices to time a 150-slice isotropic output on")
    common(tp, 6000, 16, 64, 1e-3)
    tp.set_defaults(func=run_through_plane)

    seg = tasks.add_parser("segment", help="2-D segmentation from image/label folders")
    seg.add_argument("--images", required=True, type=Path, help="folder of images")
    seg.add_argument("--labels", required=True, type=Path, help="folder of label images")
    seg.add_argument("--val-count", type=int, default=4,
                     help="hold out the last N image pairs (sorted by name) for validation")
    seg.add_argument("--label-values", default="0:0,1:1",
                     help="stored label value -> class, e.g. '255:0,0:1'")
    seg.add_argument("--class-names", default="background,foreground",
                     help="names of classes 0, 1, ... for the card")
    seg.add_argument("--elastic", type=float, default=0.0,
                     help="largest elastic-deformation shift in pixels (0: off)")
    common(seg, 1500, 8, 128, 2e-3)
    seg.set_defaults(func=run_segment)
    register_instances(tasks, common, run_segment_instances)

    from medsr_viewer.cli.classify import add_train as add_train_classify

    add_train_classify(tasks, common)

    sv = tasks.add_parser("segment-volumes",
                          help="2-D segmentation from slices of 3-D image/label volume pairs")
    sv.add_argument("--pairs", nargs="+", required=True, metavar="IMG=LABELS[:MAPPING]",
                    help="training volume pairs on the same grid")
    sv.add_argument("--test", nargs="*", default=[], metavar="IMG=LABELS[:MAPPING]",
                    help="held-out pairs (other subjects) scored into the card")
    sv.add_argument("--mapping", default="identity",
                    help="label mapping of pairs without ':MAPPING': identity, "
                         "freesurfer-tissue or freesurfer-tissue+csf")
    sv.add_argument("--class-names", default="background,CSF,grey matter,white matter")
    sv.add_argument("--held-out-from", nargs="*", default=[], type=Path, metavar="MODEL",
                    help="models trained without a subject: their test scores go into this "
                         "card as scores.held_out")
    common(sv, 2000, 8, 128, 2e-3)
    sv.set_defaults(func=run_segment_volumes)


def parse_kwargs(text: str) -> dict[str, Any]:
    """``'a=1,b=2.5,c=x'`` -> ``{'a': 1, 'b': 2.5, 'c': 'x'}``."""
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise CliError(f"--arch-kwargs item {item!r} is not NAME=VALUE")
        key, value = item.split("=", 1)
        parsed: Any = value
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                continue
        out[key.strip()] = parsed
    return out


def setup(args: argparse.Namespace) -> tuple[str, Path]:
    """Thread count and device; returns (device, checkpoint path)."""
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt = args.checkpoint if args.checkpoint is not None else args.out.with_suffix(".ckpt")
    return device, ckpt


def command_line() -> str:
    """The command as typed (``medsr`` plus the arguments), for the card."""
    return "medsr " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def log(line: str) -> None:
    """Progress line on stdout, flushed so a log file follows live."""
    print(line, flush=True)


def _volumes(data: list[str], val: list[str]) -> tuple[list[Any], list[Any]]:
    from medsr_viewer.models.study_volumes import StudyError, find_volumes, load_study

    try:
        train_paths = find_volumes(data)
        val_paths = find_volumes(val)
        overlap = {p.resolve() for p in train_paths} & {p.resolve() for p in val_paths}
        if overlap:
            raise CliError(f"validation volumes are also in the training data: "
                           f"{', '.join(map(str, sorted(overlap)))}")
        return [load_study(p) for p in train_paths], [load_study(p) for p in val_paths]
    except StudyError as exc:
        raise CliError(str(exc)) from exc



def _loop_options(args: argparse.Namespace) -> dict[str, Any]:
    """The training-spec fields every task takes from the shared command-line options:
    ``patch_size``, ``schedule`` and ``card_text``."""
    from medsr_viewer.models.training.schedule import CardText, TrainSchedule

    return {
        "patch_size": args.patch_size,
        "schedule": TrainSchedule(
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
            val_every=args.val_every, checkpoint_every=args.checkpoint_every,
            stop_at=args.stop_at),
        "card_text": CardText(
            description=args.description, licence=args.licence, command=command_line(),
            data_description=args.data_description, weights_dtype=args.weights_dtype),
    }

def run_sr(args: argparse.Namespace) -> int:
    """Train an SR model (see :func:`medsr_viewer.models.training.sr_task.train_sr`)."""
    from medsr_viewer.models.training.sr_task import SRTrainSpec, train_sr

    device, ckpt = setup(args)
    train_vols, val_vols = _volumes(args.data, args.val)
    spec = SRTrainSpec(
        name=args.name or args.out.stem,
        scale=args.scale,
        arch=args.arch or "edsr-lite",
        arch_kwargs=parse_kwargs(args.arch_kwargs),
        init_from=args.init_from,
        adversarial_weight=args.adversarial,
        **_loop_options(args),
    )
    try:
        train_sr(spec, train_vols, val_vols, args.out, ckpt, args.resume, device, log)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def run_through_plane(args: argparse.Namespace) -> int:
    """Train the through-plane SR model (see :mod:`~medsr_viewer.models.training.through_plane_task`)."""
    from medsr_viewer.models.training.through_plane_task import (
        ThroughPlaneTrainSpec,
        train_through_plane,
    )

    device, ckpt = setup(args)
    train_vols, val_vols = _volumes(args.data, args.val)
    _unused, test_vols = _volumes(args.data, args.test)
    spec = ThroughPlaneTrainSpec(
        name=args.name or args.out.stem,
        arch=args.arch or "through-plane-resnet",
        keep=args.keep,
        **_loop_options(args),
    )
    if args.arch_kwargs:
        spec.arch_kwargs = parse_kwargs(args.arch_kwargs)
    try:
        timing = None
        if args.timing_volume is not None:
            from medsr_viewer.models.study_volumes import load_study

            timing = load_study(args.timing_volume)
        train_through_plane(spec, train_vols, val_vols, test_vols, args.out, ckpt, args.resume,
                            device, log, timing)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def run_enhance(args: argparse.Namespace) -> int:
    """Train a denoiser (see :func:`medsr_viewer.models.training.denoise_task.train_denoise`)."""
    from medsr_viewer.models.training.denoise_task import DenoiseTrainSpec, train_denoise

    device, ckpt = setup(args)
    train_vols, val_vols = _volumes(args.data, args.val)
    spec = DenoiseTrainSpec(
        name=args.name or args.out.stem,
        arch=args.arch or "dncnn",
        arch_kwargs=parse_kwargs(args.arch_kwargs),
        sigma_range=tuple(args.sigma_range),
        **_loop_options(args),
    )
    try:
        train_denoise(spec, train_vols, val_vols, args.out, ckpt, args.resume, device, log)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def run_segment(args: argparse.Namespace) -> int:
    """Train a 2-D U-Net (see :func:`medsr_viewer.models.training.segment_task`)."""
    from medsr_viewer.models.card import Label
    from medsr_viewer.models.study_volumes import StudyError, load_image_pairs
    from medsr_viewer.models.training.segment_task import (
        SegTrainSpec,
        class_pairs,
        train_segmentation,
    )

    device, ckpt = setup(args)
    mapping = {int(k): int(v) for k, v in
               (item.split(":") for item in args.label_values.split(",") if item)}
    names = [n.strip() for n in args.class_names.split(",")]
    if len(names) < max(mapping.values()) + 1:
        raise CliError(f"--class-names gives {len(names)} names for "
                       f"{max(mapping.values()) + 1} classes")
    colours = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    labels = tuple(Label(i, n, colours[i % len(colours)]) for i, n in enumerate(names))
    try:
        pairs = class_pairs(load_image_pairs(args.images, args.labels), mapping)
    except StudyError as exc:
        raise CliError(str(exc)) from exc
    if not 0 < args.val_count < len(pairs):
        raise CliError(f"--val-count {args.val_count} must leave training images "
                       f"({len(pairs)} pairs found)")
    spec = SegTrainSpec(
        name=args.name or args.out.stem,
        labels=labels,
        label_mapping=mapping,
        arch=args.arch or "unet",
        arch_kwargs=parse_kwargs(args.arch_kwargs),
        elastic=args.elastic,
        **_loop_options(args),
    )
    try:
        train_segmentation(spec, pairs[: -args.val_count], pairs[-args.val_count:], args.out,
                           ckpt, args.resume, device, log)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def run_segment_volumes(args: argparse.Namespace) -> int:
    """Train a U-Net on volume slices (see :mod:`~medsr_viewer.models.training.segment_volumes_task`)."""
    from medsr_viewer.models.archive import load_model
    from medsr_viewer.models.card import Label
    from medsr_viewer.models.study_volumes import StudyError
    from medsr_viewer.models.training.segment_task import SegTrainSpec
    from medsr_viewer.models.training.segment_volumes_task import train_volume_segmentation
    from medsr_viewer.models.training.volume_pairs import (
        TISSUE_COLOURS,
        load_pair,
        parse_pair,
    )

    device, ckpt = setup(args)
    names = [n.strip() for n in args.class_names.split(",")]
    colours = list(TISSUE_COLOURS) + [(255, 0, 255)] * len(names)
    labels = tuple(Label(i, n, colours[i]) for i, n in enumerate(names))
    try:
        train_specs = [parse_pair(t, args.mapping) for t in args.pairs]
        test_specs = [parse_pair(t, args.mapping) for t in args.test]
        shared = {s.image.resolve() for s in train_specs} & {s.image.resolve() for s in test_specs}
        if shared:
            raise CliError(f"test images are also training images: {sorted(map(str, shared))}")
        train_pairs = [load_pair(s) for s in train_specs]
        test_pairs = [load_pair(s, strip_variant=False) for s in test_specs]
        stems = [p.name for p in test_pairs]  # one image, two references: name both
        for pair, pair_spec in zip(test_pairs, test_specs):
            if stems.count(pair.name) > 1:
                pair.name = f"{pair.name} ({pair_spec.mapping})"
        held_out = {}
        for path in args.held_out_from:
            card = load_model(path).card
            held_out[card.name] = {"train_volumes": card.training.get("train_volumes"),
                                   "test": card.scores.get("test"),
                                   "command": card.training.get("command")}
    except (StudyError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    spec = SegTrainSpec(
        name=args.name or args.out.stem,
        labels=labels,
        label_mapping={},
        arch=args.arch or "unet",
        arch_kwargs=parse_kwargs(args.arch_kwargs),
        **_loop_options(args),
    )
    mappings = {p.name: s.mapping for p, s in zip(train_pairs + test_pairs,
                                                  train_specs + test_specs)}
    try:
        train_volume_segmentation(spec, train_pairs, test_pairs, args.out, ckpt, args.resume,
                                  device, log, held_out, mappings)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def run_segment_instances(args: argparse.Namespace) -> int:
    """Train an instance segmentation U-Net (see :mod:`medsr_viewer.cli.train_instances`)."""
    from medsr_viewer.cli.train_instances import run_segment_instances as run_instances

    device, ckpt = setup(args)
    return run_instances(args, device, ckpt, _loop_options(args), parse_kwargs(args.arch_kwargs),
                         log)
