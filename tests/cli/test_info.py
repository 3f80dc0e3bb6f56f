"""``medsr info``: text and JSON descriptions of real studies, and one-line errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pydicom
import pytest

from medsr_viewer.cli.main import main

#: Shapes (i, j, k) from the shared data README; the volume shape is (k, j, i).
README_SHAPES = {
    "chris_t1.nii.gz": (188, 256, 190),
    "chris_PD.nii.gz": (191, 256, 54),
    "chris_MRA.nii.gz": (200, 256, 120),
    "CT_pitch.nii.gz": (175, 248, 58),
    "spm152.nii.gz": (207, 256, 215),
}


def _info_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    """Run ``medsr info --json`` and parse its single JSON object."""
    assert main(["info", "--json", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_every_mri_ct_file(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every real volume in mri_ct: valid JSON with the README's shape and sane geometry."""
    files = sorted((data_dir / "mri_ct").glob("*.nii*"))
    assert {f.name for f in files} >= set(README_SHAPES)
    for path in files:
        facts = _info_json(capsys, str(path))
        if path.name in README_SHAPES:
            i, j, k = README_SHAPES[path.name]
            assert facts["shape"] == [k, j, i], path.name
        assert facts["format"] == "NIfTI" and facts["dtype"] == "float32"
        assert re.fullmatch(r"[LR][AP][IS]|[LRAPIS]{3}", facts["orientation"])
        assert all(s > 0 for s in facts["spacing"]) and len(facts["origin"]) == 3
        low, high = facts["value_range"]
        assert 0 <= low < high <= 255  # 8-bit sources
        assert facts["warnings"] == []


def test_text_report_of_real_dicom_series(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The human report names geometry, orientation, window and no patient data."""
    folder = data_dir / "dicom" / "vs_seg_001_t1"
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "shape (z,y,x): 120 x 512 x 512" in out
    assert "spacing (mm): 1.5 x 0.410156 x 0.410156" in out
    assert "orientation:  LPS" in out
    # Each slice stores its own window (C210/W502 on the first): the median is the study's.
    assert "modality:     MR" in out
    assert "window:       center 603.5, width 1168 (median of the 120 slices' windows)" in out
    assert "warnings: none" in out
    assert "VS-SEG-001" not in out  # the PatientName/PatientID of this case


def test_folder_with_two_series(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copies of the real series under two UIDs: both listed; --series picks the smaller."""
    source = sorted((data_dir / "dicom" / "vs_seg_001_t1").iterdir())
    for folder, files, uid in (("a", source[:6], "1.2.826.0.1.99.1"),
                               ("b", source[40:43], "1.2.826.0.1.99.2")):
        (tmp_path / folder).mkdir()
        for file in files:
            ds = pydicom.dcmread(file)
            ds.SeriesInstanceUID = uid
            ds.save_as(tmp_path / folder / file.name)
    facts = _info_json(capsys, str(tmp_path))
    assert sorted((s["uid"], s["slices"]) for s in facts["series"]) == [
        ("1.2.826.0.1.99.1", 6), ("1.2.826.0.1.99.2", 3)
    ]
    assert facts["shape"] == [6, 512, 512] and facts["series_uid"] == "1.2.826.0.1.99.1"
    assert any("2 series found" in w for w in facts["warnings"])
    picked = _info_json(capsys, str(tmp_path), "--series", "1.2.826.0.1.99.2")
    assert picked["shape"] == [3, 512, 512]
    assert picked["spacing"][0] == pytest.approx(1.5)


@pytest.mark.parametrize("kind", ["missing", "text", "corrupt_nifti", "bad_uid"])
def test_unreadable_input_exit_2_one_line(
    kind: str, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unreadable input: exit status 2, one stderr line naming the file, no traceback."""
    args: list[str]
    if kind == "missing":
        target = tmp_path / "nothing.nii.gz"
        args = [str(target)]
    elif kind == "text":
        target = tmp_path / "notes.txt"
        target.write_text("hello")
        args = [str(target)]
    elif kind == "corrupt_nifti":
        target = tmp_path / "half.nii.gz"
        original = (data_dir / "mri_ct" / "CT_pitch.nii.gz").read_bytes()
        target.write_bytes(original[: len(original) // 3])
        args = [str(target)]
    else:
        target = tmp_path / "series"
        target.mkdir()
        shutil.copy(data_dir / "dicom" / "vs_seg_001_t1" / "1-001.dcm", target)
        args = [str(target), "--series", "9.9.9"]
    assert main(["info", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"medsr info: {target}: ")
    assert "Traceback" not in captured.err


def test_a_command_start_sweeps_temp_files_of_killed_writers(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A ``medsr sr`` killed mid-write left a journalled temp file: the next command removes it."""
    import os
    import subprocess
    import sys

    from medsr_viewer.core.atomic import JOURNAL_DIR, TEMP_MARK

    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path / "config"))
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    token = "0123456789abcdef"
    stale = tmp_path / "out" / f".sr.nii.gz.{dead}.{token}{TEMP_MARK}.nii.gz"
    stale.parent.mkdir()
    stale.write_bytes(b"half a volume")
    record = tmp_path / "config" / JOURNAL_DIR / f"{dead}-{token}.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"pid": dead, "path": str(stale)}))
    live = stale.with_name(f".x.nii.gz.{os.getpid()}.{token}{TEMP_MARK}.nii.gz")
    live.write_bytes(b"being written")
    (record.parent / f"{os.getpid()}-{token}.json").write_text(json.dumps({"path": str(live)}))
    _info_json(capsys, str(data_dir / "mri_ct" / "chris_PD.nii.gz"))
    assert not stale.exists() and not record.exists() and live.is_file()
