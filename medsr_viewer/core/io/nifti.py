"""NIfTI (``.nii``, ``.nii.gz``) and FreeSurfer MGH (``.mgz``, ``.mgh``) volumes via nibabel.

Geometry is kept exactly: nibabel's voxel array ``(i, j, k)`` becomes ``(z, y, x) = (k, j, i)``
so the :class:`Volume` affine columns (x, y, z) are the file's (i, j, k) columns; the RAS world
of these formats becomes LPS by negating the first two affine rows.

Nothing is trusted before it is checked: the header's dimensions are compared with the file
size (for gzip files with a maximum compression ratio) and with the memory limit before any
voxel is read; a singular or non-finite affine is replaced by a warned diagonal one from the
voxel sizes (as nibabel and dcm2niix do without a usable qform/sform); disagreeing qform and
sform are reported; complex data becomes its magnitude, warned, and RGB data its luminance,
its colour kept for display (:attr:`Volume.rgb`).

:func:`load_nifti_study` gives every volume of 4-D data (``(x, y, z, t)``, or more dimensions
taken as volumes in file order) as one :class:`~medsr_viewer.core.study.VolumeGroup`, labelled
``t=i/T``, with the repetition time from ``pixdim[4]`` when the header gives its time unit;
:func:`load_nifti` reads only the first volume.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medsr_viewer.core.io.colour import colour_note, rgb_to_luminance
from medsr_viewer.core.io.errors import LoadError, describe_exception, is_fatal
from medsr_viewer.core.io.limits import (
    check_claimed_bytes,
    check_volume_bytes,
    file_size,
    shape_bytes,
)
from medsr_viewer.core.io.voxel_checks import largest_spacing_axis, replace_non_finite
from medsr_viewer.core.study import Study, VolumeGroup
from medsr_viewer.core.volume import Volume

#: File-name endings handled by :func:`load_nifti`.
NIFTI_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".mgh")
#: RAS -> LPS world conversion.
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: NIfTI intent code of label maps (NIFTI_INTENT_LABEL).
INTENT_LABEL = 1002
#: File-name endings of gzip-compressed files.
COMPRESSED_SUFFIXES = (".gz", ".mgz")
#: qform and sform mapping some grid corner further apart than this (mm) disagree.
QFORM_SFORM_TOLERANCE_MM = 0.01
#: Valid NIfTI qform_code / sform_code values (unknown, scanner, aligned, Talairach, MNI).
VALID_XFORM_CODES = range(5)

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


def _check_size(path: Path, image: Any, shape: tuple[int, ...], first_only: bool) -> None:
    """Refuse headers claiming more voxels than the file can hold or memory allows.

    The bytes of what is read are checked: the first volume (``first_only``) or all of them.

    Raises
    ------
    LoadError
        Naming the file and the sizes.
    """
    first = shape[:3]
    dtype = np.dtype(image.get_data_dtype())
    claimed = shape_bytes(first if first_only else shape, dtype.itemsize)
    offset = int(getattr(image.dataobj, "offset", 0) or 0)
    available = file_size(path) - (0 if path.name.lower().endswith(COMPRESSED_SUFFIXES)
                                   else offset)
    check_claimed_bytes(
        path, claimed, available,
        compressed=path.name.lower().endswith(COMPRESSED_SUFFIXES), what="the header",
    )
    count = 1 if first_only else int(np.prod(shape[3:], dtype=object))
    needed = tuple(reversed(first)) if count == 1 else (count, *reversed(first))
    check_volume_bytes(path, needed, 4 + (3 if dtype.names else 0))


def _data_size_warning(path: Path, image: Any, shape: tuple[int, ...]) -> str | None:
    """A warning when the file holds more data than the header's dimensions account for.

    Uncompressed files are measured; gzip files by their ISIZE trailer (the inflated size
    modulo 2^32). A mismatch means wrong dimensions or data type in the header.
    """
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        return None
    offset = int(getattr(image.dataobj, "offset", 0) or 0)
    expected = offset + shape_bytes(shape, np.dtype(image.get_data_dtype()).itemsize)
    name = path.name.lower()
    if name.endswith(".gz"):
        try:
            with path.open("rb") as handle:
                handle.seek(-4, 2)
                inflated = int.from_bytes(handle.read(4), "little")
        except OSError:
            return None
        if inflated == expected % (1 << 32):
            return None
        actual = inflated
    else:
        actual = file_size(path)
        if actual == expected:
            return None
    if actual < expected:
        return None  # too short: reading the data fails with its own error
    return (
        f"the file holds {actual - expected} bytes more than the header's dimensions "
        f"{shape} of {np.dtype(image.get_data_dtype()).name} need: wrong dimensions or data type?"
    )


def _xform_code_warnings(header: Any) -> list[str]:
    """Warnings for qform_code/sform_code values outside the NIfTI standard's 0..4."""
    found = []
    for key in ("qform_code", "sform_code"):
        try:
            code = int(header[key])
        except (KeyError, ValueError, TypeError):
            continue
        if code not in VALID_XFORM_CODES:
            found.append(f"invalid {key} {code} in the header (ignored by the reader)")
    return found


def _read_data(
    image: Any, shape: tuple[int, ...], warnings: list[str], first_only: bool
) -> np.ndarray:
    """The voxels as nibabel gives them (scaled, any dtype): all of them, or only the first
    3-D volume (``first_only``, warned when there are more)."""
    if len(shape) > 3 and first_only:
        extra = shape[3:]
        warnings.append(
            f"{len(shape)}-D image {shape}: showing the first of {int(np.prod(extra))} volumes"
        )
        return np.asanyarray(image.dataobj[(slice(None),) * 3 + (0,) * len(extra)])
    return np.asanyarray(image.dataobj)


def _as_real(data: np.ndarray, warnings: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Complex data as its magnitude (warned), RGB(A) records as luminance plus their
    ``(..., 3)`` ``uint8`` colour (warned); others unchanged, with no colour."""
    if data.dtype.names:
        names = [n for n in ("R", "G", "B") if n in data.dtype.names]
        if len(names) != 3:
            raise ValueError(f"unsupported record data type {data.dtype}")
        rgb = np.stack([data[n] for n in names], axis=-1)
        warnings.append(colour_note("RGBA" if "A" in data.dtype.names else "RGB"))
        return rgb_to_luminance(rgb), np.clip(rgb, 0, 255).astype(np.uint8)
    if np.iscomplexobj(data):
        warnings.append("complex data: showing the magnitude")
        return np.abs(data), None
    return data, None


def repetition_time(header: Any, shape: tuple[int, ...]) -> float | None:
    """Seconds between the volumes of 4-D data: ``pixdim[4]`` (NIfTI; only with a time unit
    in ``xyzt_units``, so an unset 1.0 is no TR) or the MGH ``tr`` (ms); else ``None``."""
    if len(shape) < 4 or shape[3] < 2:
        return None
    try:
        if isinstance(header, nib.freesurfer.mghformat.MGHHeader):
            seconds = float(header["tr"]) / 1000.0
        else:
            unit = header.get_xyzt_units()[1]
            scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(unit)
            if scale is None:
                return None
            seconds = float(header["pixdim"][4]) * scale
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return None
    if not (np.isfinite(seconds) and seconds > 0):
        return None
    return float(f"{seconds:.7g}")  # pixdim is float32: 3.2, not 3.200000047683716


def _usable_affine(affine: np.ndarray) -> bool:
    """True when ``affine`` is finite and its 3x3 part invertible."""
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        return False
    linear = affine[:3, :3]
    scale = float(np.abs(linear).max())
    return scale > 0 and abs(float(np.linalg.det(linear))) > 1e-9 * scale**3


def _checked_affine(image: Any, shape: tuple[int, ...], warnings: list[str]) -> np.ndarray:
    """The image's RAS affine, or a warned diagonal one from the voxel sizes when unusable.

    Also warns when a NIfTI file's qform and sform (both set) disagree.
    """
    try:
        affine = np.asarray(image.affine, dtype=np.float64)
    except BaseException as exc:
        if is_fatal(exc):
            raise
        affine = np.full((4, 4), np.nan)
    header = image.header
    if _usable_affine(affine):
        _compare_qform_sform(header, shape, warnings)
        return affine
    try:
        zooms = [float(z) for z in header.get_zooms()[:3]]
    except BaseException as exc:
        if is_fatal(exc):
            raise
        zooms = []
    zooms += [1.0] * (3 - len(zooms))
    sizes = [abs(z) if np.isfinite(z) and z != 0 else 1.0 for z in zooms]
    fallback = np.diag(sizes + [1.0])
    centre = (np.array((list(shape[:3]) + [1, 1, 1])[:3], dtype=np.float64) - 1) / 2
    fallback[:3, 3] = -centre * np.array(sizes)
    guessed = "" if sizes == zooms else " (invalid voxel sizes replaced by 1 mm)"
    warnings.append(
        "the header's affine is singular or not finite: a diagonal affine from the voxel sizes "
        f"({' x '.join(f'{v:.4g}' for v in sizes)} mm){guessed} is used; the orientation and "
        "position in the patient are unknown"
    )
    return fallback


def _compare_qform_sform(header: Any, shape: tuple[int, ...], warnings: list[str]) -> None:
    """Warn when a NIfTI header's qform and sform (both coded) map the grid differently."""
    if not (hasattr(header, "get_qform") and hasattr(header, "get_sform")):
        return
    try:
        qform, qcode = header.get_qform(coded=True)
        sform, scode = header.get_sform(coded=True)
    except BaseException as exc:
        if is_fatal(exc):
            raise
        return
    if qform is None or sform is None or not qcode or not scode:
        return
    if not (np.isfinite(qform).all() and np.isfinite(sform).all()):
        return
    last = [max(0, n - 1) for n in (list(shape[:3]) + [1, 1, 1])[:3]]
    corners = np.array([[i, j, k, 1.0] for i in (0, last[0]) for j in (0, last[1])
                        for k in (0, last[2])])
    distance = float(np.abs(corners @ qform.T - corners @ sform.T)[:, :3].max())
    if distance > QFORM_SFORM_TOLERANCE_MM:
        warnings.append(
            f"the header's qform and sform disagree (by up to {distance:.3g} mm); the sform is "
            "used"
        )


def load_nifti(path: str | Path) -> Volume:
    """Load a NIfTI-1/2 or MGH/MGZ file as a float32 :class:`Volume` (first volume of 4-D data,
    warned; :func:`load_nifti_study` gives them all).

    Raises
    ------
    LoadError
        The file is missing, not readable by nibabel, holds no image data, claims more data
        than the file can hold, or exceeds the memory limit
        (:func:`~medsr_viewer.core.io.limits.max_volume_bytes`).
    """
    return _load(Path(path), first_only=True).shown


def load_nifti_study(path: str | Path) -> Study:
    """Load a NIfTI-1/2 or MGH/MGZ file as a :class:`~medsr_viewer.core.study.Study`.

    3-D data gives a one-volume study; 4-D data ``(x, y, z, t)`` (more dimensions count as
    volumes, in file order) one group of ``t`` float32 volumes on the file's grid, labelled
    ``t=i/T``, with ``RepetitionTime`` (s) among the study's facts when the header gives it
    (:func:`repetition_time`). Size and memory are checked for all the volumes before any is
    read.

    Raises
    ------
    LoadError
        As :func:`load_nifti`, for the whole 4-D data.
    """
    return _load(Path(path), first_only=False)


def _load(path: Path, first_only: bool) -> Study:
    """:func:`load_nifti_study`, or only its first volume (``first_only``)."""
    if not path.is_file():
        raise LoadError(path, "not found")
    try:
        image = nib.load(str(path))
    except BaseException as exc:  # nibabel raises many types for corrupt files
        if is_fatal(exc):
            raise
        raise LoadError(path, f"not a readable NIfTI/MGH file ({describe_exception(exc)})") from exc
    if not isinstance(image, nib.spatialimages.SpatialImage):
        raise LoadError(path, "not a supported image file")
    warnings: list[str] = []
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 0 or min(shape, default=0) <= 0:
        raise LoadError(path, f"no image data (shape {shape})")
    _check_size(path, image, shape, first_only)
    size_warning = _data_size_warning(path, image, shape)
    if size_warning:
        warnings.append(size_warning)
    warnings += _xform_code_warnings(image.header)
    try:
        data, rgb = _as_real(_read_data(image, shape, warnings, first_only), warnings)
    except LoadError:
        raise
    except MemoryError as exc:
        raise LoadError(path, "not enough memory to read the image data") from exc
    except BaseException as exc:
        if is_fatal(exc):
            raise
        raise LoadError(
            path, f"corrupt or truncated image data ({describe_exception(exc)})"
        ) from exc
    stored = np.dtype(image.get_data_dtype())
    source_dtype = stored.name if stored.names is None else (
        "RGBA32" if "A" in stored.names else "RGB24"
    )
    while data.ndim < 4:  # (x, y, z, volumes)
        data = data[..., np.newaxis]
        rgb = None if rgb is None else rgb[..., np.newaxis, :]
    if data.ndim > 4:  # further dimensions: volumes in file order
        data = data.reshape(data.shape[:3] + (-1,), order="F")
        rgb = None if rgb is None else rgb.reshape(rgb.shape[:3] + (-1, 3), order="F")
    voxels = np.ascontiguousarray(data.transpose(3, 2, 1, 0), dtype=np.float32)
    del data
    colours = None if rgb is None else np.ascontiguousarray(rgb.transpose(3, 2, 1, 0, 4))
    voxels, finite_warning = replace_non_finite(voxels)
    if finite_warning:
        warnings.append(finite_warning)
    affine = RAS_TO_LPS @ _checked_affine(image, shape, warnings)
    header = image.header
    modality = guess_modality(header)
    count = voxels.shape[0]
    volumes = []
    for index in range(count):
        volume = Volume(
            voxels=voxels[index],
            affine=affine,
            modality=modality,
            name=nifti_stem(path),
            window=_display_window(header),
            metadata={
                "source": str(path),
                "format": "MGH" if isinstance(image, nib.freesurfer.mghformat.MGHImage)
                else "NIfTI",
                "source_dtype": source_dtype,
                "source_shape": shape,
                **({"volume_index": index, "n_volumes": count} if count > 1 else {}),
            },
            warnings=tuple(warnings),
            rgb=None if colours is None else colours[index],
        )
        volume.metadata["slice_axis"] = largest_spacing_axis(volume.spacing)
        volumes.append(volume)
    group = VolumeGroup(modality or "image", tuple(volumes), rgb=colours)
    if count > 1:
        for index, volume in enumerate(volumes):
            volume.metadata["volume_label"] = group.label_text(index)
    tr = None if first_only else repetition_time(header, shape)
    return Study((group,), facts={} if tr is None else {"RepetitionTime": tr})
