"""The :class:`Volume` value type every layer of the application passes around.

Conventions (documented once here and relied on everywhere):

- ``voxels`` is indexed ``(z, y, x)``: slice, row, column.
- ``affine`` is the 4x4 matrix mapping a homogeneous voxel index **in (x, y, z) order**
  ``(column, row, slice, 1)`` to world coordinates in millimetres, in the DICOM patient
  convention **LPS** (+x towards the patient's left, +y towards posterior, +z towards
  superior). NIfTI files (RAS world) are converted on load by negating the first two rows.
- The world position refers to the *centre* of a voxel.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: Units of the voxel values for a modality, shown in the readout.
MODALITY_UNITS: dict[str, str] = {"CT": "HU", "PT": "SUV"}


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image on a world grid: voxels plus the geometry and metadata needed to show it.

    Parameters
    ----------
    voxels
        Array indexed ``(z, y, x)``; 2-D images are stored with ``z`` of length 1.
    affine
        4x4 voxel-(x, y, z)-index to world-LPS-mm matrix (see module docstring).
    modality
        DICOM-style modality code (``"CT"``, ``"MR"``, ``"OT"`` for unknown ...).
    name
        Display name (file or series description, never a patient identifier).
    window
        Default ``(center, width)`` window for display, or ``None`` to derive one.
    metadata
        Source facts later steps need: ``series_uid``, ``frame_of_reference_uid``,
        ``source`` (path), ``slice_axis`` (the acquired slice axis, ``0`` = z) ...
    warnings
        Problems found while loading that the user should see (missing slices ...).
    rgb
        For colour images, the ``(z, y, x, 3)`` ``uint8`` colour of each voxel, shown as it
        is; ``voxels`` then hold its luminance, which the window, measurements and models
        use. ``None`` for grayscale images.
    """

    voxels: np.ndarray
    affine: np.ndarray
    modality: str = "OT"
    name: str = ""
    window: tuple[float, float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    rgb: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.voxels.ndim != 3:
            raise ValueError(f"Volume voxels must be 3-D (z, y, x), got shape {self.voxels.shape}")
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f"Volume affine must be 4x4, got {affine.shape}")
        object.__setattr__(self, "affine", affine)
        if self.rgb is not None:
            rgb = np.asarray(self.rgb)
            if rgb.shape != self.voxels.shape + (3,) or rgb.dtype != np.uint8:
                raise ValueError(
                    f"Volume rgb must be uint8 {self.voxels.shape + (3,)}, got {rgb.dtype} "
                    f"{rgb.shape}"
                )
            object.__setattr__(self, "rgb", rgb)

    @property
    def is_colour(self) -> bool:
        """Whether the volume is a colour image (:attr:`rgb` holds its colours)."""
        return self.rgb is not None

    @classmethod
    def from_spacing(
        cls,
        voxels: np.ndarray,
        spacing_zyx: tuple[float, float, float] = (1.0, 1.0, 1.0),
        origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0),
        direction: np.ndarray | None = None,
        **kwargs: Any,
    ) -> Volume:
        """Build a volume from spacing ``(z, y, x)``, origin and a 3x3 direction-cosine matrix.

        ``direction`` has as columns the world unit vectors of the x, y and z voxel axes
        (identity when omitted).
        """
        dircos = np.eye(3) if direction is None else np.asarray(direction, dtype=np.float64)
        affine = np.eye(4)
        sz, sy, sx = spacing_zyx
        affine[:3, :3] = dircos * np.array([sx, sy, sz])[None, :]
        affine[:3, 3] = origin_xyz
        return cls(voxels=voxels, affine=affine, **kwargs)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel array shape ``(z, y, x)``."""
        z, y, x = self.voxels.shape
        return (z, y, x)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm, ``(z, y, x)`` order to match :attr:`voxels`."""
        sx, sy, sz = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(sz), float(sy), float(sx))

    @property
    def origin(self) -> tuple[float, float, float]:
        """World position (LPS mm) of the centre of voxel ``[0, 0, 0]``."""
        x, y, z = self.affine[:3, 3]
        return (float(x), float(y), float(z))

    @property
    def direction(self) -> np.ndarray:
        """3x3 direction cosines; columns are the world unit vectors of voxel axes x, y, z."""
        cols = self.affine[:3, :3]
        return cols / np.linalg.norm(cols, axis=0)[None, :]

    @property
    def units(self) -> str:
        """Units of the voxel values (``"HU"`` for CT, empty when unknown)."""
        return MODALITY_UNITS.get(self.modality, "")

    def index_to_world(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """World LPS mm of voxel index/indices given in ``(z, y, x)`` order (last axis)."""
        idx = np.asarray(zyx, dtype=np.float64)
        xyz1 = np.concatenate([idx[..., ::-1], np.ones(idx.shape[:-1] + (1,))], axis=-1)
        return (xyz1 @ self.affine.T)[..., :3]

    def world_to_index(self, xyz: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Continuous voxel index ``(z, y, x)`` of world LPS mm point(s) (last axis)."""
        pts = np.asarray(xyz, dtype=np.float64)
        pts1 = np.concatenate([pts, np.ones(pts.shape[:-1] + (1,))], axis=-1)
        ijk = (pts1 @ np.linalg.inv(self.affine).T)[..., :3]
        return ijk[..., ::-1]

    def value_range(self) -> tuple[float, float]:
        """Finite minimum and maximum of the voxels (``(0, 0)`` when none are finite)."""
        finite = self.voxels[np.isfinite(self.voxels)]
        if finite.size == 0:
            return (0.0, 0.0)
        return (float(finite.min()), float(finite.max()))

    def with_voxels(self, voxels: np.ndarray, affine: np.ndarray | None = None, **changes: Any) -> Volume:
        """A copy with new voxels (and optionally a new affine or other fields).

        The colour (:attr:`rgb`) is kept only when ``voxels`` is this volume's own array
        (new warnings, a new affine): new voxel values (a model's result, a resampled copy)
        are grayscale unless ``rgb`` is given.
        """
        if "rgb" not in changes and voxels is not self.voxels:
            changes["rgb"] = None
        return replace(
            self, voxels=voxels, affine=self.affine if affine is None else affine, **changes
        )
