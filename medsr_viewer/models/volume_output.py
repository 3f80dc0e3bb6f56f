"""A whole-volume run written to its output file, streamed or buffered (``medsr sr`` ...).

- **Streamed** (a NIfTI output of a run along axis 0, no trust maps): each finished slice is
  quantised and appended to the file (compressed in a background thread while the model
  works on the next slice, :class:`~medsr_viewer.core.nifti_stream.NiftiPlaneWriter`); the
  output volume is never held, so memory is the input plus a few slices.
- **Buffered** (other axes, whose planes are not consecutive in the file; trust maps, which
  need the whole SR; PNG): the slices fill an
  :class:`~medsr_viewer.core.output_buffer.OutputBuffer` in the stored type, written at the
  end from a view of it (no copy). With trust maps the buffer stays float32, because the
  maps are computed from the model's own output, and is quantised when written.

Either way the output is written atomically, in the stored type the rule of
:mod:`medsr_viewer.core.quantise` gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.nifti_stream import NiftiPlaneWriter
from medsr_viewer.core.output_buffer import OutputBuffer
from medsr_viewer.core.quantise import Quantisation
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import nifti_target, output_format, save_volume, write_output
from medsr_viewer.models.volume_processing import VolumeProcessor, VolumeProgress


@dataclass
class VolumeRun:
    """What a run produced.

    Parameters
    ----------
    written
        The output file.
    result
        The output's geometry and metadata (its voxels: the stored array, or a zero-memory
        view when streamed).
    floats
        The float32 result (kept for trust maps only).
    seconds
        Seconds per slice (model, pre- and postprocessing).
    write_s
        Seconds spent writing after the last slice.
    stored_as
        How the voxels are stored (``dtype``, scaling, a note when a plan became float32).
    """

    written: Path
    result: Volume
    floats: Volume | None
    seconds: list[float]
    write_s: float
    stored_as: dict[str, object]


def stored_as(
    array_dtype: Any, quantisation: Quantisation | None, promoted: str | None
) -> dict[str, object]:
    """Provenance of the stored voxels: type and scaling, and why a plan became float32."""
    record: dict[str, object] = ({"dtype": str(np.dtype(array_dtype))} if quantisation is None
                                 else quantisation.describe())
    if promoted:
        record["note"] = promoted
    return record


def run_and_write(
    processor: VolumeProcessor,
    axis: int,
    out_path: Path,
    quantisation: Quantisation | None,
    keep_floats: bool,
    description: str,
    force: bool,
    input_path: Path,
    progress: Callable[[VolumeProgress], object],
) -> VolumeRun:
    """Run ``processor`` along ``axis`` and write ``out_path`` (streamed when possible).

    Raises
    ------
    InferenceError, Exception
        From the model (no output is left behind).
    WriteError
        The output could not be written.
    """
    if output_format(out_path) == "nifti" and axis == 0 and not keep_floats:
        return _streamed(processor, out_path, quantisation, description, force, input_path,
                         progress)
    return _buffered(processor, axis, out_path, quantisation, keep_floats, description, force,
                     input_path, progress)


def _streamed(
    processor: VolumeProcessor,
    out_path: Path,
    quantisation: Quantisation | None,
    description: str,
    force: bool,
    input_path: Path,
    progress: Callable[[VolumeProgress], object],
) -> VolumeRun:
    """Slices appended to the file as they are finished (axis 0)."""
    target = nifti_target(out_path, force, input_path)
    stored = quantisation.dtype if quantisation is not None else processor.output_dtype
    shape = processor.output_shape(0)
    result = processor.result_volume(np.broadcast_to(np.zeros((), stored), shape), 0)
    done: dict[str, Any] = {}

    def provenance(writer: NiftiPlaneWriter) -> dict[str, Any]:
        return {**processor.provenance(0),
                "stored_as": stored_as(stored if writer.promoted is None else np.float32,
                                       writer.quantisation, writer.promoted)}

    def write(tmp: str) -> None:
        writer = NiftiPlaneWriter(tmp, result, quantisation, description,
                                  {**processor.provenance(0),
                                   "stored_as": stored_as(stored, quantisation, None)})
        try:
            done["seconds"] = run_to_end(processor.iter_planes(0, writer.put), progress)
            done["last"] = time.perf_counter()
            done["stored_as"] = provenance(writer)["stored_as"]
            writer.finish(provenance(writer))
        finally:
            writer.close()

    written = write_output(target, write)
    return VolumeRun(written, result, None, done["seconds"], time.perf_counter() - done["last"],
                     done["stored_as"])


def _buffered(
    processor: VolumeProcessor,
    axis: int,
    out_path: Path,
    quantisation: Quantisation | None,
    keep_floats: bool,
    description: str,
    force: bool,
    input_path: Path,
    progress: Callable[[VolumeProgress], object],
) -> VolumeRun:
    """Slices into an output array, written at the end."""
    buffer = OutputBuffer(processor.output_shape(axis), axis,
                          None if keep_floats else quantisation, processor.output_dtype)
    seconds = run_to_end(processor.iter_planes(axis, buffer.put), progress)
    last = time.perf_counter()
    floats = processor.result_volume(buffer.array, axis) if keep_floats else None
    if keep_floats and quantisation is not None:
        buffer = OutputBuffer.filled(buffer.array, axis, quantisation)
    result = processor.result_volume(buffer.array, axis)
    record = stored_as(buffer.array.dtype, buffer.quantisation, buffer.promoted)
    written = save_volume(result, out_path, description,
                          {**result.metadata["provenance"], "stored_as": record}, force,
                          input_path, buffer.scaling)
    return VolumeRun(written, result, floats, seconds, time.perf_counter() - last, record)
