"""NIfTI (``.nii``, ``.nii.gz``) and FreeSurfer MGH (``.mgz``, ``.mgh``) volumes via nibabel.

Geometry is kept exactly: nibabel's voxel array ``(i, j, k)`` becomes ``(z, y, x) = (k, j, i)``
so the :class:`Volume` affine columns (x, y, z) are the file's (i, j, k) columns; the RAS world
of these formats becomes LPS by negating the first two affine rows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medsr_viewer.core.io.errors import LoadError
from medsr_viewer.core.io.voxel_checks import largest_spacing_axis, replace_non_finite
from medsr_viewer.core.volume import Volume

#: File-name endings handled by :func:`load_nifti`.
NIFTI_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".mgh")
#: RAS -> LPS world conversion.
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: NIfTI intent code of label maps (NIFTI_INTENT_LABEL).
INTENT_LABEL = 1002

_MODALITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("CT", re.compile(r"\bCT\b", re.IGNORECASE)),
    ("PT", re.compile(r"\b(PET|PT)\b", re.IGNORECASE)),
    ("MR", re.compile(r"\b(MRI?|T1w?|T2w?|FLAIR|PD|DWI|MRA|BOLD)\b", re.IGNORECASE)),
)


def nifti_stem(path: Path) -> str:
    """File name without its NIfTI/MGH suffix (``brain.nii.gz`` -> ``brain``)."""
    name = path.name
    for suffix in sorted(NIFTI_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _header_text(header: Any, key: str) -> str:
    """A text header field as ``str`` ('' when absent or unreadable)."""
    try:
        value = header[key]
    except (KeyError, ValueError, TypeError):
        return ""
    raw = value.item() if hasattr(value, "item") else value
    if isinstance(raw, bytes):
        return raw.decode("latin-1", errors="replace").strip("\x00 ")
    return str(raw).strip()


def guess_modality(header: Any) -> str:
    """DICOM-style modality from the header's intent or description; ``"OT"`` when unknown."""
    try:
        intent_code = int(header["intent_code"])
    except (KeyError, ValueError, TypeError):
        intent_code = 0
    if intent_code == INTENT_LABEL:
        return "SEG"
    text = f"{_header_text(header, 'descrip')} {_header_text(header, 'intent_name')}"
    for modality, pattern in _MODALITY_PATTERNS:
        if pattern.search(text):
            return modality
    return "OT"


def _display_window(header: Any) -> tuple[float, float] | None:
    """``(center, width)`` from the NIfTI ``cal_min``/``cal_max`` display range, if set."""
    try:
        lo, hi = float(header["cal_min"]), float(header["cal_max"])
    except (KeyError, ValueError, TypeError):
        return None
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return None
    return ((lo + hi) / 2.0, hi - lo)


def load_nifti(path: str | Path) -> Volume:
    """Load a NIfTI-1/2 or MGH/MGZ file as a float32 :class:`Volume` (first volume of 4-D data).

    Raises
    ------
    LoadError
        The file is missing, not readable by nibabel, or holds no image data.
    """
    path = Path(path)
    if not path.is_file():
        raise LoadError(path, "not found")
    try:
        image = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise LoadError(path, f"not a readable NIfTI/MGH file ({exc})") from exc
    if not isinstance(image, nib.spatialimages.SpatialImage):
        raise LoadError(path, "not a supported image file")
    warnings: list[str] = []
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 0 or min(shape, default=0) == 0:
        raise LoadError(path, f"no image data (shape {shape})")
    try:
        if len(shape) > 3:
            extra = shape[3:]
            warnings.append(
                f"{len(shape)}-D image {shape}: showing the first of "
                f"{int(np.prod(extra))} volumes"
            )
            data = np.asanyarray(image.dataobj[(slice(None),) * 3 + (0,) * len(extra)])
        else:
            data = np.asanyarray(image.dataobj)
    except Exception as exc:
        raise LoadError(path, f"corrupt or truncated image data ({exc})") from exc
    source_dtype = np.dtype(image.get_data_dtype()).name
    while data.ndim < 3:
        data = data[..., np.newaxis]
    voxels = np.ascontiguousarray(data.transpose(2, 1, 0), dtype=np.float32)
    voxels, finite_warning = replace_non_finite(voxels)
    if finite_warning:
        warnings.append(finite_warning)
    affine = RAS_TO_LPS @ np.asarray(image.affine, dtype=np.float64)
    header = image.header
    volume = Volume(
        voxels=voxels,
        affine=affine,
        modality=guess_modality(header),
        name=nifti_stem(path),
        window=_display_window(header),
        metadata={
            "source": str(path),
            "format": "MGH" if isinstance(image, nib.freesurfer.mghformat.MGHImage) else "NIfTI",
            "source_dtype": source_dtype,
            "source_shape": shape,
        },
        warnings=tuple(warnings),
    )
    volume.metadata["slice_axis"] = largest_spacing_axis(volume.spacing)
    return volume
