"""Writing a :class:`~medsr_viewer.core.study.Study` as NIfTI plus BIDS-style JSON sidecars.

Each volume group becomes one NIfTI file (4-D when it has several volumes) with the RAS
affine in both sform and qform, the values after rescale (stored as int16/int32 when they are
whole numbers that fit, else float32), RGB24 for colour images as dcm2niix writes them, and
a JSON sidecar beside it with the series facts and the per-volume labels under BIDS names.
Diffusion series also get FSL ``.bval``/``.bvec`` files (directions in the image's voxel
axes, x flipped for a right-handed affine, as FSL and dcm2niix expect). The sidecar is built
from allowlisted facts only, so it never holds a patient identifier. Every file is written
atomically and never over the input.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.study import Study, VolumeGroup
from medsr_viewer.core.writers import LPS_TO_RAS, NIFTI_SUFFIXES, WriteError, check_output_path

#: NIfTI RGB24 sample layout (what nibabel writes as datatype 128).
RGB_DTYPE = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
#: Name of the converter in sidecars.
CONVERSION_SOFTWARE = "medsr convert"


def _stem(path: Path) -> tuple[str, str]:
    """``(stem, suffix)`` of a NIfTI path (``.nii`` or ``.nii.gz``)."""
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    raise WriteError(path, "not a NIfTI file name (.nii or .nii.gz)")


def group_paths(study: Study, path: str | os.PathLike[str]) -> list[Path]:
    """Output file of every group: ``OUT`` for the first, ``OUT_<kind>`` for the others."""
    target = Path(path)
    stem, suffix = _stem(target)
    paths = [target]
    used = {stem}
    for group in study.groups[1:]:
        tag = re.sub(r"[^A-Za-z0-9]+", "", group.kind.title()) or "Image"
        name = f"{stem}_{tag}"
        while name in used:
            name += "x"
        used.add(name)
        paths.append(target.with_name(name + suffix))
    return paths


def _storage(values: np.ndarray) -> np.ndarray:
    """The values in the smallest type that holds them exactly (int16, int32, else float32)."""
    finite = np.isfinite(values).all()
    if finite and values.size and np.array_equal(values, np.rint(values)):
        low, high = float(values.min()), float(values.max())
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if info.min <= low and high <= info.max:
                return values.astype(dtype)
    return values.astype(np.float32)


def group_image(group: VolumeGroup, repetition_time: float | None = None) -> nib.Nifti1Image:
    """The NIfTI image of a group: ``(x, y, z[, t])`` data, RAS affine in sform and qform and,
    for several volumes, ``repetition_time`` (s) as ``pixdim[4]`` when given.

    Colour is written as the volumes show it (8-bit, e.g. 16-bit samples scaled down)."""
    affine = LPS_TO_RAS @ group.volumes[0].affine
    if group.rgb is not None:
        colours = [v.rgb for v in group.volumes if v.rgb is not None]
        samples = np.stack(colours) if len(colours) == group.n_volumes \
            else np.clip(group.rgb, 0, 255).astype(np.uint8)  # (t, z, y, x, 3)
        packed = np.ascontiguousarray(samples).view(RGB_DTYPE)[..., 0]
        data = packed.transpose(3, 2, 1, 0)
    else:
        data = _storage(group.voxels_4d()).transpose(3, 2, 1, 0)
    if data.shape[3] == 1:
        data = data[..., 0]
    image = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    header = image.header
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units(xyz="mm", t="sec")
    if data.ndim == 4 and repetition_time is not None and repetition_time > 0:
        header.set_zooms(tuple(header.get_zooms()[:3]) + (float(repetition_time),))
    header["descrip"] = CONVERSION_SOFTWARE
    return image


def _constant_and_varying(
    labels: tuple[Mapping[str, Any], ...]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Label facts equal for every volume, and the per-volume rest."""
    keys = list(dict.fromkeys(k for label in labels for k in label))
    constant = {k: labels[0][k] for k in keys
                if all(k in label and label[k] == labels[0][k] for label in labels)}
    varying = [{k: v for k, v in label.items() if k not in constant} for label in labels]
    return constant, varying


def sidecar(study: Study, group: VolumeGroup) -> dict[str, Any]:
    """The JSON sidecar of one group: series facts, constant labels, per-volume labels."""
    facts: dict[str, Any] = dict(study.facts)
    constant, varying = _constant_and_varying(group.labels)
    facts.update(constant)
    facts["ImageKind"] = group.kind
    if group.n_volumes > 1 and any(varying):
        facts["VolumeLabels"] = varying
    if any("DiffusionBValue" in label for label in group.labels):
        facts["DiffusionBValues"] = [label.get("DiffusionBValue", 0) for label in group.labels]
    facts["ConversionSoftware"] = CONVERSION_SOFTWARE
    return facts


def fsl_bvec(group: VolumeGroup) -> np.ndarray:
    """``(3, volumes)`` gradient directions in the written image's voxel axes (FSL style)."""
    rotation = (LPS_TO_RAS @ group.volumes[0].affine)[:3, :3]
    rotation = rotation / np.linalg.norm(rotation, axis=0)
    vectors = np.zeros((3, group.n_volumes))
    for v, label in enumerate(group.labels):
        gradient = label.get("DiffusionGradientOrientation")
        if gradient is None:
            continue
        g_ras = np.array([-gradient[0], -gradient[1], gradient[2]], dtype=np.float64)
        vectors[:, v] = np.linalg.solve(rotation, g_ras)
    if np.linalg.det(rotation) > 0:
        vectors[0] = -vectors[0]
    return vectors


def _writer(kind: str, payload: Any) -> Callable[[str], object]:
    """A ``write(tmp)`` callable for :func:`atomic_write`: a NIfTI image or UTF-8 text."""
    if kind == "nifti":
        return lambda tmp: nib.save(payload, tmp)
    return lambda tmp: Path(tmp).write_text(payload, encoding="utf-8")


def save_study(
    study: Study,
    path: str | os.PathLike[str],
    *,
    input_path: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write every group of ``study`` (NIfTI + JSON sidecar, and bval/bvec for diffusion).

    Returns the written files. Every target is checked before anything is written.

    Raises
    ------
    WriteError
        A target is the input, exists without ``force``, or cannot be written.
    """
    if not Path(path).name.lower().endswith(NIFTI_SUFFIXES):
        raise WriteError(path, "not a NIfTI file name (.nii or .nii.gz)")
    plans: list[tuple[Path, str, Any]] = []
    for group, target in zip(study.groups, group_paths(study, path), strict=True):
        stem, _ = _stem(target)
        tr = study.facts.get("RepetitionTime")
        image = group_image(group, float(tr) if isinstance(tr, (int, float)) else None)
        plans.append((target, "nifti", image))
        text = json.dumps(sidecar(study, group), indent=2, sort_keys=False, allow_nan=False,
                          default=str)
        plans.append((target.with_name(stem + ".json"), "text", text + "\n"))
        if any("DiffusionBValue" in label for label in group.labels):
            bvals = " ".join(f"{label.get('DiffusionBValue', 0):g}" for label in group.labels)
            bvec = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in fsl_bvec(group))
            plans.append((target.with_name(stem + ".bval"), "text", bvals + "\n"))
            plans.append((target.with_name(stem + ".bvec"), "text", bvec + "\n"))
    for target, _, _ in plans:
        check_output_path(target, force, input_path)
    written = []
    for target, kind, payload in plans:
        try:
            atomic_write(target, _writer(kind, payload))
        except OSError as exc:
            raise WriteError(target, f"could not be written ({exc})") from exc
        written.append(target)
    return written
