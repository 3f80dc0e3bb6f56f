"""Writing several volumes on one grid as one 4-D NIfTI (e.g. interval bounds: lower, upper)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import (
    ECODE_COMMENT,
    LPS_TO_RAS,
    WriteError,
    check_output_path,
    nifti_description,
    output_format,
)


def save_nifti_frames(
    frames: Sequence[Volume],
    path: str | os.PathLike[str],
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``frames`` (same shape and affine) as one 4-D float32 NIfTI, atomically.

    Frame ``t`` of the file is ``frames[t]``; geometry, ``descrip`` and the provenance
    extension are written as :func:`medsr_viewer.core.writers.save_nifti` writes them.
    """
    if not frames:
        raise WriteError(Path(path), "no volumes to write")
    first = frames[0]
    for frame in frames[1:]:
        if frame.shape != first.shape or not np.allclose(frame.affine, first.affine):
            raise WriteError(Path(path), "volumes of a 4-D file must share one grid")
    target = check_output_path(path, force, input_path or first.metadata.get("source"))
    if output_format(target) != "nifti":
        raise WriteError(target, "not a NIfTI file name (.nii or .nii.gz)")
    data = np.stack([np.asarray(f.voxels, np.float32).transpose(2, 1, 0) for f in frames], -1)
    affine = LPS_TO_RAS @ first.affine
    image = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    header = image.header
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units(xyz="mm")
    header["descrip"] = nifti_description(description or first.name, first.modality)
    if extra:
        text = json.dumps(dict(extra), sort_keys=True, default=str)
        header.extensions.append(nib.nifti1.Nifti1Extension(ECODE_COMMENT, text.encode("utf-8")))
    atomic_write(target, lambda tmp: nib.save(image, tmp))
    return target
