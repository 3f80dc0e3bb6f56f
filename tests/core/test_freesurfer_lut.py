"""FreeSurfer's built-in colour table: the vendored file, the names of a real FreeSurfer
subject's labels, and which label maps get it (issue #15, "Label names")."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.labels import (
    FREESURFER_LUT,
    LabelEntry,
    LabelTable,
    LabelTableError,
    format_freesurfer_lut,
    format_itksnap,
    freesurfer_table,
    is_freesurfer_like,
    load_label_map,
    read_colour_table,
)
from medsr_viewer.core.labels import table as table_module
from medsr_viewer.core.labels.labelmap import FREESURFER_TABLE_SOURCE

SUBJECT = Path("labelled") / "freesurfer_subject"


def test_vendored_lut_is_freesurfers_table_read_by_the_lut_reader() -> None:
    table = freesurfer_table()
    assert len(table) > 1200
    assert table.entry(17) == LabelEntry(17, "Left-Hippocampus", (220, 216, 20))
    assert table.name(11101) == "ctx_lh_G_and_S_frontomargin"
    assert table.name(1035) == "ctx-lh-insula"
    assert table.name(2) == "Left-Cerebral-White-Matter"
    # resources/README.md records where the file came from and its checksum
    readme = (FREESURFER_LUT.parents[1] / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256(FREESURFER_LUT.read_bytes()).hexdigest() == recorded.group(1)
    assert (FREESURFER_LUT.parent / "LICENSE-FreeSurfer.txt").is_file()
    # a copy: editing it leaves the built-in table alone
    table.update(17, name="edited")
    assert freesurfer_table().name(17) == "Left-Hippocampus"


def test_whole_lut_round_trips_through_both_writers(tmp_path: Path) -> None:
    table = freesurfer_table()
    for name, text in (("fs_lut.txt", format_freesurfer_lut(table)),
                       ("fs.label", format_itksnap(table))):
        path = tmp_path / name
        path.write_text(text)
        back = read_colour_table(path)
        assert back.values() == table.values()
        assert back.entry(11101) == table.entry(11101)


def test_freesurfer_subject_labels_are_named_from_the_lut(data_dir: Path) -> None:
    aparc = load_label_map(data_dir / SUBJECT / "aparc.a2009s+aseg.mgz")
    values = aparc.present_values()
    assert len(values) > 150
    assert aparc.volume.metadata["table_source"] == FREESURFER_TABLE_SOURCE
    assert aparc.table.values() == values  # only the values present, not FreeSurfer's 1266
    assert aparc.table.name(17) == "Left-Hippocampus"
    assert aparc.table.name(53) == "Right-Hippocampus"
    assert aparc.table.name(11101) == "ctx_lh_G_and_S_frontomargin"
    assert aparc.table.entry(17).color == (220, 216, 20)
    lut = freesurfer_table()
    assert all(aparc.table.entry(v) == lut.entry(v) for v in values)
    assert not any(aparc.table.name(v).startswith("label ") for v in values)
    assert aparc.table.name(0) == "background"


def test_lesion_mask_and_tissue_classes_keep_plain_names(data_dir: Path) -> None:
    """Values 1-3 are in FreeSurfer's table too, but a lesion map is not FreeSurfer's."""
    for path in (data_dir / "labelled/flair_lesion/lesion.nii.gz",
                 data_dir / "labelled/template_tissue/mni152_pveseg.nii.gz"):
        labels = load_label_map(path)
        assert labels.present_values() == [1, 2, 3]
        assert labels.table.name(1) == "label 1"
        assert "Left-Cerebral-Exterior" not in {labels.table.name(v) for v in (1, 2, 3)}
        assert labels.volume.metadata["table_source"] == ""


ELEVEN = [2, 3, 4, 5, 7, 8, 10, 11, 12, 13, 17]


@pytest.mark.parametrize(("name", "values", "expected"), [
    ("aseg.mgz", [2, 41], True),                     # FreeSurfer's name
    ("sub-01_aparc+aseg.nii.gz", [17, 53], True),
    ("wmparc.mgz", [3001, 5001], True),
    ("ribbon.mgz", [2, 3, 41, 42], True),
    ("mask.mgz", [1], False),                        # an .mgz mask (mri_binarize)
    ("lesion.nii.gz", [1, 2, 3], False),
    ("labels.nii.gz", ELEVEN, True),                 # > 10 values, all FreeSurfer's
    ("labels.nii.gz", ELEVEN[:10], False),
    ("aseg.mgz", [17, 99999], False),                # a value FreeSurfer does not number
    ("labels.nii.gz", [*ELEVEN, 99999], False),
    ("aseg.mgz", [], False),                         # nothing to name
    (None, ELEVEN, True),
])
def test_which_label_maps_are_freesurfer_like(name: str | None, values: list[int],
                                              expected: bool) -> None:
    assert is_freesurfer_like(name, [0, *values]) is expected


def _write_labels(path: Path, values: list[int]) -> Path:
    data = np.zeros((4, 4, len(values) + 1), np.int16)
    for k, value in enumerate(values):
        data[..., k] = value
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def test_own_table_wins_over_freesurfers(tmp_path: Path) -> None:
    path = _write_labels(tmp_path / "aseg.nii.gz", [17, 53])
    assert load_label_map(path).table.name(53) == "Right-Hippocampus"
    mine = LabelTable([LabelEntry(17, "my_hippocampus", (1, 2, 3))])
    assert load_label_map(path, table=mine).table.name(53) == "label 53"
    (tmp_path / "aseg_lut.txt").write_text(format_freesurfer_lut(mine))
    again = load_label_map(path)
    assert again.table.name(17) == "my_hippocampus" and again.table.name(53) == "label 53"
    assert again.volume.metadata["table_source"] == str(tmp_path / "aseg_lut.txt")


def test_reader_refuses_binary_and_oversized_files(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    image = _write_labels(tmp_path / "picked_by_mistake.nii", [1])
    with pytest.raises(LabelTableError, match=r"picked_by_mistake.nii: not a colour table"):
        read_colour_table(image)
    monkeypatch.setattr(table_module, "MAX_TABLE_BYTES", 1000)
    with pytest.raises(LabelTableError, match=r"FreeSurferColorLUT.txt: .*too large"):
        read_colour_table(FREESURFER_LUT)
