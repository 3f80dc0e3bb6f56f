"""Label maps: integer volumes with a label table, loaded on any grid, shown on any grid.

A :class:`LabelMap` is a :class:`~medsr_viewer.core.volume.Volume` of integer labels plus a
:class:`~medsr_viewer.core.labels.table.LabelTable`. Label maps are loaded from NIfTI / MGH /
MGZ (this module) or DICOM SEG (:mod:`medsr_viewer.core.labels.dicom_seg`), and resampled to
an image's grid (native or SR) in world space by nearest neighbour, so an overlay lines up
wherever it is drawn. Edited label maps are saved to NIfTI here (atomically, never over the
file they were loaded from unless asked).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.labels.freesurfer import freesurfer_names_for
from medsr_viewer.core.labels.table import (
    LabelTable,
    LabelTableError,
    find_sidecar_table,
    format_itksnap,
    read_colour_table,
)
from medsr_viewer.core.roi.plane import Grid
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import WriteError, nifti_provenance, save_nifti

#: NIfTI (RAS) <-> project (LPS) world: negate x and y.
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: ``NIFTI_INTENT_LABEL``: the NIfTI intent code of a label map.
NIFTI_INTENT_LABEL = 1002
#: ``metadata["table_source"]`` of a label map named by FreeSurfer's built-in table.
FREESURFER_TABLE_SOURCE = "FreeSurfer colour table (built in)"
#: Slices resampled per chunk (bounds the temporary coordinate arrays).
_CHUNK_VOXELS = 4_000_000


class LabelMapError(ValueError):
    """A label file is missing, unreadable or not a label map (message names the file)."""


@dataclass(frozen=True, eq=False)
class LabelMap:
    """An integer label volume with its label table.

    Attributes
    ----------
    volume
        Labels ``(z, y, x)`` (integer dtype) with the grid's affine (LPS, see ``Volume``).
    table
        Names, colours and visibility of the label values.
    name
        Display name of the layer.
    source
        Path the labels were loaded from (``None`` for model output or new maps).
    instances
        The labels are an instance map (one id per object): a file written by a
        ``segment_instances`` model (its provenance says so), or model output.
    """

    volume: Volume
    table: LabelTable = field(default_factory=LabelTable)
    name: str = ""
    source: Path | None = None
    instances: bool = False

    def __post_init__(self) -> None:
        if not np.issubdtype(self.volume.voxels.dtype, np.integer):
            raise LabelMapError(f"label map {self.name!r} must hold integers, "
                                f"got {self.volume.voxels.dtype}")

    @property
    def labels(self) -> np.ndarray:
        """The integer label array ``(z, y, x)``."""
        return self.volume.voxels

    def present_values(self) -> list[int]:
        """Non-zero label values present in the map, ascending."""
        values = np.unique(self.labels)
        return [int(v) for v in values if v != 0]

    def on_grid(self, grid: Grid) -> LabelMap:
        """This label map resampled (nearest neighbour, world space) onto ``grid``."""
        if same_grid(self.volume, grid):
            return self
        labels = resample_labels(self.volume, grid)
        return replace(self, volume=Volume(labels, np.asarray(grid.affine), modality="SEG",
                                           name=self.volume.name))

    def with_labels(self, labels: np.ndarray) -> LabelMap:
        """A copy holding edited labels on the same grid."""
        if labels.shape != self.labels.shape:
            raise ValueError(f"edited labels {labels.shape} do not fit grid {self.labels.shape}")
        return replace(self, volume=self.volume.with_voxels(labels))


def same_grid(a: Grid, b: Grid, atol: float = 1e-4) -> bool:
    """Whether two grids have the same shape and (within ``atol`` mm) the same affine."""
    return tuple(a.shape) == tuple(b.shape) and bool(
        np.allclose(np.asarray(a.affine), np.asarray(b.affine), atol=atol)
    )


def resample_labels(source: Volume, target: Grid, fill: int = 0) -> np.ndarray:
    """Nearest-neighbour resampling of the label volume ``source`` onto the ``target`` grid.

    Each target voxel centre is mapped through world space into ``source``'s continuous index
    and takes the label of the nearest source voxel (rounding half up); centres outside the
    source get ``fill``. Resampling to a grid ``k`` times finer over the same extent and back
    is exact (every fine voxel lies inside one coarse voxel).
    """
    labels = source.voxels
    shape = tuple(int(s) for s in target.shape)
    # target (x, y, z, 1) index -> source (x, y, z) continuous index
    mapping = np.linalg.inv(source.affine) @ np.asarray(target.affine, dtype=np.float64)
    out = np.full(shape, fill, dtype=labels.dtype)
    linear = mapping[:3, :3]
    offset = mapping[:3, 3]
    # Fast path: axis-aligned mapping (diagonal, possibly permuted) is separable.
    if np.count_nonzero(np.abs(linear) > 1e-9) == 3 and np.all(
        (np.abs(linear) > 1e-9).sum(axis=0) == 1
    ):
        return _resample_separable(labels, shape, linear, offset, fill)
    nz, ny, nx = shape
    rows_per_chunk = max(1, _CHUNK_VOXELS // max(ny * nx, 1))
    yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    src_shape_xyz = np.array(labels.shape[::-1])
    for z0 in range(0, nz, rows_per_chunk):
        zs = np.arange(z0, min(z0 + rows_per_chunk, nz))
        idx = np.stack(np.broadcast_arrays(xx[None], yy[None], zs[:, None, None]), axis=-1)
        src = idx.astype(np.float64) @ linear.T + offset
        near = np.floor(src + 0.5).astype(np.int64)
        inside = np.all((near >= 0) & (near < src_shape_xyz), axis=-1)
        chunk = np.full(inside.shape, fill, dtype=labels.dtype)
        sel = near[inside]
        chunk[inside] = labels[sel[:, 2], sel[:, 1], sel[:, 0]]
        out[zs[0]: zs[-1] + 1] = chunk
    return out


def _resample_separable(labels: np.ndarray, shape: tuple[int, ...], linear: np.ndarray,
                        offset: np.ndarray, fill: int) -> np.ndarray:
    """Resampling when each target axis maps to exactly one source axis."""
    src_xyz = labels.shape[::-1]
    target_xyz = shape[::-1]
    # For each source axis s, which target axis t feeds it and with what scale.
    index_lists: list[np.ndarray] = [np.empty(0, np.int64)] * 3
    valid_lists: list[np.ndarray] = [np.empty(0, bool)] * 3
    target_of_source = [0, 0, 0]
    for s in range(3):
        t = int(np.flatnonzero(np.abs(linear[s]) > 1e-9)[0])
        target_of_source[s] = t
        coords = np.arange(target_xyz[t]) * linear[s, t] + offset[s]
        near = np.floor(coords + 0.5).astype(np.int64)
        valid = (near >= 0) & (near < src_xyz[s])
        index_lists[s] = np.clip(near, 0, src_xyz[s] - 1)
        valid_lists[s] = valid
    # Gather in source (z, y, x) order, then permute to target axes.
    gathered = labels[np.ix_(index_lists[2], index_lists[1], index_lists[0])]
    valid = (valid_lists[2][:, None, None] & valid_lists[1][None, :, None]
             & valid_lists[0][None, None, :])
    gathered = np.where(valid, gathered, np.asarray(fill, dtype=labels.dtype))
    # gathered axis k (z,y,x order of source) corresponds to source xyz axis 2-k, fed by
    # target xyz axis target_of_source[2-k], i.e. target zyx axis 2-target_of_source[2-k].
    target_axes = [2 - target_of_source[2 - k] for k in range(3)]
    return np.ascontiguousarray(np.moveaxis(gathered, [0, 1, 2], target_axes)).reshape(shape)


def smallest_label_dtype(values: np.ndarray) -> np.dtype:
    """The smallest integer dtype holding all ``values`` (uint8, uint16, int16 or int32)."""
    lo = int(values.min()) if values.size else 0
    hi = int(values.max()) if values.size else 0
    for dtype in (np.uint8, np.uint16, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dtype)
    raise LabelMapError(f"label values {lo}..{hi} do not fit in 32-bit integers")


#: Card task whose output files are instance maps.
INSTANCE_TASK = "segment_instances"
#: Name given to each object of an instance map whose provenance names none.
INSTANCE_OBJECT_NAME = "object"


def load_label_map(path: str | os.PathLike[str], table: LabelTable | None = None) -> LabelMap:
    """Load a NIfTI (.nii, .nii.gz) or MGH/MGZ label volume on its own grid.

    The label table is ``table`` if given, else a sidecar colour table next to the file
    (see :func:`~medsr_viewer.core.labels.table.find_sidecar_table`), else FreeSurfer's
    built-in table for a FreeSurfer-like map
    (:func:`~medsr_viewer.core.labels.freesurfer.is_freesurfer_like`), else, for an instance
    map (a file whose provenance names a ``segment_instances`` model, as ``medsr segment``
    writes them), one distinct colour per object, else defaults; the
    volume's ``metadata["table_source"]`` says which (a path, ``"given"``,
    :data:`FREESURFER_TABLE_SOURCE` or ``""``). Use :meth:`LabelMap.on_grid` to show it on an
    image's grid.

    Raises
    ------
    LabelMapError
        Missing/unreadable file, no 3-D data, or non-integer values (naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise LabelMapError(f"{path}: label file not found")
    try:
        image = nib.load(str(path))
        if not isinstance(image, nib.spatialimages.SpatialImage):
            raise LabelMapError(f"{path}: not a volume image file")
        data = np.asanyarray(image.dataobj)
    except LabelMapError:
        raise
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise LabelMapError(f"{path}: not a readable NIfTI/MGH label file ({exc})") from exc
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., np.newaxis]
    if data.ndim != 3 or data.size == 0:
        raise LabelMapError(f"{path}: a label map must be one 3-D volume, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.integer):
        if not (np.all(np.isfinite(data)) and np.array_equal(data, np.rint(data))):
            raise LabelMapError(f"{path}: holds non-integer values, so it is not a label map")
        data = np.rint(data)
    labels = np.ascontiguousarray(data.transpose(2, 1, 0)).astype(smallest_label_dtype(data))
    affine = RAS_TO_LPS @ np.asarray(image.affine, dtype=np.float64)
    name = _stem(path)
    table_source = "given" if table is not None else ""
    if table is None:
        sidecar = find_sidecar_table(path)
        try:
            table = read_colour_table(sidecar) if sidecar else LabelTable()
            table_source = str(sidecar) if sidecar else ""
        except LabelTableError:
            table = LabelTable()  # a broken sidecar must not stop the labels from loading
    provenance = nifti_provenance(image)
    instances = provenance.get("task") == INSTANCE_TASK
    if not table_source and instances:
        from medsr_viewer.core.labels.instances import instance_table

        object_name = str(provenance.get("object_name") or INSTANCE_OBJECT_NAME)
        table = instance_table(np.unique(labels), object_name)
    elif not table_source:
        freesurfer = freesurfer_names_for(path, np.unique(labels))
        if freesurfer is not None:
            table, table_source = freesurfer, FREESURFER_TABLE_SOURCE
    volume = Volume(labels, affine, modality="SEG", name=name,
                    metadata={"source": str(path), "table_source": table_source})
    return LabelMap(volume=volume, table=table, name=name, source=path, instances=instances)


def save_label_map_nifti(
    label_map: LabelMap,
    path: str | os.PathLike[str],
    force: bool = False,
    write_table: bool = False,
) -> Path:
    """Write a label map as NIfTI (``.nii`` or ``.nii.gz``) atomically, with the label intent.

    Uses :func:`medsr_viewer.core.writers.save_nifti`: never writes over the file the map was
    loaded from, and over any other existing file only with ``force``. With ``write_table`` an
    ITK-SNAP label description ``<stem>.label`` (names, colours, visibility) is written beside
    it, which :func:`load_label_map` picks up again. Raises :class:`LabelMapError`.
    """
    volume = label_map.volume.with_voxels(
        label_map.labels, modality="SEG", name=label_map.name or label_map.volume.name,
        metadata={**label_map.volume.metadata, "labels": True},
    )
    source = str(label_map.source) if label_map.source is not None else None
    try:
        target = save_nifti(volume, path, force=force, input_path=source)
    except WriteError as exc:
        raise LabelMapError(str(exc)) from exc
    if write_table:
        write_label_table(label_map.table, target)
    return target


def label_table_path(label_path: str | os.PathLike[str]) -> Path:
    """The ITK-SNAP label description written beside a NIfTI label file (``<stem>.label``),
    one of the sidecar names :func:`load_label_map` reads."""
    path = Path(label_path)
    return path.with_name(_stem(path) + ".label")


def write_label_table(table: LabelTable, label_path: str | os.PathLike[str]) -> Path:
    """Write ``table`` (names, colours, visibility) as the ITK-SNAP sidecar of the label file
    ``label_path``, atomically; returns the sidecar's path."""
    table_path = label_table_path(label_path)
    text = format_itksnap(table)
    _atomic_write(table_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return table_path


def _atomic_write(target: Path, write: Callable[[str], object]) -> None:
    atomic_write(target, write)


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii", ".mgz", ".mgh"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem
