"""``medsr sr|enhance|segment IN OUT --model NAME|PATH``: run a model over a whole study.

Loads IN (DICOM folder/file, NIfTI/MGH, 2-D image) with :func:`medsr_viewer.core.io.load_volume`,
checks the model (card, task, dry run), runs it slice by slice along ``--axis`` (default: the
acquired slice axis) with a progress bar on stderr, and writes OUT atomically: NIfTI
(``.nii``/``.nii.gz``) for any input, PNG for 2-D inputs. The output header records the model
name and weights sha256 and the input's modality (so an SR output of an MR study reopens as
MR); a ``segment`` NIfTI output gets the card's label names and colours beside it as an
ITK-SNAP table ``<stem>.label``, which the label-map reader picks up. OUT is never the input,
and an existing OUT (or label table) needs ``--force``.

The run streams (:mod:`medsr_viewer.models.volume_output`): along axis 0 each finished slice
is appended to the NIfTI file while the next is computed, otherwise it goes into the output
array, written at the end without a copy. Voxels are stored in the input's integer type when
it has one (``--dtype auto``, the rule of :mod:`medsr_viewer.core.quantise`: a 16-bit study
gives a 16-bit output with its NIfTI ``scl_slope``/``scl_inter``), else as float32
(``--dtype float32`` forces it). A last line reports where the time went.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.cli.progress import ProgressBar
from medsr_viewer.cli.through_plane import add_through_plane_options, run_through_plane
from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.labels import LabelTable, label_table_path, write_label_table
from medsr_viewer.core.notify import Notice, notifier
from medsr_viewer.core.quantise import DTYPE_CHOICES, output_quantisation
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import (
    WriteError,
    check_output_path,
    output_format,
    save_nifti_frames,
    save_volume,
)
from medsr_viewer.models.device import DEVICE_CHOICES, DeviceError, select_device
from medsr_viewer.models.domain import domain_message
from medsr_viewer.models.inference import InferenceError, describe_exception
from medsr_viewer.models.registry import ModelRegistry, ModelRejected
from medsr_viewer.models.series_check import SERIES_TYPE_MODEL, series_type_warning
from medsr_viewer.models.sr_trust import iter_trust_maps
from medsr_viewer.models.volume_output import run_and_write
from medsr_viewer.models.volume_processing import VolumeProcessor, VolumeProgress, default_axis

#: Subcommand -> (card task, help text).
COMMANDS: dict[str, tuple[str, str]] = {
    "sr": ("super_resolution", "super-resolve a study with an SR model"),
    "enhance": ("enhance", "denoise/enhance a study with an enhancement model"),
    "segment": ("segment", ("segment a study with a segmentation model (label map output; "
                            "an instance model gives one id per object)")),
}
#: Card tasks each command's task accepts (``segment`` runs instance models too).
ACCEPTED_TASKS: dict[str, tuple[str, ...]] = {"segment": ("segment", "segment_instances")}


def register(subparsers: Any) -> None:
    """Add the ``sr``, ``enhance`` and ``segment`` subcommands to the ``medsr`` parser."""
    for command, (task, help_text) in COMMANDS.items():
        parser = subparsers.add_parser(command, help=help_text, description=help_text)
        parser.add_argument("input", type=Path, metavar="IN", help="study: DICOM, NIfTI/MGH, image")
        parser.add_argument(
            "output", type=Path, metavar="OUT", help="output .nii/.nii.gz (or .png)"
        )
        parser.add_argument(
            "--model", required=command != "sr", metavar="NAME|PATH",
            help="model name or file" + (" (required, except with --through-plane: the "
                                         "bundled sr-through-plane)" if command == "sr" else "")
        )
        parser.add_argument(
            "--axis",
            type=int,
            choices=(0, 1, 2),
            default=None,
            help="slice axis 0=z 1=y 2=x (default: the acquired slice axis)",
        )
        parser.add_argument("--tile", type=int, default=None, metavar="N", help="tile size (px)")
        parser.add_argument(
            "--tile-timeout",
            type=float,
            default=None,
            metavar="S",
            help="stop when one tile takes longer than S seconds (default: the card's)",
        )
        if command == "sr":
            parser.add_argument("--interval", type=float, metavar="LEVEL",
                                help="calibrated per-pixel interval level, e.g. 0.9 (needs "
                                "--interval-out and a calibrated model: medsr calibrate)")
            parser.add_argument("--interval-out", type=Path, metavar="BOUNDS.nii.gz",
                                help="4-D NIfTI on the SR grid: volume 0 lower, 1 upper bound")
            parser.add_argument("--consistency-out", type=Path, metavar="MAP.nii.gz",
                                help="D(SR) - input on the input grid (where SR disagrees "
                                "with what was measured)")
            parser.add_argument("--added-detail-out", type=Path, metavar="MAP.nii.gz",
                                help="detail SR added that the input cannot confirm (SR grid)")
            add_through_plane_options(parser)
        if command != "segment":
            parser.add_argument(
                "--dtype", choices=DTYPE_CHOICES, default="auto",
                help="NIfTI output type: auto = the input's integer type (with scl_slope/"
                "scl_inter) when it has one, else float32; float32 = always float32")
        parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
        parser.add_argument("--force", action="store_true", help="overwrite an existing OUT")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.set_defaults(func=run, task=task)


def run(args: argparse.Namespace) -> int:
    """Run the model over IN and write OUT; user errors raise :class:`CliError`."""
    started = time.perf_counter()
    task: str = args.task
    if getattr(args, "through_plane", False):
        return run_through_plane(args)
    if args.model is None:
        raise CliError("--model NAME|PATH is required (or --through-plane)")
    try:
        out_path = check_output_path(args.output, args.force, args.input)
        fmt = output_format(out_path)
    except WriteError as exc:
        raise CliError(str(exc)) from exc
    table_path = label_table_path(out_path) if task == "segment" and fmt == "nifti" else None
    if table_path is not None and table_path.exists() and not args.force:
        raise CliError(f"{table_path}: already exists (use --force to overwrite)")
    if args.tile is not None and args.tile < 16:
        raise CliError(f"--tile {args.tile}: tile size must be at least 16")
    maps = _map_outputs(args)
    if args.tile_timeout is not None and not args.tile_timeout > 0:
        raise CliError(f"--tile-timeout {args.tile_timeout}: must be a positive number of seconds")
    try:
        device = select_device(args.device)
    except DeviceError as exc:
        raise CliError(str(exc)) from exc
    try:
        volume = load_volume(args.input)
    except LoadError as exc:
        raise CliError(str(exc)) from exc
    if fmt == "png" and volume.shape[0] != 1:
        raise CliError(
            f"{out_path}: PNG output needs a 2-D input; {args.input} has "
            f"{volume.shape[0]} slices (write .nii.gz instead)"
        )
    try:
        loaded = ModelRegistry().load(args.model, task=ACCEPTED_TASKS.get(task, task),
                                      device=device)
    except ModelRejected as exc:
        raise CliError(str(exc)) from exc
    if loaded.card.task == "segment_instances":
        table_path = None  # ids, not classes: no label table
    axis = default_axis(volume) if args.axis is None else args.axis
    if fmt == "png":
        axis = 0

    def show(notice: Notice) -> None:
        print(f"\n{notice.level}: {notice.message}", file=sys.stderr)

    unsubscribe = notifier.subscribe(show)
    try:
        warning = domain_message(loaded.card, volume, axis)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        kind = series_type_warning(
            loaded.card, volume, axis,
            lambda: ModelRegistry().load(SERIES_TYPE_MODEL, task="classify", device=device))
        if kind:
            print(f"warning: {kind}", file=sys.stderr)
        try:
            processor = VolumeProcessor(
                loaded, volume, device=device, tile=args.tile, tile_timeout_s=args.tile_timeout
            )
        except InferenceError as exc:
            raise CliError(str(exc)) from exc
        bar = None if args.quiet else ProgressBar(sys.stderr, f"{args.command} {loaded.card.name}")
        if bar is not None:
            bar.update(0.0, f"slice 1/{volume.voxels.shape[axis]}")  # before the first tile

        def show_progress(progress: VolumeProgress) -> None:
            if bar is not None:
                bar.update(progress.fraction,
                           f"slice {progress.slice_index + 1}/{progress.slice_total}")

        quantisation = None
        if fmt == "nifti" and task != "segment":
            quantisation = output_quantisation(volume, getattr(args, "dtype", "auto"))
        card = loaded.card
        description = f"{card.name} v{card.version} sha256:{card.sha256}"
        try:
            run_ = run_and_write(processor, axis, out_path, quantisation, bool(maps),
                                 description, args.force, args.input, show_progress)
        except WriteError as exc:
            raise CliError(str(exc)) from exc
        except InferenceError as exc:
            raise CliError(f"{loaded.path}: {exc}") from exc
        except Exception as exc:
            raise CliError(f"{loaded.path}: model failed ({describe_exception(exc)})") from exc
        if bar is not None:
            bar.finish()
    finally:
        unsubscribe()
    if "note" in run_.stored_as:
        print(f"note: {run_.stored_as['note']}", file=sys.stderr)
    written, result = run_.written, run_.result
    if table_path is not None and card.labels:
        try:
            write_label_table(LabelTable.from_card_labels(card.labels), written)
        except OSError as exc:
            raise CliError(f"{table_path}: label table not written ({exc})") from exc
        print(f"wrote {table_path} (names and colours of {len(card.labels)} labels)")
    shape = "x".join(str(n) for n in result.shape)
    spacing = " x ".join(f"{s:.3g}" for s in result.spacing)
    print(f"wrote {written} ({shape} voxels, {run_.stored_as['dtype']}, {spacing} mm, "
          f"model {card.name})")
    if run_.floats is not None:
        _write_maps(args, maps, processor, volume, run_.floats, axis, description)
    model_s = sum(run_.seconds)
    print(f"timing: {len(run_.seconds)} slices, model {model_s:.2f} s "
          f"({model_s / max(1, len(run_.seconds)):.3f} s/slice), write {run_.write_s:.2f} s "
          f"after the last slice, total {time.perf_counter() - started:.2f} s")
    return 0


def _map_outputs(args: argparse.Namespace) -> dict[str, Path]:
    """The trust-map outputs asked for (``medsr sr`` only), checked before any work."""
    wanted = {
        "interval": getattr(args, "interval_out", None),
        "consistency": getattr(args, "consistency_out", None),
        "added_detail": getattr(args, "added_detail_out", None),
    }
    level = getattr(args, "interval", None)
    if (level is None) != (wanted["interval"] is None):
        raise CliError("--interval LEVEL and --interval-out BOUNDS.nii.gz go together")
    if level is not None and not 0 < level < 1:
        raise CliError(f"--interval {level}: a level between 0 and 1, e.g. 0.9")
    chosen = {k: v for k, v in wanted.items() if v is not None}
    for path in chosen.values():
        try:
            if output_format(check_output_path(path, args.force, args.input)) != "nifti":
                raise CliError(f"{path}: trust maps are written as NIfTI (.nii or .nii.gz)")
        except WriteError as exc:
            raise CliError(str(exc)) from exc
    return chosen


def _write_maps(
    args: argparse.Namespace,
    paths: dict[str, Path],
    processor: VolumeProcessor,
    volume: Volume,
    result: Volume,
    axis: int,
    description: str,
) -> None:
    """Compute and write the requested trust maps of a finished SR run (``result`` in
    float32: the model's output before any quantisation)."""
    gen = iter_trust_maps(processor, result, axis, getattr(args, "interval", None),
                          "consistency" in paths, "added_detail" in paths)
    bar = None if args.quiet else ProgressBar(sys.stderr, "trust maps")
    total = volume.voxels.shape[axis]

    def show(index: int) -> None:
        if bar is not None:
            bar.update((index + 1) / total, f"slice {index + 1}/{total}")

    try:
        maps = run_to_end(gen, show)
    except InferenceError as exc:
        raise CliError(str(exc)) from exc
    if bar is not None:
        bar.finish()
    extra = {**result.metadata["provenance"], "maps": maps.notes}
    try:
        if maps.lower is not None and maps.upper is not None:
            frames = [result.with_voxels(maps.lower, name="lower"),
                      result.with_voxels(maps.upper, name="upper")]
            done = save_nifti_frames(frames, paths["interval"], description,
                                     {**extra, "frames": ["lower", "upper"]}, args.force,
                                     args.input)
            print(f"wrote {done} (interval bounds: volume 0 lower, 1 upper)")
        if maps.consistency is not None:
            done = save_volume(volume.with_voxels(maps.consistency, name="consistency"),
                               paths["consistency"], description, extra, args.force, args.input)
            print(f"wrote {done} (consistency D(SR) - input, input grid)")
        if maps.added_detail is not None:
            done = save_volume(result.with_voxels(maps.added_detail, name="added detail"),
                               paths["added_detail"], description, extra, args.force,
                               args.input)
            print(f"wrote {done} (added detail, SR grid)")
    except WriteError as exc:
        raise CliError(str(exc)) from exc
