"""Running a 2-D model over a whole :class:`Volume`, slice by slice, with correct geometry.

:class:`VolumeProcessor` binds one loaded model to one volume: it fits the card's intensity
normalisation once on the whole volume (so every slice is mapped alike), then runs slices
through the tiled engine. Both :meth:`VolumeProcessor.iter_slice` and
:meth:`VolumeProcessor.iter_volume` are generators yielding progress per tile, so callers
(CLI progress bar, Qt worker) can report and cancel; their return value is the result.

Geometry of a super-resolved volume: the two in-plane axes get voxel size / s and the origin
moves by a half-voxel shift, so output voxel centres tile the same physical extent as the
input voxels (the world box of voxel *edges* is unchanged):
``new_origin = origin + sum_a affine[:3, a] * (-(s - 1) / (2 s))`` over the scaled axes ``a``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.output_buffer import OutputBuffer
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.device import (
    configure_cpu_threads,
    cuda_slice_batch,
    initial_tile_size,
)
from medsr_viewer.models.execution import choose_plan
from medsr_viewer.models.inference import (
    InferenceError,
    TileRunner,
    TileUpdate,
    iter_tiled_inference,
)
from medsr_viewer.models.instance_output import (
    instance_params,
    instances_from_output,
    unique_instance_ids,
)
from medsr_viewer.models.normalisation import IntensityMap, fit_intensity_map, labels_from_output

#: Tasks that run slice by slice through :class:`VolumeProcessor`.
SLICE_TASKS = ("super_resolution", "enhance", "segment", "segment_instances")
#: Tasks whose output is a label map (several output channels, one label per pixel).
LABEL_TASKS = ("segment", "segment_instances")


def default_axis(volume: Volume) -> int:
    """The volume's acquired slice axis (``metadata["slice_axis"]``, default 0 = z)."""
    axis = int(volume.metadata.get("slice_axis", 0))
    return axis if axis in (0, 1, 2) else 0


def slice_count(volume: Volume, axis: int) -> int:
    """Number of slices along ``axis`` (0 = z, 1 = y, 2 = x)."""
    return int(volume.voxels.shape[axis])


def take_slice(voxels: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2-D plane ``index`` along ``axis`` of a ``(z, y, x)`` array (rows, cols in order)."""
    if not 0 <= index < voxels.shape[axis]:
        raise IndexError(f"slice {index} out of range 0..{voxels.shape[axis] - 1} on axis {axis}")
    return np.take(voxels, index, axis=axis)


def scaled_affine(affine: np.ndarray, axis: int, scale: int) -> np.ndarray:
    """The affine of a volume super-resolved by ``scale`` in the plane normal to ``axis``.

    ``axis`` is in ``(z, y, x)`` order; affine column ``2 - a`` belongs to voxel axis ``a``.
    """
    out = np.array(affine, dtype=np.float64, copy=True)
    if scale == 1:
        return out
    shift = -(scale - 1) / (2.0 * scale)
    for a in (0, 1, 2):
        if a == axis:
            continue
        col = 2 - a
        out[:3, 3] += affine[:3, col] * shift
        out[:3, col] = affine[:3, col] / scale
    return out


def output_shape(shape: tuple[int, int, int], axis: int, scale: int) -> tuple[int, int, int]:
    """Voxel shape after super-resolution by ``scale`` in the plane normal to ``axis``."""
    z, y, x = (n if a == axis else n * scale for a, n in enumerate(shape))
    return (z, y, x)


@dataclass(frozen=True)
class VolumeProgress:
    """Progress of a whole-volume run, reported after each tile.

    Parameters
    ----------
    slices_done
        Slices completely finished before this tile's slice.
    slice_total
        Slices in the run.
    slice_index
        The slice the tile belongs to.
    tile
        The finished tile.
    """

    slices_done: int
    slice_total: int
    slice_index: int
    tile: TileUpdate

    @property
    def fraction(self) -> float:
        """Overall share done, counting the current slice's tiles."""
        return min(1.0, (self.slices_done + self.tile.fraction) / max(1, self.slice_total))


class VolumeProcessor:
    """One model bound to one volume: normalisation fitted once, slices run on demand.

    Parameters
    ----------
    loaded
        A model that passed the registry's checks (card + dry run).
    volume
        The input volume.
    device
        Where to run (the module is moved there).
    tile
        Tile side overriding the card's (and the CUDA free-memory estimate).
    notifier
        Where device notices (CPU fallback) go.
    runner
        A :class:`TileRunner` shared with other processors of the same model (so a CPU
        fallback applies to all of them); made here when omitted.
    tile_timeout_s
        Per-tile time limit of a runner made here (default: the card's ``tile_timeout_s``).
    batch
        Whole slices per model call in whole-volume runs (default: :meth:`slice_batch`
        decides: batched on CUDA, 1 on the CPU).

    Raises
    ------
    InferenceError
        When the card's task or channels do not fit slice-by-slice image processing.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        volume: Volume,
        device: torch.device | str = "cpu",
        tile: int | None = None,
        notifier: Notifier | None = None,
        runner: TileRunner | None = None,
        tile_timeout_s: float | None = None,
        batch: int | None = None,
    ) -> None:
        card = loaded.card
        if card.task not in SLICE_TASKS:
            raise InferenceError(f"{loaded.path}: a {card.task!r} model cannot process images")
        if card.in_channels != 1:
            raise InferenceError(
                f"{loaded.path}: model expects {card.in_channels} input channels; "
                "only single-channel slices are supported"
            )
        if card.task not in LABEL_TASKS and card.out_channels != 1:
            raise InferenceError(
                f"{loaded.path}: {card.task} model has {card.out_channels} output channels, "
                "expected 1"
            )
        if tile is not None and tile <= 2 * card.tile_overlap:
            raise InferenceError(
                f"tile size {tile} must exceed twice the model's overlap ({card.tile_overlap})"
            )
        if batch is not None and batch < 1:
            raise InferenceError(f"slice batch must be at least 1, got {batch}")
        self._batch = batch
        self.loaded = loaded
        self.card = card
        self.volume = volume
        if runner is None:
            target = torch.device(device)
            if target.type == "cpu":
                configure_cpu_threads()
            module = loaded.module.to(target)
            runner = TileRunner(
                module,
                target,
                card.fp16,
                card.name,
                notifier,
                timeout_s=tile_timeout_s or card.tile_timeout_s,
                plan=choose_plan(card, target, module, model_sha256=loaded.sha256),
            )
        self.runner = runner
        self.device = runner.device
        self.tile = initial_tile_size(
            self.device, runner.plan.tile or card.tile_size, card.scale, card.out_channels, tile
        )
        self.intensity: IntensityMap = fit_intensity_map(card.normalisation, volume.voxels)
        self._instance_params = instance_params(card) if card.task == "segment_instances" \
            else None

    @property
    def scale(self) -> int:
        """Resolution factor of the output (1 except for super-resolution)."""
        return self.card.scale if self.card.task == "super_resolution" else 1

    def postprocess(self, output: np.ndarray) -> np.ndarray:
        """Model output ``(C, h, w)`` -> a 2-D result: raw units (float32) or labels (uint8)."""
        if self.card.task == "segment":
            return labels_from_output(output)
        if self._instance_params is not None:
            return instances_from_output(output, self._instance_params)
        return self.intensity.from_model(output[0])

    def iter_slice(
        self, index: int, axis: int | None = None
    ) -> Generator[TileUpdate, None, np.ndarray]:
        """Run slice ``index`` along ``axis`` tile by tile.

        Yields a :class:`TileUpdate` per tile whose ``array`` is already 2-D in output units;
        returns the finished 2-D slice (float32 raw units, or uint8 labels).
        """
        axis = default_axis(self.volume) if axis is None else axis
        plane = take_slice(self.volume.voxels, axis, index)
        image = self.intensity.to_model(plane)[None]
        gen = iter_tiled_inference(
            self.runner,
            image,
            self.scale,
            self.card.out_channels,
            self.tile,
            self.card.tile_overlap,
            postprocess=self.postprocess,
        )
        result = yield from gen
        return self.postprocess(result)

    def run_slice(self, index: int, axis: int | None = None) -> np.ndarray:
        """:meth:`iter_slice` run to the end; returns the finished 2-D slice."""
        return run_to_end(self.iter_slice(index, axis))

    def iter_volume(self, axis: int | None = None) -> Generator[VolumeProgress, None, Volume]:
        """Run every slice along ``axis``; yields per tile, returns the new :class:`Volume`."""
        axis = default_axis(self.volume) if axis is None else axis
        if axis not in (0, 1, 2):
            raise InferenceError(f"slice axis must be 0, 1 or 2, got {axis}")
        buffer = OutputBuffer(self.output_shape(axis), axis, dtype=self.output_dtype)
        yield from self.iter_planes(axis, buffer.put)
        return self.result_volume(buffer.array, axis)

    @property
    def output_dtype(self) -> type:
        """Type of the finished planes: ``uint8`` labels, ``uint32`` instance ids or float32
        raw units."""
        if self.card.task == "segment_instances":
            return np.uint32
        return np.uint8 if self.card.task == "segment" else np.float32

    def output_shape(self, axis: int) -> tuple[int, int, int]:
        """Voxel shape ``(z, y, x)`` of the result of a run along ``axis``."""
        return output_shape(self.volume.shape, axis, self.scale)

    def iter_planes(
        self, axis: int, put: Callable[[int, np.ndarray], None]
    ) -> Generator[VolumeProgress, None, list[float]]:
        """Run every slice along ``axis``, handing each finished plane to ``put(index, plane)``.

        The streaming core of a whole-volume run: only the slices being processed are held
        here, so memory is that of a slice (or of one batch of slices on a GPU, see
        :meth:`slice_batch`) plus whatever ``put`` stores (e.g. an
        :class:`~medsr_viewer.core.output_buffer.OutputBuffer`). Yields per tile; returns the
        seconds each slice took (model, pre- and postprocessing).
        """
        if axis not in (0, 1, 2):
            raise InferenceError(f"slice axis must be 0, 1 or 2, got {axis}")
        if self.card.task == "segment_instances":
            put = unique_instance_ids(put)
        batch = self.slice_batch(axis)
        if batch == 1:
            return (yield from self.iter_single_planes(axis, put))
        from medsr_viewer.models.batched_planes import iter_batches

        total = slice_count(self.volume, axis)
        gen = iter_batches(
            self.runner, lambda k: self.intensity.to_model(take_slice(self.volume.voxels, axis, k))[None],
            total, batch, self.scale, self.card.out_channels, self.postprocess)
        seconds: list[float] = []
        while True:
            try:
                index, update, plane, share = next(gen)
            except StopIteration as stop:
                done: int = stop.value
                break
            yield VolumeProgress(index, total, index, update)
            seconds.append(share)
            put(index, plane)
        if done < total:  # a batch ran out of GPU memory: one slice per call from there
            seconds += yield from self.iter_single_planes(axis, put, start=done)
        return seconds

    def iter_single_planes(
        self, axis: int, put: Callable[[int, np.ndarray], None], start: int = 0
    ) -> Generator[VolumeProgress, None, list[float]]:
        """:meth:`iter_planes` one slice per call, tile by tile, from slice ``start`` on."""
        total = slice_count(self.volume, axis)
        seconds: list[float] = []
        for index in range(start, total):
            begin = time.perf_counter()
            gen = self.iter_slice(index, axis)
            while True:
                try:
                    update = next(gen)
                except StopIteration as stop:
                    plane: np.ndarray = stop.value
                    break
                yield VolumeProgress(index, total, index, update)
            seconds.append(time.perf_counter() - begin)
            put(index, plane)
        return seconds

    def slice_batch(self, axis: int) -> int:
        """Whole slices per model call in a run along ``axis``: the constructor's ``batch``
        if given, else on CUDA as many as the free memory allows when a slice fits in one
        tile (:func:`~medsr_viewer.models.device.cuda_slice_batch`), else 1 (the CPU)."""
        if self._batch is not None:
            return self._batch
        if self.runner.device.type != "cuda":
            return 1
        plane = [n for a, n in enumerate(self.volume.voxels.shape[:3]) if a != axis]
        if max(plane) > self.tile:
            return 1  # tiled slices run tile by tile
        free, _total = torch.cuda.mem_get_info(self.runner.device)
        return cuda_slice_batch(free, plane[0] * plane[1], self.scale, self.card.out_channels)

    def run_volume(self, axis: int | None = None) -> Volume:
        """:meth:`iter_volume` run to the end; returns the new volume."""
        return run_to_end(self.iter_volume(axis))

    def provenance(self, axis: int) -> dict[str, Any]:
        """What produced an output: model, weights hash, settings (no patient data)."""
        card = self.card
        extra: dict[str, Any] = {}
        if card.task == "segment_instances":  # what a label reader names the objects
            extra["object_name"] = str(card.instances.get("object_name", "object"))
        return {
            **extra,
            "model": card.name,
            "model_version": card.version,
            "sha256": card.sha256,
            "file_sha256": self.loaded.sha256,
            "task": card.task,
            "scale": self.scale,
            "model_file": self.loaded.path.name,
            "slice_axis": axis,
            "tile_size": self.tile,
            "tile_overlap": card.tile_overlap,
            "device": self.runner.device.type,
            "execution": self.runner.plan.name,
            "slice_batch": self.slice_batch(axis),
            "normalisation": {
                "mode": card.normalisation.mode,
                "low": self.intensity.low,
                "high": self.intensity.high,
                "clip": self.intensity.clip,
            },
            "input_name": self.volume.name,
            "modality": self.volume.modality,
            "input_shape_zyx": list(self.volume.shape),
            "input_spacing_zyx": list(self.volume.spacing),
        }

    def result_volume(self, voxels: np.ndarray, axis: int) -> Volume:
        """Wrap processed voxels in a :class:`Volume` with the right geometry and metadata."""
        volume = self.volume
        metadata = {k: v for k, v in volume.metadata.items() if k not in ("source",)}
        metadata["slice_axis"] = axis
        metadata["provenance"] = self.provenance(axis)
        name = f"{volume.name} [{self.card.name}]" if volume.name else self.card.name
        if self.card.task == "segment_instances":
            metadata["instances"] = {"object_name": self.card.instances.get("object_name",
                                                                            "object"),
                                     "count": int(voxels.max(initial=0))}
            return volume.with_voxels(
                voxels, modality="SEG", name=name, window=None, metadata=metadata, warnings=()
            )
        if self.card.task == "segment":
            metadata["labels"] = [
                {"value": lab.value, "name": lab.name, "color": list(lab.color)}
                for lab in self.card.labels
            ]
            return volume.with_voxels(
                voxels, modality="SEG", name=name, window=None, metadata=metadata, warnings=()
            )
        affine = scaled_affine(volume.affine, axis, self.scale)
        return volume.with_voxels(voxels, affine=affine, name=name, metadata=metadata, warnings=())
