"""Label tables: FreeSurfer LUT and ITK-SNAP files, model-card labels, sidecars, overlay LUT."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsr_viewer.core.labels import (
    LabelEntry,
    LabelTable,
    LabelTableError,
    default_color,
    find_sidecar_table,
    format_freesurfer_lut,
    format_itksnap,
    read_colour_table,
)
from medsr_viewer.models.card import Label, ModelCard

FREESURFER = """\
#$Id: FreeSurferColorLUT.txt excerpt
#No. Label Name:                            R   G   B   A

0   Unknown                                 0   0   0   0
17  Left-Hippocampus                        220 216 20  0
11136 ctx_lh_G_and_S_frontomargin           23  220 60  0
"""

ITKSNAP = """\
################################################
# ITK-SnAP Label Description File
# Columns = Index, Red, Green, Blue, Visibility alpha, Label visibility, Mesh visibility, Label
################################################
    0     0    0    0        0  0  0    "Clear Label"
    1   255    0    0        1  1  1    "Grey matter"
    2     0  255    0      0.5  0  1    "White matter"
"""


def test_reads_freesurfer_lut(tmp_path: Path) -> None:
    path = tmp_path / "FreeSurferColorLUT.txt"
    path.write_text(FREESURFER)
    table = read_colour_table(path)
    assert table.values() == [0, 17, 11136]
    assert table.entry(17) == LabelEntry(17, "Left-Hippocampus", (220, 216, 20))
    assert table.name(11136) == "ctx_lh_G_and_S_frontomargin"


def test_reads_itksnap_with_visibility_and_opacity(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text(ITKSNAP)
    table = read_colour_table(path)
    assert table.entry(1) == LabelEntry(1, "Grey matter", (255, 0, 0), True, 1.0)
    assert table.entry(2) == LabelEntry(2, "White matter", (0, 255, 0), False, 0.5)


def test_both_formats_round_trip(tmp_path: Path) -> None:
    table = LabelTable([LabelEntry(1, "Grey matter", (255, 0, 0)),
                        LabelEntry(3, "CSF", (0, 0, 250), visible=False, opacity=0.25)])
    itk = tmp_path / "t.label"
    itk.write_text(format_itksnap(table))
    assert read_colour_table(itk) == table
    fs = tmp_path / "t_lut.txt"
    fs.write_text(format_freesurfer_lut(table))
    back = read_colour_table(fs)
    assert back.entry(1).name == "Grey_matter" and back.entry(3).color == (0, 0, 250)


def test_bad_table_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("0 Unknown 0 0 0 0\n5 Thing 300 0 0 0\n")
    with pytest.raises(LabelTableError, match=r"bad.txt, line 2"):
        read_colour_table(bad)
    with pytest.raises(LabelTableError, match="nothing.txt"):
        read_colour_table(tmp_path / "nothing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only comments\n")
    with pytest.raises(LabelTableError, match="no entries"):
        read_colour_table(empty)


def test_card_labels_defaults_and_editing() -> None:
    card = ModelCard(name="seg", task="segment", out_channels=3,
                     labels=(Label(1, "tumour", (255, 0, 0)), Label(2, "oedema", (0, 0, 255))))
    table = LabelTable.from_card_labels(card.labels)
    assert table.name(1) == "tumour" and table.entry(2).color == (0, 0, 255)
    assert table.name(9) == "label 9" and table.entry(9).color == default_color(9)
    assert default_color(9) != default_color(10)
    table.update(2, visible=False)
    table.update(1, opacity=0.5, name="enhancing tumour")
    lut = table.colour_lut()
    assert lut[0][3] == 0 and lut[1] == (255, 0, 0, 128) and lut[2][3] == 0
    merged = table.merged(LabelTable([LabelEntry(2, "edema", (1, 2, 3))]))
    assert merged.name(2) == "edema" and merged.name(1) == "enhancing tumour"
    assert LabelTable.from_list(table.to_list()) == table


def test_sidecar_table_found_next_to_label_file(tmp_path: Path) -> None:
    labels = tmp_path / "seg.nii.gz"
    labels.write_bytes(b"")
    assert find_sidecar_table(labels) is None
    (tmp_path / "seg.lut").write_text(FREESURFER)
    assert find_sidecar_table(labels) == tmp_path / "seg.lut"
