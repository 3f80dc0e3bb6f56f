"""Is this study like the model's training data? The out-of-distribution warning.

A model card records its **training domain** (``card.training["domain"]``, written by
``medsr train`` and for the bundled models): the modalities, the in-plane pixel spacing range
and image sizes of the training images, and the range over training images of a few
statistics of the *normalised* model input (what the network actually sees):

- ``background``: share of pixels below 0.05 (dark surroundings: MR/CT have them, EM not),
- ``bright``: share above 0.95,
- ``mean`` and ``std`` of the normalised values,
- ``edges``: mean absolute Laplacian (texture and noise at the pixel scale).

Before a run, :func:`domain_warnings` compares a study with that record and returns one
plain sentence per mismatch (for a banner or stderr; never blocking): a different
modality when the study's is known, a spacing or size far outside the range, statistics
outside the training range widened by a tolerance. A study of unknown modality (NIfTI, PNG:
"OT") is compared by what can be measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import laplace

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.normalisation import IntensityMap, fit_intensity_map

#: Statistics recorded per training image, in the order shown to users.
FEATURES = ("background", "bright", "mean", "std", "edges")
#: What each statistic means, for the warning text.
FEATURE_TEXT = {
    "background": "dark background covers {value:.0%} of the image (training: {lo:.0%}–{hi:.0%})",
    "bright": "saturated pixels cover {value:.0%} of the image (training: {lo:.0%}–{hi:.0%})",
    "mean": "mean normalised intensity {value:.2f} (training: {lo:.2f}–{hi:.2f})",
    "std": "intensity spread {value:.2f} (training: {lo:.2f}–{hi:.2f})",
    "edges": "pixel-scale texture {value:.3f} (training: {lo:.3f}–{hi:.3f})",
}
#: Absolute tolerance added to each training range (the data are few).
TOLERANCE = {"background": 0.10, "bright": 0.05, "mean": 0.08, "std": 0.05, "edges": 0.02}
#: Slices sampled per volume.
SAMPLE_SLICES = 12
#: Modalities that say nothing (the file format carries none).
UNKNOWN_MODALITIES = ("OT", "")


@dataclass(frozen=True)
class StudySummary:
    """What :func:`summarise` measures on one volume: median statistics and its geometry."""

    features: dict[str, float]
    modality: str
    spacing_mm: float | None
    size: int


def slice_features(normalised: np.ndarray) -> dict[str, float]:
    """The :data:`FEATURES` of one normalised 2-D slice."""
    x = np.clip(np.asarray(normalised, dtype=np.float64), -1.0, 2.0)
    return {
        "background": float((x < 0.05).mean()),
        "bright": float((x > 0.95).mean()),
        "mean": float(x.mean()),
        "std": float(x.std()),
        "edges": float(np.abs(laplace(x, mode="nearest")).mean()),
    }


def summarise(
    volume: Volume, card: ModelCard, axis: int = 0, intensity: IntensityMap | None = None
) -> StudySummary:
    """:func:`summarise_voxels` of a loaded study, with the card's normalisation (or the
    ``intensity`` map already fitted to this volume)."""
    # A plain image file (PNG, TIFF ...) has no pixel spacing: its 1 mm is a placeholder.
    has_spacing = volume.metadata.get("format") != "image"
    return summarise_voxels(volume.voxels, volume.spacing, volume.modality, card.normalisation,
                            axis, has_spacing, intensity)


def summarise_voxels(
    voxels: np.ndarray,
    spacing: Sequence[float],
    modality: str,
    normalisation: Normalisation,
    axis: int = 0,
    has_spacing: bool = True,
    intensity: IntensityMap | None = None,
) -> StudySummary:
    """Median features over up to :data:`SAMPLE_SLICES` non-empty slices along ``axis``."""
    voxels = np.asarray(voxels)
    if intensity is None:
        intensity = fit_intensity_map(normalisation, voxels)
    count = voxels.shape[axis]
    picks = np.unique(np.linspace(0, count - 1, min(count, 3 * SAMPLE_SLICES)).astype(int))
    peak = float(np.nanmax(voxels)) if voxels.size else 0.0

    def anatomy(index: int) -> bool:  # empty end slices say nothing about the anatomy
        plane = np.take(voxels, index, axis=axis)
        return bool(plane.size) and float(np.nanmax(plane)) > 0.05 * peak

    kept = [int(index) for index in picks if anatomy(index)]
    kept = kept[:: max(1, len(kept) // SAMPLE_SLICES)] or [count // 2]  # every k-th measured
    rows = [slice_features(intensity.to_model(np.take(voxels, i, axis=axis))) for i in kept]
    features = {name: float(np.median([r[name] for r in rows])) for name in FEATURES}
    in_plane_spacing = [float(s) for a, s in enumerate(spacing) if a != axis]
    in_plane = float(np.mean(in_plane_spacing)) if has_spacing else None
    size = int(max(n for a, n in enumerate(voxels.shape) if a != axis))
    return StudySummary(features, modality, in_plane, size)


def training_domain(
    summaries: Sequence[StudySummary], modalities: Iterable[str] = ()
) -> dict[str, Any]:
    """The card's ``training["domain"]`` block from the training images' summaries."""
    spacings = [s.spacing_mm for s in summaries if s.spacing_mm is not None]
    return {
        "modalities": sorted(set(modalities) | {s.modality for s in summaries}),
        "spacing_mm": [min(spacings), max(spacings)] if spacings else None,
        "size_px": [min(s.size for s in summaries), max(s.size for s in summaries)],
        "features": {
            name: [min(s.features[name] for s in summaries),
                   max(s.features[name] for s in summaries)]
            for name in FEATURES
        },
        "images": len(summaries),
    }


def volumes_domain(
    volumes: Sequence[Any], normalisation: Normalisation, modalities: Iterable[str] = ()
) -> dict[str, Any]:
    """:func:`training_domain` of training studies (objects with ``voxels``, ``spacing`` and
    ``modality``, e.g. :class:`medsr_viewer.models.study_volumes.StudyVolume`)."""
    return training_domain(
        [summarise_voxels(v.voxels, v.spacing, v.modality, normalisation) for v in volumes],
        modalities,
    )


def domain_warnings(
    card: ModelCard, volume: Volume, axis: int = 0, intensity: IntensityMap | None = None
) -> list[str]:
    """Plain sentences naming what about ``volume`` lies outside ``card``'s training domain.

    Empty when the card records no domain, or when nothing is outside.
    """
    domain = card.training.get("domain") if isinstance(card.training, dict) else None
    if not isinstance(domain, dict):
        return []
    summary = summarise(volume, card, axis, intensity)
    trained = [m for m in domain.get("modalities", []) if m not in UNKNOWN_MODALITIES]
    kind = "/".join(trained) or "the training data"
    problems: list[str] = []
    other_modality = (
        summary.modality not in UNKNOWN_MODALITIES and bool(trained)
        and summary.modality not in trained
    )
    if other_modality:
        problems.append(f"trained on {kind} images; this study is {summary.modality}")
    spacing = domain.get("spacing_mm")
    if spacing is None and summary.spacing_mm is not None:
        problems.append(f"trained on images without a physical pixel size; this study has "
                        f"{summary.spacing_mm:.2f} mm pixels")
    elif isinstance(spacing, list) and summary.spacing_mm is None:
        problems.append(f"trained on scans with {float(spacing[0]):.2f}–{float(spacing[1]):.2f} "
                        "mm pixels; this image has no physical pixel size")
    if summary.spacing_mm is not None and isinstance(spacing, list) and len(spacing) == 2:
        lo, hi = float(spacing[0]), float(spacing[1])
        if not 0.5 * lo <= summary.spacing_mm <= 2.0 * hi:
            problems.append(f"pixel spacing {summary.spacing_mm:.2f} mm (training: "
                            f"{lo:.2f}–{hi:.2f} mm)")
    features = domain.get("features", {})
    for name in FEATURES:
        bounds = features.get(name)
        if not (isinstance(bounds, list) and len(bounds) == 2):
            continue
        lo, hi = float(bounds[0]), float(bounds[1])
        value = summary.features[name]
        tol = TOLERANCE[name]
        if not lo - tol <= value <= hi + tol:
            problems.append(FEATURE_TEXT[name].format(value=value, lo=lo, hi=hi))
    if problems and not other_modality:
        problems.insert(0, f"this study does not look like the model's training images ({kind})")
    return problems


def domain_message(
    card: ModelCard, volume: Volume, axis: int = 0, intensity: IntensityMap | None = None
) -> str:
    """One line for a banner or stderr (``""`` when the study fits the training domain)."""
    problems = domain_warnings(card, volume, axis, intensity)
    if not problems:
        return ""
    return f"{card.name}: may not suit this study – " + "; ".join(problems)
