"""Random training patches from real slices, with the augmentations the issue asks for.

Patches are cut from slices along every axis whose in-plane voxels are roughly square (an
anisotropic volume's through-plane slices are blurred along one direction and would teach the
model the wrong prior), after per-volume percentile normalisation to ``[0, 1]``. Augmentation:
random flips, 90-degree rotations and intensity scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr_viewer.models.study_volumes import StudyVolume

#: Percentiles of the whole volume mapped to 0 and 1 (also written into the cards).
NORM_LOW_PERCENTILE = 0.0
NORM_HIGH_PERCENTILE = 99.9
#: Largest ratio of the two in-plane spacings for slices along an axis to be used.
MAX_INPLANE_ANISOTROPY = 1.5


def percentile_bounds(
    voxels: np.ndarray, low: float = NORM_LOW_PERCENTILE, high: float = NORM_HIGH_PERCENTILE
) -> tuple[float, float]:
    """Raw values at the ``low`` and ``high`` percentiles of ``voxels`` (``hi > lo`` ensured)."""
    finite = voxels[np.isfinite(voxels)]
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(finite, [low, high]))
    if hi <= lo:
        hi = lo + 1.0
    return (lo, hi)


def usable_axes(spacing: tuple[float, float, float]) -> list[int]:
    """Axes whose slices have in-plane spacing ratio <= :data:`MAX_INPLANE_ANISOTROPY`."""
    axes = []
    for axis in range(3):
        a, b = (spacing[i] for i in range(3) if i != axis)
        if max(a, b) / max(min(a, b), 1e-6) <= MAX_INPLANE_ANISOTROPY:
            axes.append(axis)
    return axes or [0]


@dataclass
class _Normalised:
    name: str
    voxels: np.ndarray
    axes: list[int]


class PatchSampler:
    """Draws augmented square patches from normalised real volumes.

    Parameters
    ----------
    volumes
        Training volumes (raw units); each is normalised by its own percentiles.
    patch_size
        Side of the square patches (HR side for SR).
    seed
        Seed of the sampler's random generator (training is reproducible from it).
    min_foreground
        A patch is redrawn (up to a few times) when its mean is below this, so the model does
        not mostly see air.
    """

    def __init__(
        self,
        volumes: list[StudyVolume],
        patch_size: int,
        seed: int = 0,
        min_foreground: float = 0.05,
    ) -> None:
        if not volumes:
            raise ValueError("no training volumes")
        self.patch_size = patch_size
        self.min_foreground = min_foreground
        self.rng = np.random.default_rng(seed)
        self.volumes: list[_Normalised] = []
        for vol in volumes:
            lo, hi = percentile_bounds(vol.voxels)
            norm = ((vol.voxels - lo) / (hi - lo)).astype(np.float32)
            axes = [a for a in usable_axes(vol.spacing) if self._fits(norm, a)]
            if axes:
                self.volumes.append(_Normalised(vol.name, norm, axes))
        if not self.volumes:
            raise ValueError(f"no training slice is at least {patch_size} px on each side")

    def _fits(self, voxels: np.ndarray, axis: int) -> bool:
        shape = [s for i, s in enumerate(voxels.shape) if i != axis]
        return min(shape) >= self.patch_size

    def patch(self) -> np.ndarray:
        """One augmented ``(patch_size, patch_size)`` float32 patch."""
        rng, p = self.rng, self.patch_size
        for _attempt in range(10):
            vol = self.volumes[int(rng.integers(len(self.volumes)))]
            axis = vol.axes[int(rng.integers(len(vol.axes)))]
            index = int(rng.integers(vol.voxels.shape[axis]))
            plane = np.take(vol.voxels, index, axis=axis)
            y = int(rng.integers(plane.shape[0] - p + 1))
            x = int(rng.integers(plane.shape[1] - p + 1))
            crop = plane[y : y + p, x : x + p]
            if float(crop.mean()) >= self.min_foreground:
                break
        return augment(crop, rng)

    def batch(self, size: int) -> np.ndarray:
        """A ``(size, 1, patch_size, patch_size)`` float32 batch of patches."""
        return np.stack([self.patch() for _ in range(size)])[:, None]


def augment(patch: np.ndarray, rng: np.random.Generator, intensity: tuple[float, float] = (0.75, 1.25)
            ) -> np.ndarray:
    """Random flip, 90-degree rotation and global intensity scaling of a 2-D patch."""
    out = np.rot90(patch, int(rng.integers(4)))
    if rng.random() < 0.5:
        out = out[:, ::-1]
    scale = float(rng.uniform(*intensity))
    return np.ascontiguousarray(out * scale, dtype=np.float32)
