"""Running a through-plane SR network on a whole volume: plan the fine grid, refine, fuse.

The volume (normalised by the card) is first put on the fine grid along its slice axis by the
protocol's cubic B-spline (:func:`~medsr_viewer.core.slice_profile.interpolate_along`). The
network then refines every reformat that contains the slice axis — the planes across each of
the two in-plane axes (coronal and sagittal for an axial study), rows along the slice axis —
and the two refined volumes are averaged (fusion). A reformat whose other axis is itself
coarse (e.g. a volume with two thick axes) is left out of the fusion, because the network
expects sharp columns.

:func:`iter_through_plane` is a generator yielding :class:`PlaneProgress` after each plane, so
the CLI's progress bar and the viewer's worker report and cancel alike; its return value is
the fine-grid volume in the model's units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from medsr_viewer.core.slice_profile import (
    SliceProfile,
    fine_positions,
    interpolate_along,
    isotropic_factor,
    output_count,
    through_plane_affine,
)

if TYPE_CHECKING:  # the geometry is planned without torch; running the network imports it
    import torch

#: Columns per network call: a 256-wide band keeps activations inside the CPU caches.
BAND_COLUMNS = 256
#: Columns of context added on each side of a band (dropped from its output).
BAND_OVERLAP = 16
#: An in-plane axis counts as sharp when its spacing is at most this times the finest one.
SHARP_RATIO = 1.5


@dataclass(frozen=True)
class ThroughPlaneGeometry:
    """The fine grid of a through-plane SR result.

    Parameters
    ----------
    axis
        The slice axis in ``(z, y, x)`` order.
    n_in, n_out
        Slices along ``axis`` before and after.
    spacing_mm
        Input voxel size ``(z, y, x)``.
    thickness_mm
        Slice thickness (the profile width); equal to the slice spacing unless the study says
        otherwise (a gap when smaller, overlapping slices when larger).
    """

    axis: int
    n_in: int
    n_out: int
    spacing_mm: tuple[float, float, float]
    thickness_mm: float

    @property
    def factor(self) -> float:
        """Effective factor ``n_out / n_in`` (the requested one after rounding)."""
        return self.n_out / self.n_in

    @property
    def out_spacing_mm(self) -> float:
        """Slice spacing of the fine grid."""
        return self.spacing_mm[self.axis] / self.factor

    @property
    def profile(self) -> SliceProfile:
        """The acquisition's slice profile in fine-grid pixels."""
        return SliceProfile(self.factor, self.thickness_mm / self.out_spacing_mm)

    def positions(self) -> np.ndarray:
        """Input slice coordinates of the output slices (same world extent)."""
        return fine_positions(self.n_in, self.n_out)

    def output_shape(self, shape: Sequence[int]) -> tuple[int, int, int]:
        """Voxel shape of the result for an input of ``shape``."""
        out = list(shape)
        out[self.axis] = self.n_out
        return (int(out[0]), int(out[1]), int(out[2]))

    def affine(self, affine: np.ndarray) -> np.ndarray:
        """Affine of the result (half-voxel shift along the slice axis, edges unchanged)."""
        return through_plane_affine(affine, self.axis, self.n_in, self.n_out)

    def sharp_axes(self) -> list[int]:
        """In-plane axes sharp enough to serve as the reformats' columns."""
        others = [a for a in range(3) if a != self.axis]
        finest = min(self.spacing_mm[a] for a in others)
        sharp = [a for a in others if self.spacing_mm[a] <= SHARP_RATIO * finest]
        return sharp or others

    def to_dict(self) -> dict[str, object]:
        """JSON form for provenance."""
        return {"slice_axis": self.axis, "slices_in": self.n_in, "slices_out": self.n_out,
                "factor": round(self.factor, 6),
                "slice_spacing_mm": round(self.spacing_mm[self.axis], 6),
                "out_slice_spacing_mm": round(self.out_spacing_mm, 6),
                "slice_thickness_mm": round(self.thickness_mm, 6),
                "slice_profile": self.profile.to_dict()}


def plan_geometry(shape: Sequence[int], spacing_mm: Sequence[float], axis: int,
                  factor: float | None = None, thickness_mm: float | None = None
                  ) -> ThroughPlaneGeometry:
    """The fine grid for ``factor`` (``None``: isotropic, the finer in-plane spacing).

    Raises
    ------
    ValueError
        When the factor is outside 1 .. :data:`~medsr_viewer.core.slice_profile.MAX_FACTOR`,
        finer than isotropic, or the spacings are not positive.
    """
    if axis not in (0, 1, 2):
        raise ValueError(f"slice axis must be 0, 1 or 2, got {axis}")
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != 3 or not all(s > 0 and math.isfinite(s) for s in spacing):
        raise ValueError(f"bad voxel spacing {spacing_mm}")
    pixel = tuple(spacing[a] for a in range(3) if a != axis)
    iso = isotropic_factor(spacing[axis], (pixel[0], pixel[1]))
    if factor is None:
        factor = iso
    elif factor > iso * 1.001:
        raise ValueError(f"factor {factor:g} would make slices finer than the pixels "
                         f"({spacing[axis]:g} mm / {factor:g} < {min(pixel):g} mm); "
                         f"isotropic is {iso:.3g}")
    n_in = int(shape[axis])
    n_out = output_count(n_in, float(factor))
    thickness = spacing[axis] if thickness_mm is None or thickness_mm <= 0 else float(thickness_mm)
    return ThroughPlaneGeometry(axis, n_in, n_out, (spacing[0], spacing[1], spacing[2]), thickness)


def coarse_axis(spacing_mm: Sequence[float], ratio: float = SHARP_RATIO) -> int | None:
    """The thick axis of an anisotropic volume (largest spacing, at least ``ratio`` times the
    finest), or ``None`` when the volume is close to isotropic."""
    spacing = [float(s) for s in spacing_mm]
    axis = int(np.argmax(spacing))
    return axis if spacing[axis] >= ratio * min(spacing) else None


@dataclass(frozen=True)
class PlaneProgress:
    """Progress of :func:`iter_through_plane`: planes done of the total."""

    done: int
    total: int

    @property
    def fraction(self) -> float:
        """Share done."""
        return self.done / max(1, self.total)


def prepare(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` on ``device`` in eval mode with channels-last weights (1.4x faster on CPU:
    oneDNN convolutions without layout reorders; the values are the same)."""
    import torch

    from medsr_viewer.models.device import configure_cpu_threads

    if device.type == "cpu":
        configure_cpu_threads()
    module = module.to(device)
    for param in module.parameters():  # Module.to(memory_format=...) is untyped
        if param.dim() == 4:
            param.data = param.data.contiguous(memory_format=torch.channels_last)
    return module.eval()


def iter_bands(module: torch.nn.Module, plane: np.ndarray, profile: SliceProfile,
               device: torch.device,
               call: Callable[[Callable[[], torch.Tensor]], torch.Tensor] | None = None,
               ) -> Generator[tuple[int, int, np.ndarray], None, None]:
    """One reformat (rows along the slice axis, already on the fine rows) through the network
    in column bands of :data:`BAND_COLUMNS` with :data:`BAND_OVERLAP` context; yields
    ``(start, stop, band)`` per band. ``call`` runs each network call (e.g. time-bounded)."""
    import torch

    from medsr_viewer.models.architectures.through_plane import condition

    cols = plane.shape[1]
    tensor = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))[None, None]
    for start in range(0, cols, BAND_COLUMNS):
        stop = min(cols, start + BAND_COLUMNS)
        lo, hi = max(0, start - BAND_OVERLAP), min(cols, stop + BAND_OVERLAP)
        x = condition(tensor[..., lo:hi].to(device), profile.spacing, profile.thickness)
        x = x.contiguous(memory_format=torch.channels_last)

        def forward(x: torch.Tensor = x) -> torch.Tensor:
            with torch.inference_mode():
                return module(x)

        y = (forward() if call is None else call(forward))[0, 0].float().cpu().numpy()
        yield start, stop, y[:, start - lo : start - lo + (stop - start)]


def refine_plane(module: torch.nn.Module, plane: np.ndarray, profile: SliceProfile,
                 device: torch.device) -> np.ndarray:
    """:func:`iter_bands` assembled into the refined plane."""
    out = np.empty_like(plane, dtype=np.float32)
    for start, stop, band in iter_bands(module, plane, profile, device):
        out[:, start:stop] = band
    return out


def iter_through_plane(module: torch.nn.Module, normalised: np.ndarray,
                       geometry: ThroughPlaneGeometry, device: torch.device | str = "cpu"
                       ) -> Generator[PlaneProgress, None, np.ndarray]:
    """Refine ``normalised`` (model units, input grid) onto the fine grid, plane by plane.

    Yields
    ------
    PlaneProgress
        After every reformat plane (closing the generator cancels).

    Returns
    -------
    numpy.ndarray
        The fused fine-grid volume (float32, model units).
    """
    import torch

    dev = torch.device(device)
    module = prepare(module, dev)
    axis = geometry.axis
    base = interpolate_along(normalised, axis, geometry.positions(), order=3)
    profile = geometry.profile
    # Planes are cut across one axis and hold the slice axis (rows) and a sharp axis (columns).
    across = [3 - axis - c for c in geometry.sharp_axes()]
    total = sum(base.shape[a] for a in across)
    fused = np.zeros_like(base)
    done = 0
    for b in across:
        rows_first = axis < 3 - axis - b
        for index in range(base.shape[b]):
            plane = np.take(base, index, axis=b)
            plane = plane if rows_first else plane.T
            refined = refine_plane(module, plane, profile, dev)
            refined = refined if rows_first else refined.T
            target = [slice(None)] * 3
            target[b] = slice(index, index + 1)
            fused[tuple(target)] += np.expand_dims(refined, b)
            done += 1
            yield PlaneProgress(done, total)
    fused /= float(len(across))
    return fused
