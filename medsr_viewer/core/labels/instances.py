"""Instance label maps from a segmentation network's class probabilities, and their targets.

A ``segment_instances`` model (e.g. the bundled ``seg-em-cells``) predicts per pixel three
classes: 0 = outside any object (background, or membrane in EM), 1 = object core and
2 = the object's boundary band (object pixels within ``band`` px of its edge). The band
separates touching objects, so seeds taken from the core can be grown back over the band by a
seeded watershed, giving one id per object. Qt-free and torch-free: the post-processing
parameters are card data (:class:`InstanceParams`, the card's ``instances`` block).

Public API::

    from medsr_viewer.core.labels.instances import InstanceParams, instances_from_probabilities
    ids = instances_from_probabilities(probs, InstanceParams(seed_threshold=0.7))  # uint32
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

#: Post-processing methods a card may name.
INSTANCE_METHODS = ("watershed", "components")


@dataclass(frozen=True)
class InstanceParams:
    """How class probabilities become an instance label map.

    Attributes
    ----------
    method
        ``watershed``: seeds = connected components of the smoothed core probability above
        ``seed_threshold``, grown by a watershed over ``1 - P(core)`` inside the object mask
        (``P(core) + P(band) > threshold``); object-mask components no seed reaches become
        objects of their own. ``components``: connected components of the object mask.
    sigma
        Gaussian smoothing of the probabilities in pixels (0: none).
    threshold
        Object mask: summed probability of the object channels above this.
    seed_threshold
        Seeds: core probability above this.
    min_seed
        Seeds smaller than this many pixels are dropped.
    min_size
        Objects smaller than this many pixels are removed (set to background).
    core_channel, object_channels
        Channel of the core, and the channels whose probabilities sum to "inside an object".
    """

    method: str = "watershed"
    sigma: float = 1.0
    threshold: float = 0.5
    seed_threshold: float = 0.7
    min_seed: int = 10
    min_size: int = 20
    core_channel: int = 1
    object_channels: tuple[int, ...] = (1, 2)

    def __post_init__(self) -> None:
        if self.method not in INSTANCE_METHODS:
            raise ValueError(f"unknown instance method {self.method!r}; expected one of "
                             f"{', '.join(INSTANCE_METHODS)}")
        if self.sigma < 0 or self.min_seed < 0 or self.min_size < 0:
            raise ValueError("sigma, min_seed and min_size must not be negative")
        if not (0.0 <= self.threshold <= 1.0 and 0.0 <= self.seed_threshold <= 1.0):
            raise ValueError("thresholds must lie in [0, 1]")
        if not self.object_channels:
            raise ValueError("object_channels must name at least one channel")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the card's ``instances`` block)."""
        data = asdict(self)
        data["object_channels"] = list(self.object_channels)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceParams:
        """Parameters from a card block (unknown keys ignored); raises ``ValueError``."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "object_channels" in kwargs:
            kwargs["object_channels"] = tuple(int(c) for c in kwargs["object_channels"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"malformed instances block: {exc}") from exc


def instance_targets(objects: np.ndarray, band: int) -> np.ndarray:
    """Three-class training target of an instance (or binary object) map.

    Parameters
    ----------
    objects
        2-D map, 0 = outside objects; another value = an object id (a binary mask is one
        object per connected component in effect, since bands are taken per pixel edge).
    band
        Width in pixels of the boundary band: object pixels whose Euclidean distance to the
        nearest pixel outside their object is at most ``band``.

    Returns
    -------
    numpy.ndarray
        ``uint8``: 0 outside, 1 core, 2 band.
    """
    from scipy import ndimage

    objects = np.asarray(objects)
    inside = objects != 0
    # Object pixels next to a different object count as edge (distance 0), background too.
    touching = np.zeros_like(inside)
    for axis in range(objects.ndim):
        a = np.moveaxis(objects, axis, 0)
        t = np.moveaxis(touching, axis, 0)
        diff = (a[1:] != a[:-1]) & (a[1:] != 0) & (a[:-1] != 0)
        t[1:] |= diff
        t[:-1] |= diff
    # Pixels outside the array are not edges (edt only sees zeros inside it).
    interior = inside & ~touching
    if interior.all():  # no edge at all (edt would measure from the array's corner)
        distance = np.full(objects.shape, np.inf)
    else:
        distance = ndimage.distance_transform_edt(interior)
    out = np.zeros(objects.shape, dtype=np.uint8)
    out[inside] = 1
    out[inside & (distance <= band)] = 2
    return out


def _smooth(plane: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return plane
    from scipy import ndimage

    return np.asarray(ndimage.gaussian_filter(plane, sigma, mode="nearest"))


def _remove_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    if min_size <= 1 or not labels.any():
        return labels
    sizes = np.bincount(labels.reshape(-1))
    small = sizes < min_size
    small[0] = False
    labels[small[labels]] = 0
    return labels


def _relabel(labels: np.ndarray, offset: int = 0) -> np.ndarray:
    """Ids made consecutive from ``offset + 1`` (background stays 0), as ``uint32``."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    lut = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.uint32)
    lut[ids] = np.arange(offset + 1, offset + 1 + len(ids), dtype=np.uint32)
    return lut[labels]


def instances_from_plane(probs: np.ndarray, params: InstanceParams) -> np.ndarray:
    """Instance map (``uint32``, 0 = background, ids 1..n) of one 2-D plane.

    Parameters
    ----------
    probs
        ``(channels, H, W)`` class probabilities (softmax of the logits).
    params
        Post-processing parameters.
    """
    from scipy import ndimage

    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 3:
        raise ValueError(f"expected (channels, H, W) probabilities, got shape {probs.shape}")
    channels = probs.shape[0]
    wanted = (params.core_channel, *params.object_channels)
    if max(wanted) >= channels or min(wanted) < 0:
        raise ValueError(f"instance parameters name channel {max(wanted)} but the output "
                         f"has {channels}")
    inside = _smooth(probs[list(params.object_channels)].sum(0), params.sigma)
    mask = inside > params.threshold
    structure = ndimage.generate_binary_structure(2, 1)
    if params.method == "components":
        labels, _n = ndimage.label(mask, structure=structure)
    else:
        from skimage.segmentation import watershed

        core = _smooth(probs[params.core_channel], params.sigma)
        seeds, _n = ndimage.label((core > params.seed_threshold) & mask, structure=structure)
        seeds = _remove_small(seeds, params.min_seed)
        labels = watershed(1.0 - core, markers=seeds, mask=mask)
        # Parts of the mask no seed reached (small objects without a core) keep their own id.
        rest, n_rest = ndimage.label(mask & (labels == 0), structure=structure)
        if n_rest:
            top = int(labels.max(initial=0))
            labels = np.where(rest > 0, rest + top, labels)
    labels = _remove_small(np.asarray(labels, dtype=np.int64), params.min_size)
    return _relabel(labels)


def instances_from_probabilities(probs: np.ndarray, params: InstanceParams) -> np.ndarray:
    """Instance map of ``(channels, H, W)`` or ``(channels, Z, H, W)`` probabilities.

    A volume is processed plane by plane (the models are 2-D); ids are unique over the whole
    volume (plane ``z`` continues where plane ``z - 1`` stopped). Returns ``uint32``.
    """
    probs = np.asarray(probs)
    if probs.ndim == 3:
        return instances_from_plane(probs, params)
    if probs.ndim != 4:
        raise ValueError(f"expected 3-D or 4-D probabilities, got shape {probs.shape}")
    out = np.zeros(probs.shape[1:], dtype=np.uint32)
    offset = 0
    for z in range(probs.shape[1]):
        plane = instances_from_plane(probs[:, z], params)
        nonzero = plane != 0
        out[z][nonzero] = plane[nonzero] + offset
        offset += int(plane.max(initial=0))
    return out


def instance_dtype(count: int) -> np.dtype[Any]:
    """``uint16`` when ``count`` ids fit, else ``uint32`` (how an instance map is stored)."""
    return np.dtype(np.uint16) if count <= np.iinfo(np.uint16).max else np.dtype(np.uint32)


# ---------------------------------------------------------------- display and statistics

#: Well-separated hues (degrees) an instance map cycles through; neighbouring ids are five
#: steps (150 degrees) apart, and every other cycle is drawn a little darker.
INSTANCE_HUES = tuple(range(0, 360, 30))


def instance_colour(value: int) -> tuple[int, int, int]:
    """Display colour of instance id ``value`` (black for background 0)."""
    import colorsys

    if value <= 0:
        return (0, 0, 0)
    step = (value * 5) % len(INSTANCE_HUES)
    darker = (value // len(INSTANCE_HUES)) % 2
    r, g, b = colorsys.hsv_to_rgb(INSTANCE_HUES[step] / 360.0, 0.8, 0.75 if darker else 1.0)
    return (round(r * 255), round(g * 255), round(b * 255))


def instance_table(ids: np.ndarray | list[int], object_name: str = "object") -> Any:
    """A :class:`~medsr_viewer.core.labels.table.LabelTable` naming every id ``"<object> <id>"``
    with :func:`instance_colour` (background 0 stays transparent)."""
    from medsr_viewer.core.labels.table import LabelEntry, LabelTable

    values = np.unique(np.asarray(ids))
    return LabelTable(LabelEntry(int(v), f"{object_name} {int(v)}", instance_colour(int(v)))
                      for v in values if v != 0)


@dataclass(frozen=True)
class InstanceRow:
    """One object of an instance slice: its id, area and mean intensity."""

    value: int
    area_px: int
    area_mm2: float
    mean: float


def instance_rows(ids: np.ndarray, image: np.ndarray | None,
                  pixel_mm: tuple[float, float] = (1.0, 1.0)) -> list[InstanceRow]:
    """Area (pixels and mm²) and mean image intensity of every object of a 2-D instance slice.

    ``image`` is the study's slice of the same shape (``None``: means are ``nan``);
    ``pixel_mm`` the pixel's (row, column) size. Rows are ordered by id.
    """
    ids = np.asarray(ids).astype(np.int64, copy=False)
    if ids.ndim != 2:
        raise ValueError(f"instance_rows needs a 2-D slice, got shape {ids.shape}")
    flat = ids.reshape(-1)
    counts = np.bincount(flat)
    if image is not None:
        values = np.asarray(image, dtype=np.float64)
        if values.shape != ids.shape:
            raise ValueError(f"image {values.shape} and instances {ids.shape} differ in shape")
        sums = np.bincount(flat, weights=values.reshape(-1), minlength=len(counts))
    pixel_area = float(pixel_mm[0]) * float(pixel_mm[1])
    rows = []
    for value in np.flatnonzero(counts):
        if value == 0:
            continue
        n = int(counts[value])
        mean = float(sums[value] / n) if image is not None else float("nan")
        rows.append(InstanceRow(int(value), n, n * pixel_area, mean))
    return rows


def instance_at(ids: np.ndarray, row: int, col: int) -> int:
    """The id under display pixel ``(row, col)`` of a 2-D slice (0 outside or background)."""
    ids = np.asarray(ids)
    if not (0 <= row < ids.shape[0] and 0 <= col < ids.shape[1]):
        return 0
    return int(ids[row, col])


def highlight_instance(rgba: np.ndarray, ids: np.ndarray, value: int,
                       colour: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """``rgba`` with the outline of object ``value`` drawn opaque in ``colour`` (a copy)."""
    from medsr_viewer.core.labels.render import outline_mask

    out = np.array(rgba, dtype=np.uint8, copy=True)
    if value <= 0:
        return out
    edge = outline_mask((np.asarray(ids) == value).astype(np.uint8))
    out[edge] = (*colour, 255)
    return out
