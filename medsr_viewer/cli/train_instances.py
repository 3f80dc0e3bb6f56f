"""``medsr train segment-instances``: an instance segmentation U-Net (core / band / outside).

Images and labels are paired by sorted file name (as ``medsr train segment``); the last
``--test-count`` pairs are held out and scored once at the end, the ``--val-count`` pairs
before them choose the checkpoint and tune the post-processing, the rest are trained on.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError


def register_instances(tasks: Any, common: Callable[..., None],
                       func: Callable[[argparse.Namespace], int]) -> None:
    """Add ``segment-instances`` to the ``train`` tasks (``common``: the shared options,
    ``func``: what runs it, :func:`medsr_viewer.cli.train.run_segment_instances`)."""
    p = tasks.add_parser("segment-instances",
                         help="instance segmentation (one id per object) from image/label folders")
    p.add_argument("--images", required=True, type=Path, help="folder of images")
    p.add_argument("--labels", required=True, type=Path, help="folder of label images")
    p.add_argument("--val-count", type=int, default=4,
                   help="validation pairs before the held-out ones (checkpoint and tuning)")
    p.add_argument("--test-count", type=int, default=4,
                   help="last pairs held out, scored once into the card")
    p.add_argument("--object-value", type=int, default=255,
                   help="stored label value of the objects (connected components = objects)")
    p.add_argument("--object-name", default="cell", help="what one object is, for the card")
    p.add_argument("--band", type=int, default=2,
                   help="boundary band width in pixels (object pixels this close to the edge)")
    p.add_argument("--init-from", type=Path,
                   help="start from a segmentation model file of the same architecture")
    p.add_argument("--head-from", default="",
                   help="with --init-from: output channel i starts from the file's channel "
                        "HEAD_FROM[i], e.g. 1,0,0 for a background/membrane model")
    p.add_argument("--elastic", type=float, default=0.0,
                   help="elastic deformation augmentation, largest shift in px (0: none)")
    p.add_argument("--modalities", default="EM,OT", help="modalities for the card")
    common(p, 2000, 8, 128, 1e-3)
    p.set_defaults(func=func)


def run_segment_instances(args: argparse.Namespace, device: str, ckpt: Path,
                          loop_options: dict[str, Any], arch_kwargs: dict[str, Any],
                          log: Callable[[str], None]) -> int:
    """Train (see :func:`medsr_viewer.models.training.instance_task.train_instances`);
    ``device`` ... ``log`` come from :mod:`medsr_viewer.cli.train`'s shared helpers."""
    from medsr_viewer.models.study_volumes import StudyError, load_image_pairs
    from medsr_viewer.models.training.instance_task import InstanceTrainSpec, train_instances

    try:
        pairs = load_image_pairs(args.images, args.labels)
    except StudyError as exc:
        raise CliError(str(exc)) from exc
    if args.val_count < 1 or args.test_count < 1 or \
            args.val_count + args.test_count >= len(pairs):
        raise CliError(f"--val-count {args.val_count} and --test-count {args.test_count} must "
                       f"each be positive and leave training images ({len(pairs)} pairs)")
    head = tuple(int(c) for c in args.head_from.split(",") if c.strip()) or None
    spec = InstanceTrainSpec(
        name=args.name or args.out.stem,
        object_value=args.object_value,
        object_name=args.object_name,
        band=args.band,
        arch=args.arch or "unet",
        arch_kwargs=arch_kwargs,
        init_from=args.init_from,
        head_from=head,
        elastic=args.elastic,
        modalities=tuple(m.strip() for m in args.modalities.split(",") if m.strip()),
        **loop_options,
    )
    n_test, n_val = args.test_count, args.val_count
    train_pairs = pairs[: -(n_test + n_val)]
    val_pairs = pairs[-(n_test + n_val): -n_test]
    test_pairs = pairs[-n_test:]
    try:
        train_instances(spec, train_pairs, val_pairs, test_pairs, args.out, ckpt, args.resume,
                        device, log)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from exc
    return 0
