"""Session files save and restore exactly and stay out of input folders (autosave: test_recovery)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.labels import LabelEntry, LabelTable
from medsr_viewer.core.roi import BrushRoi, BrushStroke, EllipseRoi, FreehandRoi, Plane
from medsr_viewer.core.session import (
    LabelMapRef,
    ModelRef,
    Session,
    SessionError,
    load_session,
    save_session,
)

AXIAL = Plane((1.5, -2.25, 40.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "input"
    folder.mkdir()
    path = folder / "study.nii.gz"
    path.write_bytes(b"placeholder image bytes")  # only its path matters to a session
    (folder / "labels.nii.gz").write_bytes(b"labels")
    return path


def _session(study: Path) -> Session:
    return Session(
        study_path=str(study),
        models=[ModelRef("/models/sr_x2.pt", "sr-x2", "super_resolution", "cd" * 32, "sr")],
        rois=[
            EllipseRoi(AXIAL, cu=3.3, cv=4.4, ru=5.5, rv=2.2, name="tumour"),
            FreehandRoi(AXIAL, vertices=((0.0, 0.0), (10.1, 0.2), (5.0, 7.7))),
            BrushRoi(AXIAL, strokes=(BrushStroke(((1.0, 2.0), (3.0, 4.0)), 1.25),)),
        ],
        label_maps=[LabelMapRef(str(study.parent / "labels.nii.gz"), "lesions", True, 0.4,
                                "both", LabelTable([LabelEntry(1, "lesion", (255, 0, 0))]))],
        view_state={"layout": "compare", "slice": [12, 100, 90], "window": [40.0, 400.0],
                    "zoom": 1.75},
    )


def test_save_and_restore_exactly(tmp_path: Path, study: Path) -> None:
    session = _session(study)
    path = save_session(session, tmp_path / "sessions" / "work.medsr.json")
    restored = load_session(path)
    assert restored == session
    assert restored.missing_files() == ["/models/sr_x2.pt"]
    assert [p.name for p in path.parent.iterdir()] == ["work.medsr.json"]


def test_moved_folder_restores_through_relative_paths(tmp_path: Path, study: Path) -> None:
    save_session(_session(study), tmp_path / "work.medsr.json")
    moved = tmp_path.parent / (tmp_path.name + "_moved")
    shutil.copytree(tmp_path, moved)
    shutil.rmtree(study.parent)  # originals are gone
    restored = load_session(moved / "work.medsr.json")
    assert Path(restored.study_path) == (moved / "input" / "study.nii.gz").resolve()
    assert Path(restored.label_maps[0].path).is_file()
    shutil.rmtree(moved)


def test_never_writes_into_the_input_folder_unless_asked(study: Path) -> None:
    target = study.parent / "study.medsr.json"
    with pytest.raises(SessionError, match="input folder"):
        save_session(_session(study), target)
    assert not target.exists()
    save_session(_session(study), target, allow_input_folder=True)
    assert load_session(target).study_path == str(study)


def test_bad_session_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="nope.medsr.json"):
        load_session(tmp_path / "nope.medsr.json")
    bad = tmp_path / "bad.medsr.json"
    bad.write_text("{")
    with pytest.raises(SessionError, match="bad.medsr.json: not valid JSON"):
        load_session(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(SessionError, match="other.json: not a MedSR session"):
        load_session(other)
    broken = tmp_path / "broken.medsr.json"
    broken.write_text(json.dumps({"format": "medsr-session", "rois": [{"kind": "blob"}]}))
    with pytest.raises(SessionError, match="broken.medsr.json: bad ROI"):
        load_session(broken)


def test_view_state_must_be_json(tmp_path: Path, study: Path) -> None:
    session = _session(study)
    session.view_state["bad"] = np.float32(1.0)  # not JSON-serialisable
    with pytest.raises(SessionError, match="JSON"):
        save_session(session, tmp_path / "s.medsr.json")
    assert not (tmp_path / "s.medsr.json").exists()
