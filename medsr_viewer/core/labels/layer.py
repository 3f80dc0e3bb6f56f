"""Label layers: a label map on the study's grid plus how it is shown, and where it is kept.

A :class:`LabelLayer` is what the viewer's label overlay draws and its "Labels" dock lists:
the label map resampled onto the study grid, a name, visibility, opacity, style and the label
table (names, colours, per-label visibility; edited in place). Layers come from files
(:func:`load_label_file`: NIfTI/MGZ or DICOM SEG) or from segmentation model runs (no file).

For session files every layer needs a file: :func:`store_label_map` writes a layer that has
none (or whose labels were edited) as NIfTI into a folder under a content-addressed name, so
the same labels are written once and a changed layer gets a new file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsr_viewer.core.labels.dicom_seg import read_dicom_seg
from medsr_viewer.core.labels.labelmap import LabelMap, LabelMapError, load_label_map
from medsr_viewer.core.labels.render import OverlayStyle, lut_array, render_labels
from medsr_viewer.core.labels.table import LabelTable

#: Default opacity of a new layer.
DEFAULT_OPACITY = 0.5
#: Suffixes read as DICOM SEG (besides files with a DICOM preamble).
DICOM_SUFFIXES = (".dcm", ".dicom")


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def load_label_file(path: str | os.PathLike[str]) -> LabelMap:
    """Load a label map file on its own grid: NIfTI/MGZ, or DICOM SEG (by suffix or preamble).

    Raises
    ------
    LabelMapError
        Missing, unreadable or not a label map; the message names the file.
    """
    source = Path(path)
    if not source.is_file():
        raise LabelMapError(f"{source}: label file not found")
    if _is_dicom(source):
        try:
            return read_dicom_seg(source)
        except ValueError as exc:  # DicomSegError
            raise LabelMapError(str(exc)) from exc
    return load_label_map(source)


@dataclass(eq=False)
class LabelLayer:
    """One label layer of the viewer.

    Attributes
    ----------
    label_map
        The labels on the study's grid, with their table (``label_map.table`` is edited in
        place by :meth:`update_label`).
    name
        Shown in the layer list.
    visible, opacity, style
        How the layer is drawn (``opacity`` in ``0 .. 1``).
    source
        The file the layer was loaded from; ``None`` for model output.
    model
        Name of the model that produced the layer (empty for files).
    edited
        The labels differ from ``source`` (a session must store them separately).
    instances
        The labels are an instance map (one id per object, e.g. a ``segment_instances``
        model's output): shown in cycling colours, listed per object, comparable by mAP.
    selected
        The selected object's id of an instance layer (0: none); its outline is highlighted.
    """

    label_map: LabelMap
    name: str
    visible: bool = True
    opacity: float = DEFAULT_OPACITY
    style: OverlayStyle = OverlayStyle.FILL
    source: Path | None = None
    model: str = ""
    edited: bool = False
    instances: bool = False
    selected: int = 0
    _present: list[int] | None = field(default=None, repr=False)
    _lut: np.ndarray | None = field(default=None, repr=False)

    @property
    def table(self) -> LabelTable:
        """Names, colours and visibility of the layer's labels."""
        return self.label_map.table

    @property
    def labels(self) -> np.ndarray:
        """The label array on the study grid ``(z, y, x)``."""
        return self.label_map.labels

    def present_values(self) -> list[int]:
        """Non-zero label values present in the layer (computed once, ascending)."""
        if self._present is None:
            self._present = self.label_map.present_values()
        return list(self._present)

    def lut(self) -> np.ndarray:
        """RGBA lookup table covering every present value (rebuilt after table edits)."""
        if self._lut is None:
            top = max([0, *self.present_values(), *self.table.values()])
            self._lut = lut_array(self.table, top)
        return self._lut

    def update_label(self, value: int, **changes: object) -> None:
        """Change ``name``, ``color``, ``visible`` or ``opacity`` of one label value."""
        self.table.update(int(value), **changes)
        self._lut = None

    def set_table(self, table: LabelTable) -> None:
        """Replace the label table (e.g. restored from a session)."""
        self.label_map = LabelMap(self.label_map.volume, table, self.label_map.name,
                                  self.label_map.source)
        self._lut = None

    def set_labels(self, labels: np.ndarray) -> None:
        """Replace the label array (same grid), marking the layer edited."""
        self.label_map = self.label_map.with_labels(labels)
        self.edited = True
        self._present = None
        self._lut = None

    def set_grid(self, label_map: LabelMap) -> None:
        """Replace the labels by the same labels on another grid (the table is kept)."""
        self.label_map = LabelMap(label_map.volume, self.table, self.label_map.name,
                                  self.label_map.source)
        self._present = None
        self._lut = None

    def render(self, labels: np.ndarray) -> np.ndarray:
        """RGBA of a 2-D slice of this layer's labels in its style and opacity (with the
        selected object's outline highlighted on an instance layer)."""
        rgba = render_labels(labels, self.lut(), self.opacity, self.style)
        if self.instances and self.selected:
            from medsr_viewer.core.labels.instances import highlight_instance

            rgba = highlight_instance(rgba, labels, self.selected)
        return rgba


def label_map_digest(label_map: LabelMap) -> str:
    """SHA-256 (hex) of a label map's labels, dtype, shape and grid: its content address."""
    digest = hashlib.sha256()
    labels = np.ascontiguousarray(label_map.labels)
    digest.update(str(labels.dtype).encode())
    digest.update(repr(labels.shape).encode())
    digest.update(np.round(np.asarray(label_map.volume.affine, np.float64), 6).tobytes())
    digest.update(labels.tobytes())
    return digest.hexdigest()


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return slug[:40] or "labels"


def store_label_map(label_map: LabelMap, folder: str | os.PathLike[str]) -> Path:
    """Keep ``label_map`` as NIfTI in ``folder`` under a content-addressed name; the path.

    The folder is created if needed. The name is ``<name>-<first 16 hex digits of label_map_digest>.nii.gz``: an existing file
    of that name holds the same labels, so it is not written again; changed labels get a new
    file. Writing is atomic. Raises :class:`LabelMapError` when the file cannot be written.
    """
    from medsr_viewer.core.labels.labelmap import save_label_map_nifti

    target = Path(folder) / f"{_slug(label_map.name)}-{label_map_digest(label_map)[:16]}.nii.gz"
    if target.is_file():
        return target
    unsourced = LabelMap(label_map.volume.with_voxels(label_map.labels, metadata={}),
                         label_map.table, label_map.name, None)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return save_label_map_nifti(unsourced, target, force=True)
    except OSError as exc:
        raise LabelMapError(f"{target}: cannot write the label layer ({exc})") from exc
