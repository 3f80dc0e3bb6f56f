"""Training pairs for through-plane SR, made from high-resolution *in-plane* slices.

The SMORE idea (Zhao et al., IEEE TMI 2021): a thick-slice volume is sharp within its slices,
so degrading an in-plane slice along one of its axes with the study's slice profile gives
pairs (thick-slice-like input, sharp target) that look like the blurred through-plane
reformats the network will be applied to. Each pair here: a region of a real slice, flipped
and intensity-scaled, sampled along its rows with a boxcar :class:`SliceProfile`
(:func:`~medsr_viewer.core.slice_profile.degrade_along`), put back on the fine rows with the
cubic B-spline of the evaluation protocol, and cropped away from the region's ends. The input
carries the profile as two constant channels (:func:`condition`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medsr_viewer.core.slice_profile import SliceProfile, degrade_along, interpolate_along


@dataclass(frozen=True)
class PlaneSource:
    """Slices of one normalised volume usable as sharp targets.

    Parameters
    ----------
    name
        Volume name (for logs and cards).
    voxels
        Normalised float32 ``(z, y, x)`` array.
    plane_axis
        Slices are taken across this axis (their two other axes are sharp).
    directions
        Which in-plane axis may play the slice axis: 0 = the plane's rows, 1 = its columns.
    """

    name: str
    voxels: np.ndarray
    plane_axis: int
    directions: tuple[int, ...] = (0, 1)


@dataclass(frozen=True)
class ProfilePrior:
    """The slice profiles a training run draws (a per-study adaptation fixes one).

    Half the draws take one of ``fixed`` factors, the rest a uniform factor in
    ``factor_range``; a ``gap_share`` of them get a thinner slice (``thickness`` from
    ``min_fill`` to 1 times the spacing), the others contiguous slices.
    """

    factor_range: tuple[float, float] = (1.5, 5.0)
    fixed: tuple[float, ...] = (2.0, 4.0)
    fixed_share: float = 0.5
    gap_share: float = 0.3
    min_fill: float = 0.5

    def draw(self, rng: np.random.Generator) -> SliceProfile:
        """One random profile."""
        if self.fixed and rng.random() < self.fixed_share:
            spacing = float(self.fixed[int(rng.integers(len(self.fixed)))])
        else:
            spacing = float(rng.uniform(*self.factor_range))
        fill = float(rng.uniform(self.min_fill, 1.0)) if rng.random() < self.gap_share else 1.0
        return SliceProfile(spacing, spacing * fill)


def condition_maps(image: np.ndarray, profile: SliceProfile) -> np.ndarray:
    """``(3, H, W)`` network input: ``image`` plus its spacing and thickness channels."""
    from medsr_viewer.models.architectures.through_plane import CONDITION_SCALE  # needs torch

    h, w = image.shape
    return np.stack([
        image.astype(np.float32),
        np.full((h, w), profile.spacing / CONDITION_SCALE, np.float32),
        np.full((h, w), profile.thickness / CONDITION_SCALE, np.float32),
    ])


def degrade_rows(region: np.ndarray, profile: SliceProfile) -> np.ndarray:
    """Thick-slice version of ``region`` along its rows, resampled back onto its rows by the
    cubic B-spline (what the network sees). Same shape as ``region``."""
    lr = degrade_along(region, 0, profile)
    positions = (np.arange(region.shape[0], dtype=np.float64) + 0.5) / profile.spacing - 0.5
    return interpolate_along(lr, 0, positions, order=3)


class ThroughPlanePairs:
    """Draws (input, target) batches for through-plane SR from real in-plane slices.

    Parameters
    ----------
    sources
        Where the sharp slices come from.
    patch_size
        Side of the square target patches.
    prior
        Random profiles, or a fixed :class:`SliceProfile` (a study's own geometry).
    seed
        Seed of the random generator (training is reproducible from it).
    min_foreground
        A region whose mean is below this is redrawn (a few times), so air is rare.
    """

    def __init__(self, sources: Sequence[PlaneSource], patch_size: int,
                 prior: ProfilePrior | SliceProfile, seed: int = 0,
                 min_foreground: float = 0.05) -> None:
        self.patch_size = patch_size
        self.prior = prior
        self.min_foreground = min_foreground
        self.rng = np.random.default_rng(seed)
        largest = prior.spacing if isinstance(prior, SliceProfile) else max(
            [prior.factor_range[1], *prior.fixed])
        self.margin = math.ceil(2 * largest) + 2
        self.sources = [s for s in sources if self._fits(s)]
        if not self.sources:
            need = patch_size + 2 * self.margin
            raise ValueError(f"no slice is at least {need} x {patch_size} px "
                             f"(patch {patch_size} plus the profile's margin)")

    def _fits(self, source: PlaneSource) -> bool:
        rows, cols = (n for a, n in enumerate(source.voxels.shape) if a != source.plane_axis)
        need = self.patch_size + 2 * self.margin
        return any((rows, cols)[d] >= need and (cols, rows)[d] >= self.patch_size
                   for d in source.directions)

    def _profile(self) -> SliceProfile:
        if isinstance(self.prior, SliceProfile):
            return self.prior
        return self.prior.draw(self.rng)

    def _region(self, rows_needed: int) -> np.ndarray:
        rng, p = self.rng, self.patch_size
        region = np.zeros((rows_needed, p), np.float32)
        for _attempt in range(10):
            source = self.sources[int(rng.integers(len(self.sources)))]
            plane = np.take(source.voxels, int(rng.integers(source.voxels.shape[source.plane_axis])),
                            axis=source.plane_axis)
            options = [d for d in source.directions
                       if (plane.shape if d == 0 else plane.shape[::-1])[0] >= rows_needed
                       and (plane.shape if d == 0 else plane.shape[::-1])[1] >= p]
            if not options:
                continue
            if options[int(rng.integers(len(options)))] == 1:
                plane = plane.T
            y = int(rng.integers(plane.shape[0] - rows_needed + 1))
            x = int(rng.integers(plane.shape[1] - p + 1))
            region = plane[y : y + rows_needed, x : x + p]
            if float(region.mean()) >= self.min_foreground:
                break
        if rng.random() < 0.5:
            region = region[::-1]
        if rng.random() < 0.5:
            region = region[:, ::-1]
        return np.ascontiguousarray(region * float(rng.uniform(0.75, 1.25)), dtype=np.float32)

    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        """One ``(input (3, P, P), target (1, P, P))`` pair."""
        profile = self._profile()
        region = self._region(self.patch_size + 2 * self.margin)
        blurred = degrade_rows(region, profile)
        crop = slice(self.margin, self.margin + self.patch_size)
        return condition_maps(blurred[crop], profile), region[crop][None]

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` pairs stacked: inputs ``(N, 3, P, P)``, targets ``(N, 1, P, P)``."""
        pairs = [self.pair() for _ in range(size)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
