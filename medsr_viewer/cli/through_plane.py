"""``medsr sr IN OUT --through-plane``: make a thick-slice study isotropic (or ``--factor S``).

Loads IN, plans the fine grid along the slice axis (voxel edges keep the input's world extent,
so the output overlays the input), adapts the through-plane model to the study for
``--adapt-minutes`` (progress on stderr; Ctrl+C during adaptation keeps what was learnt and
goes on), refines every reformat plane with a progress bar and writes OUT atomically with the
provenance (model, weights hash, adaptation steps, slice profile) in its header extension.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.cli.progress import ProgressBar
from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.writers import WriteError, check_output_path, output_format, save_volume
from medsr_viewer.models.device import DeviceError, select_device
from medsr_viewer.models.inference import InferenceError, describe_exception
from medsr_viewer.models.registry import ModelRegistry, ModelRejected
from medsr_viewer.models.through_plane.adapt import DEFAULT_ADAPT_MINUTES
from medsr_viewer.models.through_plane.apply import PlaneProgress
from medsr_viewer.models.through_plane.study_run import TASK, ThroughPlaneProcessor

#: The bundled model used when ``--model`` is not given.
DEFAULT_MODEL = "sr-through-plane"


def add_through_plane_options(parser: argparse.ArgumentParser) -> None:
    """The ``--through-plane`` options of ``medsr sr``."""
    group = parser.add_argument_group("through-plane SR (thick slices)")
    group.add_argument("--through-plane", action="store_true",
                       help="super-resolve along the slice axis instead of in-plane")
    size = group.add_mutually_exclusive_group()
    size.add_argument("--factor", type=float, metavar="S",
                      help="slice spacing / S (any factor from 1 up to isotropic)")
    size.add_argument("--isotropic", action="store_true",
                      help="slices as fine as the pixels (the default)")
    group.add_argument("--adapt-minutes", type=float, default=DEFAULT_ADAPT_MINUTES,
                       metavar="M", help="fine-tune on the study's own slices for M minutes "
                       f"(default {DEFAULT_ADAPT_MINUTES:g}; 0 = bundled weights only)")
    group.add_argument("--adapt-steps", type=int, default=None, metavar="N",
                       help="also stop adapting after N steps (reproducible runs)")
    group.add_argument("--thickness", type=float, default=None, metavar="MM",
                       help="slice thickness in mm (default: the DICOM's, else the spacing)")


def run_through_plane(args: argparse.Namespace) -> int:
    """Run the through-plane model over IN and write OUT."""
    if args.adapt_minutes < 0:
        raise CliError(f"--adapt-minutes {args.adapt_minutes}: must be 0 or more")
    if args.factor is not None and args.factor < 1:
        raise CliError(f"--factor {args.factor}: must be at least 1")
    try:
        out_path = check_output_path(args.output, args.force, args.input)
        if output_format(out_path) != "nifti":
            raise CliError(f"{out_path}: through-plane output is a volume (.nii or .nii.gz)")
        device = select_device(args.device)
        volume = load_volume(args.input)
    except (WriteError, DeviceError, LoadError) as exc:
        raise CliError(str(exc)) from exc
    if min(volume.shape) < 2 and volume.shape[args.axis or 0] < 2:
        raise CliError(f"{args.input}: a single slice has no through-plane direction")
    try:
        loaded = ModelRegistry().load(args.model or DEFAULT_MODEL, task=TASK, device=device)
        processor = ThroughPlaneProcessor(loaded, volume, args.factor, args.axis,
                                          args.thickness, device)
        processor.check_memory()  # before minutes of adaptation
    except (ModelRejected, InferenceError) as exc:
        raise CliError(str(exc)) from exc
    geometry = processor.geometry
    print(f"{volume.name or args.input}: slice axis {geometry.axis}, "
          f"{geometry.spacing_mm[geometry.axis]:.3g} mm slices ({geometry.thickness_mm:.3g} mm "
          f"thick) -> {geometry.out_spacing_mm:.3g} mm, {geometry.n_in} -> {geometry.n_out} "
          f"slices (x{geometry.factor:.3g})", file=sys.stderr)
    _adapt(args, processor)
    bar = None if args.quiet else ProgressBar(sys.stderr, f"through-plane {loaded.card.name}")

    def show(progress: PlaneProgress) -> None:
        if bar is not None:
            bar.update(progress.fraction, f"plane {progress.done}/{progress.total}")

    try:
        result = run_to_end(processor.iter_run(), show)
    except InferenceError as exc:
        raise CliError(str(exc)) from exc
    except Exception as exc:
        raise CliError(f"{loaded.path}: model failed ({describe_exception(exc)})") from exc
    if bar is not None:
        bar.finish()
    card = loaded.card
    try:
        written = save_volume(result, out_path,
                              description=f"{card.name} v{card.version} sha256:{card.sha256}",
                              extra=result.metadata["provenance"], force=args.force,
                              input_path=args.input)
    except WriteError as exc:
        raise CliError(str(exc)) from exc
    shape = "x".join(str(n) for n in result.shape)
    spacing = " x ".join(f"{s:.3g}" for s in result.spacing)
    print(f"wrote {written} ({shape} voxels, {spacing} mm, model {card.name}, "
          f"{processor.adaptation.steps} adaptation steps)")
    return 0


def _adapt(args: argparse.Namespace, processor: ThroughPlaneProcessor) -> None:
    """Adapt with a progress bar; Ctrl+C stops the adaptation and keeps what it learnt."""
    if args.adapt_minutes <= 0:
        return
    stop = threading.Event()
    bar = None if args.quiet else ProgressBar(sys.stderr, "adapting to the study")
    gen = processor.iter_adapt(args.adapt_minutes, args.adapt_steps, stop)
    report: Any = None
    while True:
        try:
            progress = next(gen)
        except StopIteration as done:
            report = done.value
            break
        except KeyboardInterrupt:
            stop.set()  # the next step sees it and returns the weights learnt so far
            continue
        if bar is not None:
            bar.update(progress.fraction, f"step {progress.step}, loss {progress.loss:.4f}")
    if bar is not None:
        bar.finish()
    if report is not None and report.skipped:
        print(f"adaptation skipped: {report.skipped}", file=sys.stderr)
    elif report is not None:
        print(f"adapted in {report.steps} steps: held-out pair L1 {report.loss_before:.4f} -> "
              f"{report.loss_after:.4f}" + (" (stopped early)" if report.cancelled else ""),
              file=sys.stderr)


__all__ = ["DEFAULT_MODEL", "add_through_plane_options", "run_through_plane"]
