"""Reading training and evaluation images: volumes (NIfTI/DICOM) and 2-D PNG pairs.

Volumes go through :func:`medsr_viewer.core.io.load_volume` when that loader is available;
otherwise a minimal reader (nibabel for NIfTI, pydicom for a one-series DICOM folder) gives the
same ``(z, y, x)`` voxels in stored intensity units. Only voxels and spacing matter here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsr_viewer.core.io.loader import has_dicom_preamble

#: File name endings recognised as volumes.
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".nrrd")
#: File name endings recognised as 2-D images (segmentation data).
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


class StudyError(ValueError):
    """A training or evaluation input could not be read; the message names the file."""


@dataclass(frozen=True)
class StudyVolume:
    """A volume used for training or evaluation.

    Parameters
    ----------
    name
        Display name (file or folder name, never a patient identifier).
    voxels
        Float32 array ``(z, y, x)`` in stored units (rescale slope/intercept applied).
    spacing
        Voxel size in mm, ``(z, y, x)``.
    modality
        ``"CT"``, ``"MR"`` or ``"OT"``; selects the noise model for denoising.
    """

    name: str
    voxels: np.ndarray
    spacing: tuple[float, float, float]
    modality: str = "OT"


def is_volume_path(path: Path) -> bool:
    """True for a NIfTI-like file or a folder holding ``.dcm`` files."""
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file()]
        return any(p.suffix.lower() == ".dcm" for p in files) or any(
            has_dicom_preamble(p) for p in files[:3])
    return path.name.lower().endswith(VOLUME_SUFFIXES) or path.suffix.lower() == ".dcm"


def find_volumes(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders into a sorted list of volume paths (DICOM folders stay whole).

    Raises
    ------
    StudyError
        When a path does not exist or nothing usable is found.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise StudyError(f"{path}: no such file or folder")
        if path.is_file() or is_volume_path(path):
            found.append(path)
            continue
        for child in sorted(path.iterdir()):
            if is_volume_path(child):
                found.append(child)
    if not found:
        raise StudyError(f"no NIfTI files or DICOM folders found in {', '.join(map(str, paths))}")
    return found


def load_study(path: str | os.PathLike[str]) -> StudyVolume:
    """Read one volume (file or DICOM folder) as a :class:`StudyVolume`.

    Raises
    ------
    StudyError
        Naming the file when it cannot be read.
    """
    path = Path(path)
    name = path.name
    for suffix in (".nii.gz", ".nii", ".mgz", ".nrrd"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    try:
        from medsr_viewer.core import io as core_io
    except ImportError:  # pragma: no cover - the project loader is optional here
        core_io = None  # type: ignore[assignment]
    try:
        if core_io is not None:
            vol = core_io.load_volume(path)
            voxels = np.asarray(vol.voxels, dtype=np.float32)
            modality = vol.modality if vol.modality in ("CT", "MR") else _guess_modality(name)
            return StudyVolume(name, voxels, vol.spacing, modality)
        if path.is_dir() or path.suffix.lower() == ".dcm":
            return _read_dicom_folder(path if path.is_dir() else path.parent, name)
        return _read_nibabel(path, name)
    except StudyError:
        raise
    except Exception as exc:  # any reader failure becomes one clear message
        raise StudyError(f"{path}: cannot read volume ({exc.__class__.__name__}: {exc})") from exc


def _read_nibabel(path: Path, name: str) -> StudyVolume:
    import nibabel as nib

    img = nib.load(str(path))
    data = np.asarray(img.get_fdata(dtype=np.float32))  # type: ignore[attr-defined]
    if data.ndim == 4:
        data = data[..., 0]
    if data.ndim != 3:
        raise StudyError(f"{path}: expected a 3-D volume, got shape {data.shape}")
    zooms = img.header.get_zooms()[:3]  # type: ignore[attr-defined]
    voxels = np.ascontiguousarray(data.transpose(2, 1, 0))
    spacing = (float(zooms[2]), float(zooms[1]), float(zooms[0]))
    return StudyVolume(name, voxels, spacing, _guess_modality(name))


def _guess_modality(name: str) -> str:
    """NIfTI has no modality tag: ``CT`` when the file name says so, else ``MR``."""
    return "CT" if "ct" in name.lower().replace("-", "_").split("_") else "MR"


def _read_dicom_folder(folder: Path, name: str) -> StudyVolume:
    import pydicom

    slices = []
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() == ".dcm":
            slices.append(pydicom.dcmread(str(f)))
    if not slices:
        raise StudyError(f"{folder}: no DICOM files")
    orient = np.array(slices[0].ImageOrientationPatient, dtype=np.float64)
    normal = np.cross(orient[:3], orient[3:])
    slices.sort(key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, float))))
    planes = []
    for ds in slices:
        arr = ds.pixel_array.astype(np.float32)
        arr = arr * float(getattr(ds, "RescaleSlope", 1) or 1) + float(
            getattr(ds, "RescaleIntercept", 0) or 0
        )
        planes.append(arr)
    positions = [np.dot(normal, np.array(ds.ImagePositionPatient, float)) for ds in slices]
    dz = float(np.median(np.diff(positions))) if len(positions) > 1 else 1.0
    dy, dx = (float(v) for v in slices[0].PixelSpacing)
    modality = str(getattr(slices[0], "Modality", "OT"))
    return StudyVolume(name, np.stack(planes), (abs(dz), dy, dx), modality)


def load_image_pairs(images: str | os.PathLike[str], labels: str | os.PathLike[str]
                     ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Read 2-D image/label pairs matched by sorted file name order.

    Returns
    -------
    list of (name, image float32 in stored units, label uint8 as stored)

    Raises
    ------
    StudyError
        When a folder is missing, empty, or the two folders differ in count or shapes.
    """
    from PIL import Image

    img_dir, lab_dir = Path(images), Path(labels)
    for d in (img_dir, lab_dir):
        if not d.is_dir():
            raise StudyError(f"{d}: not a folder")
    img_files = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    lab_files = sorted(p for p in lab_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not img_files:
        raise StudyError(f"{img_dir}: no images")
    if len(img_files) != len(lab_files):
        raise StudyError(
            f"{img_dir} has {len(img_files)} images but {lab_dir} has {len(lab_files)} labels"
        )
    pairs = []
    for fi, fl in zip(img_files, lab_files):
        try:
            image = np.asarray(Image.open(fi).convert("F"), dtype=np.float32)
            label = np.asarray(Image.open(fl).convert("L"), dtype=np.uint8)
        except OSError as exc:
            raise StudyError(f"{fi} / {fl}: cannot read image ({exc})") from exc
        if image.shape != label.shape:
            raise StudyError(f"{fi}: image {image.shape} and label {label.shape} differ in size")
        pairs.append((fi.stem, image, label))
    return pairs
