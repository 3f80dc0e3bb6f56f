"""The viewer never runs a model file's code without the user's say-so, survives bad cards,
and stops its threads when closed, even in the middle of a slow model (safe-models issue)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, open_and_wait
from malicious import SLOW_MODEL, pickled_pt2
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from medsr_viewer.core.session import ModelRef as SessionModel
from medsr_viewer.core.session import Session, save_session
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.workers import threads
from medsr_viewer.models.archive import read_card

REPO = Path(__file__).resolve().parents[2]
#: Every test here gets an empty trust store and models folder of its own.
pytestmark = pytest.mark.usefixtures("private_config")


def _study(path: Path) -> Path:
    data = np.linspace(0, 1000, 40 * 40 * 3, dtype=np.float32).reshape(40, 40, 3)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 3.0, 1.0])), str(path))
    return path


def _answer_trust_dialog(qtbot: QtBot, button_text: str, seen: list[str]) -> None:
    """When the trust dialog opens, record its text and click ``button_text``."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(f"{box.text()}\n{box.informativeText()}")
        for button in box.buttons():
            if button.text().replace("&", "") == button_text:
                button.click()
                return
        raise AssertionError(f"no {button_text!r} button in the trust dialog")

    QTimer.singleShot(0, answer)


def test_open_model_asks_before_code_runs(qtbot: QtBot, tmp_path: Path,
                                         zoo: dict[str, Path]) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "downloads").mkdir()
    evil = pickled_pt2(tmp_path / "downloads" / "innocent.pt2", marker)
    win = cpu_model_window(qtbot, tmp_path, zoo["bicubic-x2"].parent)
    open_and_wait(qtbot, win, [_study(tmp_path / "study.nii.gz")])
    seen: list[str] = []
    _answer_trust_dialog(qtbot, "Cancel", seen)
    assert not win.open_model(evil)
    assert seen and "innocent.pt2" in seen[0] and "can run code" in seen[0]
    assert read_card(evil).name in seen[0] and "SHA-256:" in seen[0]
    assert "not trusted" in win.error_banner.text()
    names = [win.compare.model_picker.itemText(i) for i in range(win.compare.model_picker.count())]
    assert "innocent-x2" not in names
    # Pressing S runs the listed (trusted) default, never the refused file.
    win.set_sr_enabled(True)
    qtbot.waitUntil(lambda: win.compare.complete, timeout=20000)
    assert not marker.exists()
    # Trusting it explicitly is what lets its code run (it then fails to load: a banner).
    seen.clear()
    _answer_trust_dialog(qtbot, "Trust and Load", seen)
    assert win.open_model(evil) and seen
    win.set_sr_enabled(True)
    qtbot.waitUntil(marker.exists, timeout=20000)
    qtbot.waitUntil(lambda: "innocent.pt2" in win.error_banner.text(), timeout=20000)
    close_model_window(win)


def test_session_with_untrusted_model_runs_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    study = _study(case / "study.nii.gz")
    marker = tmp_path / "pwned"
    evil = pickled_pt2(case / "x.pt2", marker)
    session_path = tmp_path / "sessions" / "case.medsr.json"
    save_session(
        Session(study_path=str(study),
                models=[SessionModel(str(evil), "innocent-x2", "super_resolution", "", "sr")],
                view_state={"sr_enabled": True, "orientation": "axial"}),
        session_path,
    )
    moved = tmp_path / "moved"
    (tmp_path / "case").rename(moved)  # the session finds them by relative path
    moved_session = moved / "case.medsr.json"
    text = json.loads(session_path.read_text())
    text["study"]["relative"] = "study.nii.gz"
    text["models"][0]["relative"] = "x.pt2"
    moved_session.write_text(json.dumps(text))
    win = cpu_model_window(qtbot, tmp_path, tmp_path / "no-models")
    seen: list[str] = []
    _answer_trust_dialog(qtbot, "Cancel", seen)
    assert win.session.open(moved_session)
    qtbot.waitUntil(lambda: win.viewer.volume is not None, timeout=20000)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert "x.pt2" in seen[0]
    assert not win.compare.enabled and not win.sr_action.isChecked()
    assert "was not loaded" in win.error_banner.text() or "not trusted" in win.error_banner.text()
    # Let every queued job finish (the background warm-up imports torch, seconds on a busy
    # machine): whatever ran, the untrusted file was never loaded.
    qtbot.waitUntil(lambda: not win.compare.worker.busy, timeout=60000)
    assert not marker.exists() and not win.compare.enabled
    close_model_window(win)


def test_a_bad_card_in_the_models_folder_does_not_stop_the_app(
    qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path], private_config: Path
) -> None:
    import shutil
    import zipfile

    folder = private_config / "models"
    folder.mkdir()
    shutil.copy(zoo["bicubic-x2"], folder / "good.pt")
    with zipfile.ZipFile(zoo["conv-x2"]) as zin, zipfile.ZipFile(folder / "bad.pt", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith("medsr_card.json"):
                card = json.loads(data)
                data = json.dumps({**card, "training": "oops"}).encode()
            zout.writestr(item, data)
    win = MainWindow()  # the default registry: bundled + this user folder
    qtbot.addWidget(win)
    picker = win.compare.model_picker
    names = [picker.itemText(i) for i in range(picker.count())]
    assert "bicubic-x2" in names and "sr-x2" in names and "conv-x2" not in names
    win.close()


def test_stop_all_stops_an_idle_inference_worker(qtbot: QtBot, tmp_path: Path,
                                                 zoo: dict[str, Path]) -> None:
    win = cpu_model_window(qtbot, tmp_path, zoo["bicubic-x2"].parent)
    open_and_wait(qtbot, win, [_study(tmp_path / "study.nii.gz")])
    win.compare.model_picker.add_path(zoo["bicubic-x2"])
    win.set_sr_enabled(True)
    qtbot.waitUntil(lambda: win.compare.complete, timeout=20000)
    worker = win.compare.worker
    qtbot.waitUntil(lambda: not worker.busy, timeout=10000)
    assert worker.isRunning()  # idle, waiting for requests
    start = time.monotonic()
    assert threads.stop_all(timeout_ms=5000) == []
    assert time.monotonic() - start < 2.0 and not worker.isRunning()
    win.close()


CLOSE_DURING_SLOW_MODEL = r"""
import sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from medsr_viewer.core.process_exit import exit_process
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.slice_engine import SliceEngine

model, study = Path(sys.argv[1]), Path(sys.argv[2])
app = QApplication([])
engine = SliceEngine(ModelRegistry([("user", model.parent)]), device="cpu")
win = MainWindow(worker=InferenceWorker(engine=engine), registry=ModelRegistry([("user", model.parent)]))
win.show()
win.open_paths([str(study)])
state = {"closed_at": None}

def step():
    if win.viewer.volume is None:
        return QTimer.singleShot(50, step)
    if not win.compare.enabled:
        win.compare.model_picker.add_path(model)
        win.set_sr_enabled(True)
        return QTimer.singleShot(1500, step)  # the slow tile is running now
    print("busy", win.compare.worker.busy, flush=True)
    state["closed_at"] = time.monotonic()
    win.close()
    app.quit()

QTimer.singleShot(0, step)
status = app.exec()
print(f"closed in {time.monotonic() - state['closed_at']:.2f} s", flush=True)
exit_process(status)
"""


def test_closing_while_a_slow_model_runs_exits_cleanly(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    env = {**os.environ, "MEDSR_CONFIG_DIR": str(tmp_path / "config"),
           "MEDSR_TRUSTED_MODEL_DIRS": str(models), "QT_QPA_PLATFORM": "offscreen"}
    maker = tmp_path / "make_slow.py"
    maker.write_text(SLOW_MODEL.format(zoo=str(REPO / "tests" / "models")))
    subprocess.run([sys.executable, str(maker), str(models / "slow.pt")], check=True, env=env)
    script = tmp_path / "close_during_slow_model.py"
    script.write_text(CLOSE_DURING_SLOW_MODEL)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), str(models / "slow.pt"), str(_study(tmp_path / "s.nii.gz"))],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "busy True" in done.stdout  # it really closed in the middle of the model
    closed = float(done.stdout.split("closed in ")[1].split()[0])
    assert closed < 3.0, done.stdout
    assert "Destroyed while thread" not in done.stderr
    assert time.monotonic() - start < 100


def test_dropping_a_model_file_asks_too(qtbot: QtBot, tmp_path: Path,
                                        zoo: dict[str, Path]) -> None:
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    marker = tmp_path / "pwned"
    evil = pickled_pt2(tmp_path / "dropped.pt2", marker)
    win = cpu_model_window(qtbot, tmp_path, zoo["bicubic-x2"].parent)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(evil))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    seen: list[str] = []
    _answer_trust_dialog(qtbot, "Cancel", seen)
    QApplication.sendEvent(win, drop)
    assert seen and "dropped.pt2" in seen[0]
    assert "not trusted" in win.error_banner.text()
    assert not win.loader.is_loading  # not mistaken for a study either
    assert not marker.exists()
    close_model_window(win)


def test_a_model_producing_nan_is_reported_not_shown(qtbot: QtBot, tmp_path: Path) -> None:
    from model_zoo import NanAbove16, sr_card, trust_folder_for_tests

    from medsr_viewer.models.archive import save_torchscript

    models = tmp_path / "models"
    models.mkdir()
    trust_folder_for_tests(models)
    save_torchscript(NanAbove16(), sr_card("nan-x2", 2, tile_size=32, tile_overlap=4),
                     models / "nan.pt")
    win = cpu_model_window(qtbot, tmp_path, models)
    open_and_wait(qtbot, win, [_study(tmp_path / "study.nii.gz")])
    with qtbot.waitSignal(win.compare.worker.failed, timeout=20000) as failed:
        win.set_sr_enabled(True)
    assert "NaN or infinite" in failed.args[2]
    assert "NaN or infinite" in win.error_banner.text()
    shown = win.compare.sr_view.image_item.image
    assert shown is None or np.isfinite(np.asarray(shown, dtype=float)).all()
    close_model_window(win)
