"""Shared test fixtures: headless Qt, the shared data folder, and a dangling-QThread guard."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep tests from touching the user's real settings, recent files and models folder.
os.environ.setdefault("MEDSR_CONFIG_DIR", str(Path(__file__).parent / ".." / ".pytest_config"))

# The same execution path on every machine (sr-x2's card validates bf16, which CPUs with
# AVX512_BF16/AMX would otherwise take): tests of the plans themselves clear this and inject
# the CPU's features (tests/models/test_execution.py).
os.environ.setdefault("MEDSR_EXECUTION", "fp32+channels_last")

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The real-image data folder: ``$MEDSR_DATA`` or ``../shared/data`` beside the repo."""
    return Path(os.environ.get("MEDSR_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Path of the shared real-image data; skips the test when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set MEDSR_DATA)")
    return path


@pytest.fixture
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of the test's own (``$MEDSR_CONFIG_DIR``): an empty trust store,
    models folder, settings and autosaves."""
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(config))
    return config


@pytest.fixture(autouse=True)
def _dangling_qthreads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test that leaves a QThread running: QApplication children or gui.threads registry."""
    yield
    if "qtbot" not in request.fixturenames and "qapp" not in request.fixturenames:
        return
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    from medsr_viewer.gui.workers.threads import running_threads

    running = [
        t for t in app.findChildren(QThread) if t.isRunning() and t is not app.thread()
    ]
    running += [t for t in running_threads() if not any(t is r for r in running)]
    for thread in running:
        thread.quit()
        thread.wait(2000)
    if running:
        pytest.fail(f"test left {len(running)} QThread(s) running: {running}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Let model calls that closing windows interrupted end before the interpreter tears
    torch down under them (the C++ runtime would abort the process: core.process_exit)."""
    from medsr_viewer.core.process_exit import wait_for_abandoned

    wait_for_abandoned(10.0)
