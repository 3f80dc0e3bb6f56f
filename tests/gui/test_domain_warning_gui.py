"""The viewer warns, without blocking, when a model is run on a study unlike its training data."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
from gui_helpers import open_and_wait
from pytestqt.qtbot import QtBot

from medsr_viewer.gui.main_window import MainWindow


def test_em_model_on_an_mr_study_shows_a_warning_and_still_runs(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path, tmp_path: Path
) -> None:
    crop = tmp_path / "t1_crop.nii.gz"
    image = nib.load(str(data_dir / "mri_ct" / "chris_t1.nii.gz"))
    nib.save(image.slicer[20:170, 30:220, 90:92], str(crop))  # a tight crop: looks like EM
    open_and_wait(qtbot, main_window, [crop])
    dock = main_window.label_dock
    assert dock.runner.select_model("seg-em-membrane")
    assert not main_window.warning_banner.isVisible()
    with qtbot.waitSignal(dock.runner.finished, timeout=60000):
        dock.segment_current_slice()
    qtbot.waitUntil(main_window.warning_banner.isVisible, timeout=5000)
    text = main_window.warning_banner.text()
    assert "seg-em-membrane: may not suit this study" in text and "EM" in text
    assert len(main_window.label_overlay.layers) == 1  # a warning, not a refusal
