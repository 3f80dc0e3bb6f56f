"""The DICOM tag browser's core (issue #15): one real file's header as rows, patient data
flagged and masked, sequences nested, the file of each slice known, broken files refused.

Patient values are never printed: comparisons that involve one are made into booleans
before the ``assert`` (pytest would otherwise show the compared values on failure).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.io.dicom_phi import is_phi
from medsr_viewer.core.io.dicom_tags import (
    ITEM_TAG,
    MASK,
    MAX_VALUE_CHARS,
    TagRow,
    masked,
    read_tags,
    row_matches,
    value_shown,
    visible_rows,
)
from medsr_viewer.core.io.errors import LoadError
from medsr_viewer.core.slice_files import is_dicom, slice_file

SERIES = Path("dicom") / "vs_seg_001_t1"
ENHANCED = Path("dicom_qa") / "series" / "dcm_qa_enh" / "Philips" / "IM_0027_fMAP.dcm"
#: Attributes the issue names as identifying (all must be masked).
NAMED_PHI = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
             "PatientAddress", "OtherPatientIDs", "InstitutionName", "InstitutionAddress",
             "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
             "AccessionNumber", "StudyDate", "StudyTime", "AcquisitionDateTime", "ContentDate",
             "StudyID", "DeviceSerialNumber", "StudyInstanceUID", "SeriesInstanceUID",
             "SOPInstanceUID", "FrameOfReferenceUID")
#: Attributes that say what the image is, never whose (shown).
NOT_PHI = ("Modality", "SOPClassUID", "TransferSyntaxUID", "Rows", "Columns", "PixelSpacing",
           "SliceThickness", "EchoTime", "SeriesDescription", "Manufacturer",
           "ImagePositionPatient", "PhotometricInterpretation")


def _first_file(data_dir: Path) -> Path:
    return data_dir / SERIES / "1-001.dcm"


def _by_keyword(rows: list[TagRow]) -> dict[str, TagRow]:
    found: dict[str, TagRow] = {}
    for row in rows:
        if row.keyword and row.keyword not in found:
            found[row.keyword] = row
    return found


def _nested(rows: list[TagRow], start: int) -> list[TagRow]:
    """The rows nested in the sequence at ``rows[start]``."""
    inside = []
    for row in rows[start + 1:]:
        if row.depth <= rows[start].depth:
            break
        inside.append(row)
    return inside


def test_named_attributes_are_classified_by_the_confidentiality_profile() -> None:
    for keyword in NAMED_PHI:
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        assert is_phi(tag >> 16, keyword, dictionary_VR(tag)), keyword
    for keyword in NOT_PHI:
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        assert not is_phi(tag >> 16, keyword, dictionary_VR(tag)), keyword
    assert is_phi(0x0010, "", "LO")  # anything of the patient group
    assert is_phi(0x0029, "", "LO") and is_phi(0x0019, "", "DS")  # private values


def test_real_mr_slice_masks_patient_data_and_private_tags(data_dir: Path) -> None:
    rows = read_tags(_first_file(data_dir))
    assert len(rows) > 100
    assert rows[0].tag == "(0002,0000)"  # file meta first
    by_keyword = _by_keyword(rows)
    for keyword in ("PatientName", "PatientID", "StudyDate", "StudyInstanceUID",
                    "SeriesInstanceUID", "SOPInstanceUID", "AccessionNumber"):
        assert by_keyword[keyword].phi, keyword
    name = by_keyword["PatientName"]
    has_value = bool(name.value) and name.value != MASK
    assert has_value  # the file names its (de-identified) patient
    masked_shown = value_shown(name, reveal=False) == MASK
    revealed_shown = value_shown(name, reveal=True) == name.value
    assert masked_shown and revealed_shown
    for keyword in ("Modality", "Rows", "SeriesDescription", "SOPClassUID"):
        row = by_keyword[keyword]
        assert not row.phi and value_shown(row, reveal=False) == row.value, keyword
    assert by_keyword["Modality"].value == "MR"
    assert by_keyword["SOPClassUID"].value.endswith("(MR Image Storage)")
    assert by_keyword["FileMetaInformationVersion"].value == "<2 bytes>"

    private = [row for row in rows if row.tag.startswith("(") and int(row.tag[1:5], 16) % 2]
    assert len(private) > 10
    assert all(row.phi for row in private)
    hidden = [value_shown(row, reveal=False) for row in private if row.value]
    assert hidden and all(text == MASK for text in hidden)
    assert any(row.name.startswith("[") for row in private)  # names from pydicom's dictionary

    shown = masked(rows)
    leaked = [a.keyword or a.tag for a, b in zip(rows, shown, strict=True)
              if a.phi and a.value and not a.structural and b.value != MASK]
    assert leaked == []


def test_sequences_are_nested_below_their_items(data_dir: Path) -> None:
    rows = read_tags(_first_file(data_dir))
    start = next(i for i, r in enumerate(rows) if r.keyword == "ReferencedImageSequence")
    sequence = rows[start]
    assert (sequence.vr, sequence.depth, sequence.value) == ("SQ", 0, "<3 items>")
    item, first = rows[start + 1], rows[start + 2]
    assert (item.tag, item.name, item.depth) == (ITEM_TAG, "Item 1", 1)
    assert first.keyword == "ReferencedSOPClassUID" and first.depth == 2 and not first.phi
    inside = rows[start + 1:start + 10]
    assert [r.name for r in inside if r.tag == ITEM_TAG] == ["Item 1", "Item 2", "Item 3"]
    uid = next(r for r in inside if r.keyword == "ReferencedSOPInstanceUID")
    assert uid.phi and value_shown(uid, reveal=False) == MASK
    assert rows[start + 10].depth == 0  # the sequence ended
    # a sequence that is identifying makes everything in it identifying
    study = next(i for i, r in enumerate(rows) if r.keyword == "ReferencedStudySequence")
    assert rows[study].phi and rows[study + 1].phi and rows[study + 2].phi
    assert value_shown(rows[study], reveal=False) == "<1 item>"  # a count, not a value


def test_filter_matches_tag_keyword_and_shown_value_never_a_masked_one(
        data_dir: Path) -> None:
    rows = read_tags(_first_file(data_dir))
    name = _by_keyword(rows)["PatientName"]
    hidden_text = str(name.value)[:6]
    found_masked = row_matches(name, hidden_text, reveal=False)
    found_revealed = row_matches(name, hidden_text, reveal=True)
    assert not found_masked and found_revealed
    assert row_matches(name, "patientname", reveal=False)
    assert row_matches(name, "(0010,0010)", reveal=False) and row_matches(name, "00100010", False)

    keep = visible_rows(rows, "ReferencedSOPInstanceUID", reveal=False)
    kept = [row for row, shown in zip(rows, keep, strict=True) if shown]
    assert {r.keyword for r in kept if r.depth == 0} == {"ReferencedStudySequence",
                                                         "ReferencedImageSequence"}
    assert all(r.keyword == "ReferencedSOPInstanceUID" or r.tag == ITEM_TAG or r.vr == "SQ"
               for r in kept)
    echo = visible_rows(rows, "EchoTime", reveal=False)
    assert [r.keyword for r, s in zip(rows, echo, strict=True) if s] == ["EchoTime"]
    assert all(visible_rows(rows, "", reveal=False))


def test_large_and_long_values_are_summarised(data_dir: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(_first_file(data_dir))
    block = ds.private_block(0x0009, "MEDSR TEST", create=True)
    block.add_new(0x01, "OB", bytes(100_000))
    ds.ImageComments = "a long comment " * 80
    ds.DerivationDescription = "line one\r\nline two"
    path = tmp_path / "large.dcm"
    ds.save_as(path)
    by_keyword = _by_keyword(read_tags(path))
    big = next(r for r in read_tags(path) if r.tag == "(0009,1001)")
    assert big.value == "<100000 bytes>" and big.phi
    comment = by_keyword["ImageComments"]
    assert len(comment.value) == MAX_VALUE_CHARS and comment.value.endswith("…")
    assert comment.phi  # free text may name the patient
    assert by_keyword["DerivationDescription"].value == "line one line two"


def test_enhanced_multiframe_lists_the_functional_group_of_its_frame(data_dir: Path) -> None:
    path = data_dir / ENHANCED
    rows = read_tags(path, frame=3)
    start = next(i for i, r in enumerate(rows) if r.keyword == "PerFrameFunctionalGroupsSequence")
    depth = rows[start].depth
    assert rows[start].value == "<64 items>"
    inside = _nested(rows, start)
    items = [r for r in inside if r.depth == depth + 1]
    assert [r.name for r in items] == ["Item 4", "…"]
    assert "frame 4 of 64" in items[0].value and "63 other frames" in items[1].value
    position = [r.value for r in inside if r.keyword == "ImagePositionPatient"]
    first = read_tags(path, frame=0)
    first_position = [r.value for r in first if r.keyword == "ImagePositionPatient"
                      and r.depth > depth]
    assert position and first_position and position[0] != first_position[0]
    without = read_tags(path)
    start = next(i for i, r in enumerate(without)
                 if r.keyword == "PerFrameFunctionalGroupsSequence")
    listed = [r for r in _nested(without, start) if r.depth == depth + 1]
    assert sum(r.tag == ITEM_TAG for r in listed) == 50  # bounded
    assert listed[-1].value == "14 more items are not listed"


def test_each_slice_knows_its_file(data_dir: Path) -> None:
    volume = load_volume(data_dir / SERIES)
    assert is_dicom(volume)
    files = volume.metadata["slice_files"]
    assert len(files) == volume.shape[0] == 120 and len({f for f, _ in files}) == 120
    for k in (0, 37, 119):
        world = (volume.affine @ np.array([100.0, 200.0, k, 1.0]))[:3]
        found = slice_file(volume, world)
        assert found is not None and found.path is not None
        assert (found.index, found.n_slices, found.frame) == (k, 120, None)
        position = pydicom.dcmread(found.path, stop_before_pixels=True).ImagePositionPatient
        normal = volume.affine[:3, 2] / np.linalg.norm(volume.affine[:3, 2])
        assert abs(float(np.dot(np.array(position, float) - world, normal))) < 1e-3


def test_enhanced_slices_know_their_frame(data_dir: Path) -> None:
    volume = load_volume(data_dir / ENHANCED)
    frames = [frame for _, frame in volume.metadata["slice_files"]]
    assert len(frames) == volume.shape[0] and all(f is not None for f in frames)
    world = (volume.affine @ np.array([0.0, 0.0, 5.0, 1.0]))[:3]
    found = slice_file(volume, world)
    assert found is not None and found.path == data_dir / ENHANCED and found.frame == frames[5]


def test_broken_files_are_refused_naming_the_file(data_dir: Path, tmp_path: Path) -> None:
    data = _first_file(data_dir).read_bytes()
    cases = {
        "cut_in_value.dcm": data[:500],
        "cut_before_pixels.dcm": data[:3000],
        "garbage.dcm": os.urandom(4000),
        "text.dcm": b"this is not a DICOM file\n" * 200,
        "empty.dcm": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(LoadError) as caught:
            read_tags(path)
        message = str(caught.value)
        assert name in message, name
        expected = {"cut_in_value.dcm": "truncated", "cut_before_pixels.dcm": "truncated",
                    "garbage.dcm": "not a DICOM file", "text.dcm": "not a DICOM file",
                    "empty.dcm": "empty"}[name]
        assert expected in message, name
    with pytest.raises(LoadError, match="not found"):
        read_tags(tmp_path / "absent.dcm")
