"""Blinded reader mode (issue #14): pairs of methods' images, names hidden, answers to CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import close_model_window, cpu_model_window, open_and_wait, write_nifti_crop
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFileDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.view_model import Layout
from medsr_viewer.gui.controllers.reader_study_run import ReaderStudyRun
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.models.identity import file_sha256
from medsr_viewer.models.reader_images import ReaderImages
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.slice_engine import SliceEngine

AXIAL = Orientation.AXIAL


@pytest.fixture(scope="module")
def reader_t1(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 72x80x9 crop of the real head MR (NIfTI, affine kept by the slicer)."""
    return write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz",
                            np.s_[50:122, 70:150, 88:97],
                            tmp_path_factory.mktemp("reader-study") / "reader_t1.nii.gz",
                            np.float32)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    """A main window whose models run on the CPU; the picker lists the test models."""
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 700))
    yield win
    close_model_window(win)


def _texts(top: QWidget) -> list[str]:
    """Every text a reader can see or hover in ``top``: titles, labels, buttons, tips."""
    texts = [top.windowTitle(), top.toolTip(), top.statusTip(), top.whatsThis()]
    for widget in top.findChildren(QWidget):
        texts += [widget.windowTitle(), widget.toolTip(), widget.statusTip(),
                  widget.whatsThis(), widget.accessibleName(), widget.accessibleDescription()]
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            texts.append(widget.text())
        if isinstance(widget, QProgressBar):
            texts.append(widget.text())
    return texts


def _assert_blind(top: QWidget, secrets: list[str]) -> None:
    shown = "\n".join(_texts(top)).lower()
    for secret in secrets:
        assert secret.lower() not in shown, secret


def _press(qtbot: QtBot, target: QWidget, key: Qt.Key) -> None:
    target.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is target, timeout=3000)
    qtbot.keyClick(target, key)


def test_blinded_reader_study_hides_identities_and_writes_them_to_csv(
    qtbot: QtBot, window: MainWindow, reader_t1: Path, zoo: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = tmp_path / "answers" / "reader-results.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(results), ""))
    open_and_wait(qtbot, window, [reader_t1])
    conv, bicubic = zoo["conv-x2"], zoo["bicubic-x2"]
    window.compare.model_picker.add_path(conv)

    # Tools ▸ Blinded Reader Study…, as the user finds it
    action = window.actions_.action("tools.reader_study")
    tools = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Tools")
    assert action in tools.actions() and action.isEnabled()
    action.trigger()
    setup = window.studies.reader_study.setup_dialog
    assert setup is not None and setup.isVisible()
    assert not setup.start_button.isEnabled()  # no reader yet
    qtbot.keyClicks(setup.reader_edit, "Test Reader")
    first, second = setup.method_boxes
    first.setCurrentIndex(first.findData(str(conv)))
    second.setCurrentIndex(second.findData(str(bicubic)))
    assert setup.evenly_radio.isChecked()
    setup.count_spin.setValue(3)
    setup.seed_spin.setValue(1234)
    qtbot.mouseClick(setup.start_button, Qt.MouseButton.LeftButton)

    run = window.studies.reader_study.run
    assert isinstance(run, ReaderStudyRun)
    tw = run.trial_window
    assert tw.isVisible()
    qtbot.waitUntil(lambda: run.ready, timeout=30000)
    plan = run.plan
    assert plan is not None and plan.total == 3 and plan.seed == 1234
    assert sorted(t.slice_index for t in plan.trials) == [1, 4, 7]  # 3 of 9, evenly

    secrets = ["conv", "bicubic", str(zoo["raises"].parent), *(m.identity[:12]
                                                                for m in plan.methods)]
    display = window.viewer.display
    assert display is not None
    engine = SliceEngine(ModelRegistry([("user", tmp_path / "none")]), device="cpu",
                         notifier=Notifier())
    expected = ReaderImages(display, AXIAL, engine=engine)
    shown: list[tuple[np.ndarray, np.ndarray]] = []
    for key in (Qt.Key.Key_Left, Qt.Key.Key_4, Qt.Key.Key_B):
        qtbot.waitUntil(lambda: run.ready, timeout=30000)
        trial = run.current
        assert trial is not None
        assert tw.counter_label.text() == f"Trial {trial.number} of 3"
        assert tw.slice_label.text() == f"axial {trial.slice_index + 1}/9"
        assert [p.title.text() for p in tw.panes.values()] == ["A", "B"]
        _assert_blind(tw, secrets)
        a, b = tw.pane_image("A"), tw.pane_image("B")
        rows, cols = display.slice_shape(AXIAL)
        assert a is not None and b is not None and a.shape == b.shape == (2 * rows, 2 * cols)
        assert tw.panes["A"].image_item.levels is not None
        assert np.allclose(tw.panes["A"].image_item.levels, tw.panes["B"].image_item.levels)
        shown.append((a.copy(), b.copy()))
        _press(qtbot, tw, key)
    assert window.view_model.layout == Layout.SINGLE  # "4" scored, not three planes

    qtbot.waitUntil(results.is_file, timeout=5000)
    assert tw.message_label.text() == f"Saved 3 answers to {results}"
    _assert_blind(tw, secrets)
    with results.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["trial"] for r in rows] == ["1", "2", "3"]
    identities = {"conv-x2": file_sha256(conv), "bicubic-x2": file_sha256(bicubic)}
    for row, (a, b), trial in zip(rows, shown, plan.trials):
        assert row["reader"] == "Test Reader" and row["study"] == "reader_t1"
        assert row["plane"] == "axial" and row["slice"] == str(trial.slice_index + 1)
        assert {row["left_method"], row["right_method"]} == set(identities)
        assert row["left_identity"] == identities[row["left_method"]]
        assert row["right_identity"] == identities[row["right_method"]]
        assert float(row["seconds"]) >= 0.0 and row["time"]
        # what was shown as A is the left method's image, B the right one's
        by_name = {m.name: m for m in plan.methods}
        left = expected.image(by_name[row["left_method"]], trial.slice_index, 2)
        right = expected.image(by_name[row["right_method"]], trial.slice_index, 2)
        tolerance = 1e-4 * float(np.ptp(left))
        assert np.allclose(a, left, atol=tolerance) and np.allclose(b, right, atol=tolerance)
        assert not np.allclose(a, right, atol=tolerance)  # the two methods differ
    assert (rows[0]["choice"], rows[0]["score"]) == ("left", "")
    assert rows[0]["preferred_method"] == rows[0]["left_method"]
    assert (rows[1]["choice"], rows[1]["score"]) == ("right", "4")
    assert rows[1]["preferred_method"] == rows[1]["right_method"]
    assert (rows[2]["choice"], rows[2]["preferred_method"]) == ("right", rows[2]["right_method"])

    qtbot.mouseClick(tw.stop_button, Qt.MouseButton.LeftButton)  # "Close"
    qtbot.waitUntil(lambda: window.studies.reader_study.run is None, timeout=3000)


def test_back_one_trial_replaces_the_answer_and_stopping_offers_to_save(
    qtbot: QtBot, window: MainWindow, reader_t1: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = tmp_path / "partial.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(results), ""))
    open_and_wait(qtbot, window, [reader_t1])
    reader = window.studies.reader_study
    run = reader.start("R", ["bicubic", "original"], [2, 3, 4], seed=5)
    assert run is not None
    qtbot.waitUntil(lambda: run.ready, timeout=10000)
    tw = run.trial_window
    _press(qtbot, tw, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: run.ready, timeout=10000)
    _press(qtbot, tw, Qt.Key.Key_Backspace)  # back to trial 1
    assert run.position == 0 and tw.counter_label.text() == "Trial 1 of 3"
    qtbot.waitUntil(lambda: run.ready, timeout=10000)
    _press(qtbot, tw, Qt.Key.Key_5)
    assert run.plan is not None and run.plan.answers[1].score == 5
    _press(qtbot, tw, Qt.Key.Key_Escape)  # stop: the answer given is saved
    qtbot.waitUntil(lambda: reader.run is None, timeout=3000)
    with results.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["score"] == "5"
    assert {rows[0]["left_identity"], rows[0]["right_identity"]} == {"bicubic", "original"}
