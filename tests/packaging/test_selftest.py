"""``medsr-viewer --selftest``: the demo study and one sr-x2 slice, offscreen, settings untouched."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from medsr_viewer.gui import selftest

pytest.importorskip("nilearn")  # the demo study (the demo extra)


def test_selftest_passes_offscreen_and_leaves_the_settings_alone(tmp_path: Path) -> None:
    config = tmp_path / "user-config"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MEDSR_CONFIG_DIR": str(config),
           "MEDSR_CACHE_DIR": str(tmp_path / "user-cache"), "TMPDIR": str(tmp_path)}
    exe = shutil.which("medsr-viewer") or str(Path(sys.executable).parent / "medsr-viewer")
    result = subprocess.run([exe, "--selftest"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("selftest: ") for line in lines), lines
    steps = [line.split(":")[1].strip() for line in lines[1:-1]]
    assert steps == ["resources", "display", "qt", "demo study", "model", "sr slice"]
    assert "platform offscreen" in result.stdout
    assert "466x394 on " in result.stdout  # the demo's 233x197 axial slice, twice
    assert lines[-1] == "selftest: passed"
    assert not config.exists() and not (tmp_path / "user-cache").exists()
    assert not list(tmp_path.glob("medsr-selftest-*"))  # its own folder is removed


def test_missing_resources_fail_with_a_clear_message(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "models_dir", lambda: tmp_path / "models")
    out = io.StringIO()
    assert selftest.run_selftest(out) == 1
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("selftest: FAILED at resources: ")
    assert "sr-x2.safetensors is missing" in last


def test_a_missing_demo_fails_naming_the_extra(qtbot: QtBot, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from medsr_viewer.core import demo

    monkeypatch.setattr(demo.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path / "config"))
    out = io.StringIO()
    assert selftest.run_selftest(out) == 1
    text = out.getvalue()
    assert "selftest: qt: " in text
    assert 'FAILED at demo study: ' in text and 'pip install "medsr-viewer[demo]"' in text
    assert os.environ["MEDSR_CONFIG_DIR"] == str(tmp_path / "config")  # restored
    assert not (tmp_path / "config").exists()
