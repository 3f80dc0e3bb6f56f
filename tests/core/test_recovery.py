"""Crash-recovery autosaves: one file per instance, pending until answered, never lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medsr_viewer.core.recovery import (
    AUTOSAVE_DIR,
    Autosaver,
    Recovery,
    autosave_owner,
    describe_recoveries,
    instance_autosave_path,
    legacy_autosave_paths,
    merge_sessions,
    pending_recoveries,
    retire_recoveries,
)
from medsr_viewer.core.roi import EllipseRoi, Plane
from medsr_viewer.core.session import LabelMapRef, ModelRef, Session, load_session, save_session

AXIAL = Plane((1.5, -2.25, 40.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))

#: An instance of the program: reports the pending recoveries it finds, autosaves N new ROIs
#: (without answering), then works until it is killed.
INSTANCE = """
import json, sys, threading
from medsr_viewer.core.recovery import Autosaver, pending_recoveries
from medsr_viewer.core.roi import EllipseRoi, Plane
from medsr_viewer.core.session import Session

study, count = sys.argv[1], int(sys.argv[2])
found = pending_recoveries(study)
plane = Plane((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
rois = [EllipseRoi(plane, cu=float(i), cv=1.0, ru=2.0, rv=2.0, name=f"{i}") for i in range(count)]
saver = Autosaver(interval_s=0.0)
if rois:
    assert saver.changed(lambda: Session(study, rois=rois)), saver.last_error
print(json.dumps({"found": [len(r.session.rois) for r in found],
                  "rois": [r.roi_id for r in rois]}), flush=True)
threading.Event().wait()
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "input"
    folder.mkdir()
    path = folder / "study.nii.gz"
    path.write_bytes(b"placeholder image bytes")  # only its path matters to a session
    return path


def _rois(*names: str) -> list[EllipseRoi]:
    return [EllipseRoi(AXIAL, cu=1.0, cv=2.0, ru=3.0, rv=1.0, name=n) for n in names]


def _start(study: Path, count: int) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen([sys.executable, "-c", INSTANCE, str(study), str(count)],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"instance exited with {proc.wait()}"
    return proc, json.loads(line)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGKILL")
def test_two_crashes_and_edits_before_answering_lose_nothing(study: Path, config: Path) -> None:
    """kill -9 with 3 ROIs; a new instance draws 1 without answering; kill -9: 4 pending."""
    first, report = _start(study, 3)
    assert report["found"] == []
    lost = report["rois"]
    assert pending_recoveries(study) == []  # its owner is running: not a recovery (yet)
    _kill(first)
    second, report = _start(study, 1)
    assert report["found"] == [3]  # offered; the instance writes its own file beside it
    added = report["rois"]
    _kill(second)
    third, report = _start(study, 0)
    assert report["found"] == [3, 1]  # the unanswered one is still there after a 2nd crash
    _kill(third)

    found = pending_recoveries(study)
    merged = merge_sessions([r.session for r in found if r.session is not None])
    assert [r.roi_id for r in merged.rois] == lost + added  # all 4, oldest first
    assert merged.study_path == str(study)
    assert retire_recoveries(found) == []
    assert pending_recoveries(study) == []
    assert list((config / AUTOSAVE_DIR).iterdir()) == []


def test_each_instance_has_its_own_rate_limited_autosave(study: Path, config: Path) -> None:
    now = [100.0]
    saver = Autosaver(interval_s=3.0, clock=lambda: now[0])
    other = Autosaver(interval_s=0.0)
    session = Session(str(study), rois=_rois("a", "b", "c"))
    assert saver.changed(lambda: session)  # first edit saves immediately
    assert other.changed(lambda: Session(str(study), rois=_rois("x")))
    path = saver.path_for(session)
    assert path == instance_autosave_path(study, saver.token)
    assert path.is_relative_to(config) and not path.is_relative_to(study.parent)
    assert path != other.path_for(session) and autosave_owner(path) == os.getpid()
    session.rois.pop()
    now[0] += 1.0
    assert not saver.changed(lambda: session) and saver.pending  # too soon: pending
    now[0] += 1.0
    assert not saver.poll()
    assert len(load_session(path).rois) == 3  # crash now would lose <= 3 s of edits
    now[0] += 1.5
    assert saver.poll() and not saver.pending
    assert len(load_session(path).rois) == 2 and saver.saves == 2
    assert pending_recoveries(study) == []  # both owners (this process) are running
    saver.retire()  # clean exit: only its own file goes
    assert not path.exists() and saver.written == frozenset()
    assert [load_session(p).rois[0].name for p in other.written] == ["x"]
    other.discard(session)  # saved: the session covers it
    assert list((config / AUTOSAVE_DIR).iterdir()) == []


def test_pending_recoveries_of_dead_owners_legacy_and_left_files(study: Path, config: Path
                                                                 ) -> None:
    dead = _dead_pid()
    crashed = save_session(Session(str(study), rois=_rois("crashed")),
                           instance_autosave_path(study, "ab12", pid=dead))
    live = save_session(Session(str(study), rois=_rois("running")),
                        instance_autosave_path(study, "cd34"))
    old, old_aside = legacy_autosave_paths(study)
    save_session(Session(str(study), rois=_rois("old")), old)
    save_session(Session(str(study), rois=_rois("aside")), old_aside)
    other_study = instance_autosave_path(study.parent / "other.nii.gz", "ef56", pid=dead)
    save_session(Session(str(study), rois=_rois("other")), other_study)
    (config / AUTOSAVE_DIR / f"{crashed.name}.txt").write_text("not an autosave")
    broken = instance_autosave_path(study, "0bad", pid=dead)
    broken.write_text("{ cut short")
    os.utime(broken, (1.0, 1.0))  # the oldest

    saver = Autosaver(interval_s=0.0)
    assert saver.changed(lambda: Session(str(study), rois=_rois("left")))
    left = saver.release(str(study))  # the study was closed without saving
    assert left is not None and left.is_file() and autosave_owner(left) is None
    assert saver.written == frozenset() and saver.release(str(study)) is None

    found = pending_recoveries(study)
    assert found[0].path == broken and found[0].session is None and "not valid JSON" in \
        found[0].error
    names = sorted(r.session.rois[0].name for r in found[1:] if r.session is not None)
    assert names == ["aside", "crashed", "left", "old"]
    assert live not in [r.path for r in found]
    text = describe_recoveries(found)
    assert "5 autosaves" in text and "unreadable" in text and text.count("1 ROI,") == 4


def test_merge_keeps_every_roi_and_layer_later_wins() -> None:
    a, b = _rois("a", "b")
    edited_b = EllipseRoi(AXIAL, cu=9.0, cv=9.0, ru=1.0, rv=1.0, name="b2", roi_id=b.roi_id)
    (c,) = _rois("c")
    first = Session("/s.nii", models=[ModelRef("/m1.pt")], rois=[a, b],
                    label_maps=[LabelMapRef("/l1.nii", "one")], view_state={"layout": "single"})
    second = Session("/s.nii", rois=[edited_b, c],
                     label_maps=[LabelMapRef("/l1.nii", "one again"), LabelMapRef("/l2.nii")],
                     view_state={"layout": "compare"})
    merged = merge_sessions([first, second])
    assert merged.rois == [a, edited_b, c]
    assert [(m.path, m.name) for m in merged.label_maps] == [("/l1.nii", "one again"),
                                                             ("/l2.nii", "")]
    assert merged.models == first.models and merged.view_state == {"layout": "compare"}
    assert merge_sessions([]) == Session()


def test_describe_one_recovery_and_empty_ones() -> None:
    one = Recovery(Path("x.medsr.json"), 0.0, Session("/s", rois=_rois("a", "b")))
    assert "found: 2 ROIs, 0 label layer(s)" in describe_recoveries([one])
    assert not one.is_empty and Recovery(Path("y"), 0.0, Session("/s")).is_empty
    assert not Recovery(Path("z"), 0.0, None, "broken").is_empty


def test_autosave_into_input_folder_is_refused_without_raising(study: Path) -> None:
    saver = Autosaver(path=study.parent / "auto.medsr.json", interval_s=0.0)
    assert not saver.changed(lambda: Session(str(study), rois=_rois("a")))
    assert "input folder" in saver.last_error and saver.pending
    assert not (study.parent / "auto.medsr.json").exists()
