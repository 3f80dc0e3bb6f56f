"""Siemens mosaic images: one stored frame holding a grid of slices (EPI, DWI, fMRI).

A mosaic file stores ``NumberOfImagesInMosaic`` slices as tiles of one large image (e.g. 36
slices of 64 x 64 in a 6 x 6 grid of 384 x 384). Its ImagePositionPatient is that of the
top-left corner of the *whole* grid, and the slices follow each other along the CSA header's
``SliceNormalVector``, which points head to foot (not along the row x column cross product)
when the protocol numbers slices from head to foot ("H>>F").

The CSA header is parsed by nibabel's :mod:`nibabel.nicom` (``csareader`` and
``MosaicWrapper``: the mosaic size, the corrected position of the first slice and the slice
normal), the well-tested reader of this private Siemens format. Where the CSA header is
missing (anonymised files) the private ``(0019,100A)`` NumberOfImagesInMosaic and the
row x column cross product are used, with a note that the slice direction may be reversed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

with warnings.catch_warnings():  # "DICOM readers are highly experimental" on import
    warnings.simplefilter("ignore")
    from nibabel.nicom import csareader
    from nibabel.nicom.dicomwrappers import MosaicWrapper, WrapperError

#: What nibabel's CSA reader and mosaic wrapper raise on damaged or missing CSA fields.
CSA_ERRORS = (csareader.CSAError, WrapperError, ValueError, TypeError, KeyError, IndexError,
              AttributeError, OverflowError, UnicodeDecodeError)

#: Siemens private NumberOfImagesInMosaic (group 0019, creator "SIEMENS MR HEADER").
MOSAIC_COUNT_TAG = (0x0019, 0x100A)


@dataclass(frozen=True)
class MosaicLayout:
    """How the slices of a mosaic are tiled in its stored frame.

    ``n_images`` slices of ``tile_rows`` x ``tile_cols`` pixels fill a ``grid`` x ``grid``
    tiling row by row from the top left; ``first_position`` is the LPS position of the first
    slice's first pixel and ``normal`` the unit vector the slices follow each other along.
    """

    n_images: int
    grid: int
    tile_rows: int
    tile_cols: int
    first_position: tuple[float, float, float] | None
    normal: tuple[float, float, float] | None


def is_mosaic(ds: Dataset) -> bool:
    """Whether ImageType names a MOSAIC (Siemens' marker of tiled slices)."""
    image_type = ds.get("ImageType")
    if image_type is None:
        return False
    try:
        values = [str(v).upper() for v in (image_type if not isinstance(image_type, str)
                                           else image_type.split("\\"))]
    except TypeError:
        return False
    return "MOSAIC" in values


def _private_count(ds: Dataset) -> int | None:
    """NumberOfImagesInMosaic from the private (0019,100A) element, ``None`` when absent."""
    try:
        element = ds.get(MOSAIC_COUNT_TAG)
        if element is None:
            return None
        value = element.value
        value = value[0] if isinstance(value, (list, tuple)) else value
        if isinstance(value, bytes):
            value = int.from_bytes(value[:2], "little")
        return int(value)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _vector(values: object) -> tuple[float, float, float] | None:
    """A finite, non-zero 3-vector normalised to unit length, else ``None``."""
    try:
        array = np.asarray(values, dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        return None
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or norm < 1e-6:
        return None
    unit = array / norm
    return (float(unit[0]), float(unit[1]), float(unit[2]))


def read_mosaic(ds: Dataset, notes: list[str]) -> MosaicLayout | None:
    """The tiling of a mosaic dataset, or ``None`` when it is not a (usable) mosaic.

    Problems (no CSA header, a tile count that does not fit the frame) are appended to
    ``notes``; a mosaic that cannot be untiled is then loaded as one plane.
    """
    if not is_mosaic(ds):
        return None
    rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    n_images: int | None = None
    position: tuple[float, float, float] | None = None
    normal: tuple[float, float, float] | None = None
    try:
        csa = csareader.get_csa_header(ds, "image")
    except CSA_ERRORS:  # damaged CSA header
        csa = None
    if csa is not None:
        try:
            wrapper = MosaicWrapper(ds, csa)
            n_images = int(wrapper.n_mosaic)
            normal = _vector(wrapper.slice_normal)
            ipp = wrapper.image_position
            if ipp is not None and np.all(np.isfinite(ipp)):
                position = (float(ipp[0]), float(ipp[1]), float(ipp[2]))
        except CSA_ERRORS:  # missing or malformed CSA fields: fall back below
            n_images = None
    if n_images is None:
        n_images = _private_count(ds)
        if n_images is not None:
            notes.append("mosaic without a readable Siemens CSA header: slice direction taken "
                         "from the row and column cosines (may be reversed)")
    if n_images is None or n_images < 1:
        notes.append("MOSAIC image without NumberOfImagesInMosaic: shown as one tiled image")
        return None
    grid = math.ceil(math.sqrt(n_images))
    if grid == 0 or rows % grid or cols % grid:
        notes.append(f"NumberOfImagesInMosaic {n_images} does not tile the {rows}x{cols} "
                     "frame: shown as one tiled image")
        return None
    tile_rows, tile_cols = rows // grid, cols // grid
    if position is None:
        position = _first_tile_position(ds, rows, cols, tile_rows, tile_cols)
    if normal is None:
        normal = _cross_normal(ds)
    return MosaicLayout(n_images, grid, tile_rows, tile_cols, position, normal)


def _orientation(ds: Dataset) -> np.ndarray | None:
    """ImageOrientationPatient as a (2, 3) array of row and column cosines."""
    try:
        values = np.asarray([float(v) for v in ds.get("ImageOrientationPatient")], dtype=float)
    except (TypeError, ValueError):
        return None
    return values.reshape(2, 3) if values.size == 6 and np.all(np.isfinite(values)) else None


def _cross_normal(ds: Dataset) -> tuple[float, float, float] | None:
    """The row x column cross product (the slice normal when CSA gives none)."""
    cosines = _orientation(ds)
    return None if cosines is None else _vector(np.cross(cosines[0], cosines[1]))


def _first_tile_position(
    ds: Dataset, rows: int, cols: int, tile_rows: int, tile_cols: int
) -> tuple[float, float, float] | None:
    """Position of the first slice: the grid's corner moved to the centre of the tiling.

    The same correction as nibabel's ``MosaicWrapper.image_position``: the stored position
    is that of a ``rows x cols`` image centred on the slice, so move by half the difference.
    """
    cosines = _orientation(ds)
    try:
        ipp = np.asarray([float(v) for v in ds.get("ImagePositionPatient")], dtype=float)
        spacing = np.asarray([float(v) for v in ds.get("PixelSpacing")], dtype=float)
    except (TypeError, ValueError):
        return None
    if cosines is None or ipp.size != 3 or spacing.size != 2:
        return None
    shift = np.array([(rows - tile_rows) / 2.0, (cols - tile_cols) / 2.0])
    moved = ipp + cosines[1] * spacing[0] * shift[0] + cosines[0] * spacing[1] * shift[1]
    return (float(moved[0]), float(moved[1]), float(moved[2]))


def tile_positions(
    layout: MosaicLayout, slice_spacing: float | None
) -> list[tuple[float, float, float] | None]:
    """ImagePositionPatient of every slice of the mosaic (``None`` where unknown)."""
    if layout.first_position is None or layout.normal is None or not slice_spacing:
        return [None] * layout.n_images
    start = np.asarray(layout.first_position)
    step = np.asarray(layout.normal) * float(slice_spacing)
    return [tuple(float(v) for v in start + k * step)  # type: ignore[misc]
            for k in range(layout.n_images)]


def untile(frame: np.ndarray, layout: MosaicLayout) -> np.ndarray:
    """The ``(n_images, tile_rows, tile_cols)`` slices of one stored mosaic frame.

    Tiles are read row by row from the top left (the order Siemens writes them); a grid
    larger than ``n_images`` leaves blank tiles at the end, which are dropped.
    """
    g, r, c = layout.grid, layout.tile_rows, layout.tile_cols
    tiles = frame.reshape(g, r, g, c).transpose(0, 2, 1, 3).reshape(g * g, r, c)
    return tiles[: layout.n_images]
