"""One through-plane model bound to one study: normalise, adapt, refine, wrap with geometry.

:class:`ThroughPlaneProcessor` is what the CLI (``medsr sr --through-plane``), the evaluation
and the viewer's worker share. It fits the card's intensity normalisation on the whole study,
plans the fine grid (:func:`~medsr_viewer.models.through_plane.apply.plan_geometry`; the slice
thickness comes from the study's ``slice_thickness_mm`` when its DICOM said so), optionally
adapts the network to the study (:mod:`~medsr_viewer.models.through_plane.adapt`), and returns
a :class:`~medsr_viewer.core.volume.Volume` on the fine grid whose voxel edges cover the input's
world extent, with provenance (model, weights hash, adaptation, slice profile).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import torch

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.io.limits import MAX_VOLUME_BYTES_ENV, max_volume_bytes
from medsr_viewer.core.slice_profile import interpolate_along
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.inference import InferenceError, TileUpdate
from medsr_viewer.models.normalisation import IntensityMap, fit_intensity_map
from medsr_viewer.models.through_plane.adapt import AdaptProgress, AdaptReport, iter_adapt
from medsr_viewer.models.through_plane.apply import (
    BAND_COLUMNS,
    PlaneProgress,
    ThroughPlaneGeometry,
    iter_bands,
    iter_through_plane,
    plan_geometry,
    prepare,
)
from medsr_viewer.models.tiling import Box
from medsr_viewer.models.volume_processing import default_axis

#: The card task this processor runs.
TASK = "through_plane_sr"


class ThroughPlaneProcessor:
    """A through-plane SR model bound to one study.

    Parameters
    ----------
    loaded
        A ``through_plane_sr`` model that passed the registry's checks.
    volume
        The thick-slice study.
    factor
        Through-plane factor; ``None`` for isotropic (the finer in-plane spacing).
    axis
        Slice axis in ``(z, y, x)`` order (default: the study's acquired slice axis).
    thickness_mm
        Slice thickness overriding the study's (default: the DICOM's SliceThickness when
        recorded, else the slice spacing, i.e. contiguous slices).
    device
        Where the network runs.

    Raises
    ------
    InferenceError
        When the model is not a through-plane model or the geometry is impossible.
    """

    def __init__(self, loaded: LoadedModel, volume: Volume, factor: float | None = None,
                 axis: int | None = None, thickness_mm: float | None = None,
                 device: torch.device | str = "cpu") -> None:
        if loaded.card.task != TASK:
            raise InferenceError(f"{loaded.path}: a {loaded.card.task!r} model is not a "
                                 f"through-plane model")
        self.loaded = loaded
        self.card = loaded.card
        self.volume = volume
        self.device = torch.device(device)
        if thickness_mm is None:
            recorded = volume.metadata.get("slice_thickness_mm")
            thickness_mm = float(recorded) if isinstance(recorded, (int, float)) else None
        try:
            self.geometry: ThroughPlaneGeometry = plan_geometry(
                volume.shape, volume.spacing, default_axis(volume) if axis is None else axis,
                factor, thickness_mm)
        except ValueError as exc:
            raise InferenceError(f"{volume.name or 'volume'}: {exc}") from exc
        self.intensity: IntensityMap = fit_intensity_map(self.card.normalisation, volume.voxels)
        self.normalised = self.intensity.to_model(volume.voxels)
        self.module: torch.nn.Module = prepare(loaded.module, self.device)
        self.adaptation = AdaptReport(0, 0.0, float("nan"), float("nan"), skipped="no adaptation")

    def iter_adapt(self, minutes: float, max_steps: int | None = None,
                   stop: threading.Event | None = None, seed: int = 0
                   ) -> Generator[AdaptProgress, None, AdaptReport]:
        """Adapt the network to this study (see :func:`iter_adapt`); later runs use it."""
        module, report = yield from iter_adapt(self.loaded.module, self.normalised,
                                               self.geometry, minutes, max_steps, seed,
                                               self.device, stop)
        self.module, self.adaptation = prepare(module, self.device), report
        return report

    def adapt(self, minutes: float, max_steps: int | None = None,
              stop: threading.Event | None = None) -> AdaptReport:
        """:meth:`iter_adapt` run to its end."""
        return run_to_end(self.iter_adapt(minutes, max_steps, stop))

    #: float32 arrays of the output's size alive at once in :meth:`iter_run` (spline base,
    #: fused sum, raw result).
    RUN_ARRAYS = 3

    def check_memory(self) -> None:
        """Refuse a whole-volume run whose working arrays exceed the volume memory limit
        (``$MEDSR_MAX_VOLUME_BYTES``), before anything is allocated.

        Raises
        ------
        InferenceError
            Naming the output shape, the memory it needs and the limit.
        """
        shape = self.geometry.output_shape(self.volume.shape)
        need = int(np.prod(shape)) * 4 * self.RUN_ARRAYS
        limit = max_volume_bytes()
        if need > limit:
            raise InferenceError(
                f"{self.volume.name or 'volume'}: a {'x'.join(map(str, shape))} result needs "
                f"{need / 2**30:.1f} GiB of working memory, above the limit of "
                f"{limit / 2**30:.1f} GiB (${MAX_VOLUME_BYTES_ENV}); choose a smaller --factor")

    def iter_run(self) -> Generator[PlaneProgress, None, Volume]:
        """Refine the whole study plane by plane; returns the fine-grid volume."""
        self.check_memory()
        fine = yield from iter_through_plane(self.module, self.normalised, self.geometry,
                                             self.device)
        if not np.all(np.isfinite(fine)):
            raise InferenceError(f"{self.loaded.path}: model produced NaN or infinite values")
        return self.result_volume(self.intensity.from_model(fine))

    def reformat_shape(self, view_axis: int) -> tuple[int, int]:
        """Shape of the result of one reformat across ``view_axis`` (the plane's axes in
        ``(z, y, x)`` order, the slice axis on the fine grid)."""
        shape = list(self.geometry.output_shape(self.volume.shape))
        del shape[view_axis]
        return (shape[0], shape[1])

    def iter_reformat(self, view_axis: int, index: int, call: Callable[..., Any] | None = None,
                      ) -> Generator[TileUpdate, None, np.ndarray]:
        """Refine one reformat plane (across ``view_axis``, which must not be the slice axis)
        band by band: yields a :class:`TileUpdate` per band (box on the result plane, raw
        units) and returns the plane in raw units, shaped :meth:`reformat_shape`.

        This is one orientation of :meth:`iter_run` (which averages both reformat stacks):
        what the viewer shows for the plane on screen without computing the whole volume.
        """
        axis = self.geometry.axis
        if view_axis == axis:
            raise InferenceError("through-plane SR refines reformats that contain the slice "
                                 "axis (coronal or sagittal of an axial study), not the "
                                 "acquired slices")
        plane = np.take(self.normalised, index, axis=view_axis)
        rows_first = axis < 3 - axis - view_axis
        plane = plane if rows_first else plane.T
        base = interpolate_along(plane, 0, self.geometry.positions(), order=3)
        out = np.empty(base.shape, np.float32)
        total = -(-base.shape[1] // BAND_COLUMNS)
        for done, (start, stop, band) in enumerate(
                iter_bands(self.module, base, self.geometry.profile, self.device, call), 1):
            if not np.all(np.isfinite(band)):
                raise InferenceError(f"{self.loaded.path}: model produced NaN or infinite "
                                     "values")
            raw = self.intensity.from_model(band).astype(np.float32)
            out[:, start:stop] = raw
            box = (Box(0, start, base.shape[0], stop) if rows_first
                   else Box(start, 0, stop, base.shape[0]))
            yield TileUpdate(done, total, box, raw if rows_first else np.ascontiguousarray(raw.T))
        return out if rows_first else np.ascontiguousarray(out.T)

    def run(self) -> Volume:
        """:meth:`iter_run` run to its end."""
        return run_to_end(self.iter_run())

    def provenance(self) -> dict[str, Any]:
        """What produced the output (no patient data)."""
        card = self.card
        return {
            "model": card.name,
            "model_version": card.version,
            "sha256": card.sha256,
            "file_sha256": self.loaded.sha256,
            "task": card.task,
            "model_file": self.loaded.path.name,
            "device": self.device.type,
            "through_plane": self.geometry.to_dict(),
            "adaptation": self.adaptation.to_dict(),
            "normalisation": {"mode": card.normalisation.mode, "low": self.intensity.low,
                              "high": self.intensity.high, "clip": self.intensity.clip},
            "input_name": self.volume.name,
            "modality": self.volume.modality,
            "input_shape_zyx": list(self.volume.shape),
            "input_spacing_zyx": list(self.volume.spacing),
        }

    def result_volume(self, voxels: np.ndarray) -> Volume:
        """Wrap fine-grid voxels (raw units) with the fine grid's affine and provenance."""
        volume = self.volume
        metadata = {k: v for k, v in volume.metadata.items() if k not in ("source",)}
        metadata["slice_axis"] = self.geometry.axis
        metadata["slice_thickness_mm"] = self.geometry.out_spacing_mm
        metadata["provenance"] = self.provenance()
        name = f"{volume.name} [{self.card.name}]" if volume.name else self.card.name
        return volume.with_voxels(voxels.astype(np.float32), affine=self.geometry.affine(
            volume.affine), name=name, metadata=metadata, warnings=())
