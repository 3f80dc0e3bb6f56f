"""Label map grid against the study's: same grid, sub-grid, resampled, partly or not at all
inside, and a DICOM SEG's frame of reference (issue #15, "Label names")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.labels import GridRelation, LabelMap, check_label_grid, load_label_file
from medsr_viewer.core.labels.grid_match import axis_codes
from medsr_viewer.core.volume import Volume

#: A small study grid: 40 x 30 x 20 voxels (x, y, z) of 1 x 1 x 2 mm, axial LPS.
STUDY_AFFINE = np.array([[1.0, 0, 0, -20], [0, 1.0, 0, -15], [0, 0, 2.0, -20], [0, 0, 0, 1]])


@pytest.fixture
def study() -> Volume:
    return Volume(np.zeros((20, 30, 40), np.float32), STUDY_AFFINE.copy())


def labels_on(affine: np.ndarray, shape: tuple[int, int, int] = (20, 30, 40),
              block: tuple[slice, ...] = (slice(5, 15), slice(5, 25), slice(5, 35)),
              name: str = "shifted.nii.gz") -> LabelMap:
    data = np.zeros(shape, np.uint8)
    data[block] = 1
    return LabelMap(Volume(data, affine), name=name, source=Path("/data") / name)


def shifted(mm: tuple[float, float, float]) -> np.ndarray:
    affine = STUDY_AFFINE.copy()
    affine[:3, 3] += mm
    return affine


def test_same_grid_within_tolerance_says_nothing(study: Volume) -> None:
    for affine in (STUDY_AFFINE, shifted((0.005, 0, 0))):  # 0.005 voxel: the same grid
        check = check_label_grid(labels_on(affine), study)
        assert check.relation is GridRelation.SAME and check.opens and check.message == ""


def test_sub_voxel_shift_is_resampled_and_named(study: Volume) -> None:
    check = check_label_grid(labels_on(shifted((0.3, 0.4, 0))), study)
    assert check.relation is GridRelation.RESAMPLED and check.opens
    assert check.message == ("shifted.nii.gz: grid 40×30×20 at 1.0×1.0×2.0 mm, shifted 0.5 mm "
                             "from the study's — resampled to the study")


def test_block_of_the_study_lattice_is_exact_and_silent(study: Volume) -> None:
    """A DICOM SEG of the labelled slices only, or a crop: the study's voxels, drawn as is."""
    affine = shifted((3.0, 2.0, 4.0))  # 3, 2 and 2 voxels in
    check = check_label_grid(labels_on(affine, (10, 20, 30), (slice(2, 8),) * 3), study)
    assert check.relation is GridRelation.SUBGRID and check.message == ""


def test_whole_voxel_shift_out_of_the_study_is_cut_and_warned(study: Volume) -> None:
    check = check_label_grid(labels_on(shifted((20.0, 0, 0))), study)  # half the width
    assert check.relation is GridRelation.CROPPED and check.opens
    assert "shifted 20.0 mm from the study's — the part inside the study is shown" in \
        check.message
    assert check.inside_fraction == pytest.approx(15 / 30)
    assert "only 50% of its labels lie inside the study" in check.message


def test_no_label_inside_the_study_is_not_opened(study: Volume) -> None:
    check = check_label_grid(labels_on(shifted((1000.0, 0, 0)), name="other.nii.gz"), study)
    assert check.relation is GridRelation.DISJOINT and not check.opens
    assert check.message.startswith("other.nii.gz: does not overlap the study (none of its "
                                    "labels lies inside the study's extent; centres 1000 mm")
    assert "another subject" in check.message
    # labels outside, though the grids overlap: nothing could be drawn either
    outside = labels_on(shifted((35.0, 0, 0)), block=(slice(0, 20), slice(0, 30), slice(6, 40)))
    assert not check_label_grid(outside, study).opens
    # an empty label map: judged by its grid
    empty = LabelMap(Volume(np.zeros((4, 4, 4), np.uint8), shifted((500.0, 0, 0))), name="e")
    assert "its grid lies outside" in check_label_grid(empty, study).message


def test_spacing_orientation_and_tilt_are_named(study: Volume) -> None:
    fine = STUDY_AFFINE @ np.diag([0.5, 0.5, 0.5, 1.0])
    check = check_label_grid(labels_on(fine, (40, 60, 80), name="fine.nii.gz"), study)
    assert check.relation is GridRelation.RESAMPLED
    assert "grid 80×60×40 at 0.5×0.5×1.0 mm vs study 40×30×20 at 1.0×1.0×2.0 mm" in \
        check.message
    flipped = STUDY_AFFINE @ np.diag([-1.0, 1, 1, 1])
    flipped[:3, 3] = STUDY_AFFINE[:3, 3] + [39.0, 0, 0]  # the same box, x stored R to L
    check = check_label_grid(labels_on(flipped), study)
    assert "at 1.0×1.0×2.0 mm RPS vs study 40×30×20 at 1.0×1.0×2.0 mm LPS" in check.message
    angle = np.radians(10)
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    check = check_label_grid(labels_on(rotation @ STUDY_AFFINE), study)
    assert "tilted 10.0° against it" in check.message


def test_dicom_frame_of_reference_and_series_are_compared(study: Volume) -> None:
    study.metadata.update(frame_of_reference_uid="1.2.3.100", series_uid="1.2.3.7")
    seg = labels_on(STUDY_AFFINE, name="seg.dcm")
    seg.volume.metadata.update(frame_of_reference_uid="1.2.3.100", referenced_series_uid="1.2.3.7")
    assert check_label_grid(seg, study).message == ""
    seg.volume.metadata.update(frame_of_reference_uid="1.2.3.999", referenced_series_uid="1.2.3.8")
    check = check_label_grid(seg, study)
    assert check.relation is GridRelation.SAME and check.opens
    assert check.message == (
        "seg.dcm: its frame of reference (1.2.3.999) is not the study's (1.2.3.100): another "
        "scan session or scanner?; it refers to series 1.2.3.8, not the study's (1.2.3.7)")


def test_real_label_maps_over_the_freesurfer_subject(data_dir: Path) -> None:
    subject = data_dir / "labelled" / "freesurfer_subject"
    norm = load_volume(subject / "norm.mgz")
    assert axis_codes(norm.affine) == "LIA"  # FreeSurfer's conformed space
    aparc = check_label_grid(load_label_file(subject / "aparc.a2009s+aseg.mgz"), norm)
    assert aparc.relation is GridRelation.SAME and aparc.message == ""
    tissue = data_dir / "labelled" / "template_tissue" / "mni152_pveseg.nii.gz"
    check = check_label_grid(load_label_file(tissue), norm)
    assert check.relation is GridRelation.RESAMPLED and check.opens
    assert check.message.startswith(
        "mni152_pveseg.nii.gz: grid 207×256×215 at 0.74 mm RAS vs study 256×256×256 at 1.0 mm "
        "LIA")
    assert check.message.endswith("— resampled to the study")
    lesion = load_label_file(data_dir / "labelled" / "flair_lesion" / "lesion.nii.gz")
    flair = load_volume(data_dir / "labelled" / "flair_lesion" / "FLAIR.nii.gz")
    assert check_label_grid(lesion, flair).message == ""
    check = check_label_grid(lesion, norm)  # another subject's lesions over this one
    assert "lesion.nii.gz: grid 124×160×140 at 1.0 mm RAS vs study 256×256×256" in check.message
