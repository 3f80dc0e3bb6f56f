"""``medsr sr|enhance|segment IN OUT --model NAME|PATH``: run a model over a whole study.

Loads IN (DICOM folder/file, NIfTI/MGH, 2-D image) with :func:`medsr_viewer.core.io.load_volume`,
checks the model (card, task, dry run), runs it slice by slice along ``--axis`` (default: the
acquired slice axis) with a progress bar on stderr, and writes OUT atomically: NIfTI
(``.nii``/``.nii.gz``) for any input, PNG for 2-D inputs. The output header records the model
name and weights sha256 and the input's modality (so an SR output of an MR study reopens as
MR); a ``segment`` NIfTI output gets the card's label names and colours beside it as an
ITK-SNAP table ``<stem>.label``, which the label-map reader picks up. OUT is never the input,
and an existing OUT (or label table) needs ``--force``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from medsr_viewer.cli.main import CliError
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.labels import LabelTable, label_table_path, write_label_table
from medsr_viewer.core.notify import Notice, notifier
from medsr_viewer.core.writers import WriteError, check_output_path, output_format, save_volume
from medsr_viewer.models.device import DEVICE_CHOICES, DeviceError, select_device
from medsr_viewer.models.domain import domain_message
from medsr_viewer.models.inference import InferenceError, describe_exception
from medsr_viewer.models.registry import ModelRegistry, ModelRejected
from medsr_viewer.models.volume_processing import VolumeProcessor, default_axis

#: Subcommand -> (card task, help text).
COMMANDS: dict[str, tuple[str, str]] = {
    "sr": ("super_resolution", "super-resolve a study with an SR model"),
    "enhance": ("enhance", "denoise/enhance a study with an enhancement model"),
    "segment": ("segment", "segment a study with a segmentation model (label map output)"),
}


def register(subparsers: Any) -> None:
    """Add the ``sr``, ``enhance`` and ``segment`` subcommands to the ``medsr`` parser."""
    for command, (task, help_text) in COMMANDS.items():
        parser = subparsers.add_parser(command, help=help_text, description=help_text)
        parser.add_argument("input", type=Path, metavar="IN", help="study: DICOM, NIfTI/MGH, image")
        parser.add_argument(
            "output", type=Path, metavar="OUT", help="output .nii/.nii.gz (or .png)"
        )
        parser.add_argument(
            "--model", required=True, metavar="NAME|PATH", help="model name or file"
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
        parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
        parser.add_argument("--force", action="store_true", help="overwrite an existing OUT")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.set_defaults(func=run, task=task)


class ProgressBar:
    """A plain-text progress bar on a stream: redrawn in place on a terminal, else every 10%.

    Parameters
    ----------
    stream
        Where to draw (stderr).
    label
        Text before the bar.
    """

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_step = -1
        self._start = time.perf_counter()

    def update(self, fraction: float, detail: str = "") -> None:
        """Show ``fraction`` (0..1) done."""
        fraction = min(1.0, max(0.0, fraction))
        if self.tty:
            filled = int(fraction * 30)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {detail}   ")
            self.stream.flush()
            return
        step = int(fraction * 10)
        if step > self._last_step:
            self._last_step = step
            self.stream.write(f"{self.label}: {fraction:4.0%} {detail}\n")
            self.stream.flush()

    def finish(self) -> None:
        """End the bar with the elapsed time."""
        elapsed = time.perf_counter() - self._start
        self.stream.write(("\n" if self.tty else "") + f"{self.label}: done in {elapsed:.1f} s\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run the model over IN and write OUT; user errors raise :class:`CliError`."""
    task: str = args.task
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
        loaded = ModelRegistry().load(args.model, task=task, device=device)
    except ModelRejected as exc:
        raise CliError(str(exc)) from exc
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
        try:
            processor = VolumeProcessor(
                loaded, volume, device=device, tile=args.tile, tile_timeout_s=args.tile_timeout
            )
        except InferenceError as exc:
            raise CliError(str(exc)) from exc
        bar = None if args.quiet else ProgressBar(sys.stderr, f"{args.command} {loaded.card.name}")
        if bar is not None:
            bar.update(0.0, f"slice 1/{volume.voxels.shape[axis]}")  # before the first tile
        gen = processor.iter_volume(axis)
        try:
            while True:
                try:
                    progress = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                if bar is not None:
                    bar.update(
                        progress.fraction,
                        f"slice {progress.slice_index + 1}/{progress.slice_total}",
                    )
        except InferenceError as exc:
            raise CliError(f"{loaded.path}: {exc}") from exc
        except Exception as exc:
            raise CliError(f"{loaded.path}: model failed ({describe_exception(exc)})") from exc
        if bar is not None:
            bar.finish()
    finally:
        unsubscribe()
    card = loaded.card
    description = f"{card.name} v{card.version} sha256:{card.sha256}"
    try:
        written = save_volume(
            result,
            out_path,
            description=description,
            extra=result.metadata["provenance"],
            force=args.force,
            input_path=args.input,
        )
    except WriteError as exc:
        raise CliError(str(exc)) from exc
    if table_path is not None and card.labels:
        try:
            write_label_table(LabelTable.from_card_labels(card.labels), written)
        except OSError as exc:
            raise CliError(f"{table_path}: label table not written ({exc})") from exc
        print(f"wrote {table_path} (names and colours of {len(card.labels)} labels)")
    shape = "x".join(str(n) for n in result.shape)
    spacing = " x ".join(f"{s:.3g}" for s in result.spacing)
    print(f"wrote {written} ({shape} voxels, {spacing} mm, model {card.name})")
    return 0
