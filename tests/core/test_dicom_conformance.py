"""Conformance with dcm2niix over the real-scanner corpus in ``dicom_qa`` (see its README).

For every case with a reference the project's study must hold the same volumes: each
reference NIfTI (dcm2niix splits echoes, real/phase and derived images into several files) is
matched to one of the project's volume groups with as many volumes, and at a few hundred
seeded random reference voxels of every volume the world point ``ref.affine @ (i, j, k, 1)``
(RAS mm) lies on the project's grid (within 1e-3 voxel) and holds the same value. Cases
dcm2niix refuses for lack of a codec (``dcm_qa_ts`` series 7 and 8, JPEG-LS) are compared
with the other transfer syntaxes of the same image.

Philips: dcm2niix writes Philips "precise float" values (``UsePhilipsFloatNotDisplayScaling``)
where the project keeps the DICOM RescaleSlope/Intercept values every viewer shows; the two
differ by ``PhilipsRescaleSlope * PhilipsScaleSlope`` per volume, taken from dcm2niix's own
sidecar, unless dcm2niix used the real-world value mapping (Hz field maps), which is the
rescale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.io import LoadError, load_study
from medsr_viewer.core.study import Study, VolumeGroup

#: Reference voxels sampled per volume.
SAMPLES = 300
#: Largest distance (voxels) of a reference voxel centre from the project's grid.
GRID_TOLERANCE = 1e-3
#: LPS <-> RAS.
FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])
#: Transfer syntaxes dcm2niix (Debian build) cannot decode; compared with this case instead.
CODEC_REFUSED = {"series/dcm_qa_ts/series_7": "series/dcm_qa_ts/series_1",
                 "series/dcm_qa_ts/series_8": "series/dcm_qa_ts/series_1"}


def _cases(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "dicom_qa" / "cases.json"
    if not path.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(path.read_text())
    return cases


def _case_ids() -> list[str]:
    from tests.conftest import shared_data_dir  # the data_dir fixture's folder

    return [case["series"] for case in _cases(shared_data_dir())] or ["(no corpus)"]


_STUDIES: dict[str, Study | LoadError] = {}


def _study(root: Path, series: str) -> Study | LoadError:
    """The project's study of a case, loaded once per test session."""
    if series not in _STUDIES:
        try:
            _STUDIES[series] = load_study(root / series)
        except LoadError as exc:
            _STUDIES[series] = exc
    return _STUDIES[series]


def _philips_factor(ref_path: Path, image: Any) -> float:
    """Factor turning dcm2niix's Philips float values into DICOM rescaled (display) values."""
    sidecar = ref_path.with_name(ref_path.name.replace(".nii.gz", ".json"))
    meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    if not meta.get("UsePhilipsFloatNotDisplayScaling"):
        return 1.0
    slope = float(image.dataobj.slope)
    rwv = meta.get("PhilipsRWVSlope")
    if rwv is not None and np.isclose(slope, float(rwv), rtol=1e-3):
        return 1.0  # dcm2niix used the real-world value mapping: the rescaled values
    return float(meta["PhilipsRescaleSlope"]) * float(meta["PhilipsScaleSlope"])


def _mismatch(ref: np.ndarray, ref_affine: np.ndarray, voxels: np.ndarray,
              affine: np.ndarray, seed: int) -> str | None:
    """Why a project volume (``(t, z, y, x)``, LPS affine) differs from ``ref``, else None."""
    ref4 = ref if ref.ndim == 4 else ref[..., np.newaxis]
    if ref4.shape[3] != voxels.shape[0]:
        return f"{voxels.shape[0]} volumes, reference has {ref4.shape[3]}"
    rng = np.random.default_rng(seed)
    to_project = np.linalg.inv(affine) @ FLIP @ ref_affine
    for t in range(ref4.shape[3]):
        ijk = np.stack([rng.integers(0, n, SAMPLES) for n in ref4.shape[:3]], axis=1)
        xyz = (np.c_[ijk, np.ones(SAMPLES)] @ to_project.T)[:, :3]
        nearest = np.rint(xyz)
        off = float(np.abs(xyz - nearest).max())
        if off > GRID_TOLERANCE:
            return f"volume {t}: reference voxels {off:.3g} voxel off the project's grid"
        x, y, z = nearest.astype(int).T
        inside = (x >= 0) & (y >= 0) & (z >= 0) & (x < voxels.shape[3]) & \
            (y < voxels.shape[2]) & (z < voxels.shape[1])
        if not inside.all():
            return f"volume {t}: {int((~inside).sum())} reference voxels outside the project's grid"
        expected = ref4[ijk[:, 0], ijk[:, 1], ijk[:, 2], t]
        got = voxels[t, z, y, x]
        if not np.allclose(got, expected, rtol=1e-4, atol=1e-3 * max(1.0, np.abs(expected).max())):
            worst = int(np.argmax(np.abs(got - expected)))
            return f"volume {t}: value {got[worst]:.6g}, reference {expected[worst]:.6g}"
    return None


def _candidates(group: VolumeGroup) -> list[np.ndarray]:
    """The group's volumes, and each echo of it, as ``(t, z, y, x)`` arrays."""
    stacked = group.voxels_4d()
    found = [stacked]
    echoes = [label.get("EchoNumber") for label in group.labels]
    for echo in dict.fromkeys(echoes):
        chosen = [i for i, e in enumerate(echoes) if e == echo]
        if echo is not None and len(chosen) < len(echoes):
            found.append(stacked[chosen])
    return found


def match_reference(study: Study, ref_path: Path, seed: int = 0) -> str | None:
    """Why no volume group of ``study`` matches the reference NIfTI, else ``None``."""
    image = nib.load(str(ref_path))
    ref = np.asarray(image.dataobj, dtype=np.float64) * _philips_factor(ref_path, image)
    reasons = []
    for group in study.groups:
        for voxels in _candidates(group):
            reason = _mismatch(ref, image.affine, voxels, group.volumes[0].affine, seed)
            if reason is None:
                return None
            reasons.append(f"{group.kind}: {reason}")
    return "; ".join(reasons)


@pytest.mark.parametrize("series", _case_ids())
def test_matches_dcm2niix(data_dir: Path, series: str) -> None:
    """Each reference file of a case matches one of the project's volume groups."""
    root = data_dir / "dicom_qa"
    case = next(c for c in _cases(data_dir) if c["series"] == series)
    study = _study(root, series)
    if not case.get("ref") and series not in CODEC_REFUSED:
        assert isinstance(study, LoadError), "dcm2niix finds no image; the project must refuse"
        return
    assert not isinstance(study, LoadError), str(study)
    if series in CODEC_REFUSED:
        twin = _study(root, CODEC_REFUSED[series])
        assert not isinstance(twin, LoadError)
        for mine, other in zip(study.groups, twin.groups, strict=True):
            np.testing.assert_array_equal(mine.voxels_4d(), other.voxels_4d())
            np.testing.assert_allclose(mine.volumes[0].affine, other.volumes[0].affine)
        return
    for k, ref in enumerate(case["ref"]):
        reason = match_reference(study, root / ref, seed=k)
        assert reason is None, f"{ref}: {reason}"
