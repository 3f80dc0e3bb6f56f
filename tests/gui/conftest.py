"""GUI test fixtures: a main window with private settings, and real studies."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.main_window import MainWindow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

from model_zoo import export_zoo


@pytest.fixture(autouse=True)
def _garbage_collected_between_tests() -> Iterator[None]:
    """Collect Python garbage between GUI tests only, never in the middle of a Qt call.

    With PySide6 6.11 a collection that starts inside ``QObject::disconnect`` (Qt holds its
    signal-slot mutex there) can destroy dead widgets of an earlier test whose destructors
    wait for the same mutex: the process hangs for good (seen once in CI, in pyqtgraph's
    ``GraphicsItem._updateView`` while a new window was built). Collecting at the test's
    edges, with automatic collection off inside it, removes that window.
    """
    gc.disable()  # the previous test's teardown collected already
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture(scope="session")
def t1_path(data_dir: Path) -> Path:
    """A real head MR (NIfTI, 188x256x190, 0.88 mm, stored RAS)."""
    return data_dir / "mri_ct" / "chris_t1.nii.gz"


@pytest.fixture(scope="session")
def t1_volume(t1_path: Path) -> Volume:
    """The real head MR loaded once per session."""
    from medsr_viewer.core.io import load_volume

    return load_volume(t1_path)


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small test models (``tests/models/model_zoo``) exported once; tests only read it."""
    return export_zoo(tmp_path_factory.mktemp("gui-zoo"))


@pytest.fixture
def main_window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """A shown main window whose recent-files list lives in ``tmp_path``."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    yield window
    window.close()
