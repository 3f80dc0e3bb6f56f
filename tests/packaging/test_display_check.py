"""The xcb check: which system libraries Qt's xcb plugin misses, and the apt line for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsr_viewer.gui import app, display_check
from medsr_viewer.gui.display_check import (
    DisplayProblem,
    check_display_report,
    missing_libraries,
    packages_for,
    plugin_problem,
    xcb_needed,
)

#: ``ldd libqxcb.so`` on a bare Debian 12 (PySide6 6.11), abridged.
LDD_BARE_DEBIAN = """\
\tlinux-vdso.so.1 (0x00007f3b76d51000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x1)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f3b76bf3000)
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f3b76b99000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f3b76b91000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibfancy-xcb.so.3 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3b74e1e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f3b76d53000)
"""


def test_missing_libraries_from_ldd_output_each_once_in_order() -> None:
    assert missing_libraries(LDD_BARE_DEBIAN) == [
        "libxkbcommon-x11.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
        "libfancy-xcb.so.3"]
    assert missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_packages_and_the_apt_line() -> None:
    missing = missing_libraries(LDD_BARE_DEBIAN)
    assert packages_for(missing) == ["libxkbcommon-x11-0", "libxcb-icccm4", "libxcb-keysyms1"]
    problem = plugin_problem(Path("/venv/libqxcb.so"), LDD_BARE_DEBIAN)
    assert problem is not None
    assert problem.apt_command == (
        "sudo apt install libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1")
    text = problem.message()
    assert "libxcb-icccm.so.4" in text and problem.apt_command in text
    assert "apt-file search" in text and "libfancy-xcb.so.3" in text  # unknown: named
    assert "QT_QPA_PLATFORM=offscreen" in text


def test_the_packages_named_in_the_readme_are_those_of_the_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for package in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                    "libxcb-render-util0", "libxcb-shape0", "libxcb-xkb1",
                    "libxkbcommon-x11-0", "libegl1", "libgl1"):
        assert package in display_check.DEBIAN_PACKAGES.values()
        assert package in readme, package


def test_a_plugin_that_loads_is_no_problem() -> None:
    assert plugin_problem(Path("/venv/libqxcb.so"), "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") \
        is None


def test_without_ldd_the_loader_error_names_the_first_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"not an ELF file")

    def cdll(path: str) -> None:
        raise OSError("libxcb-keysyms.so.1: cannot open shared object file: No such file")

    monkeypatch.setattr(display_check.ctypes, "CDLL", cdll)
    monkeypatch.setattr(display_check.shutil, "which", lambda name: None)
    problem = plugin_problem(plugin)
    assert problem is not None and problem.packages == ("libxcb-keysyms1",)
    monkeypatch.setattr(display_check.ctypes, "CDLL",
                        lambda path: (_ for _ in ()).throw(OSError("invalid ELF header")))
    problem = plugin_problem(plugin)
    assert problem is not None and "invalid ELF header" in problem.reason
    assert not problem.apt_command


@pytest.mark.parametrize(("environ", "platform", "needed"), [
    ({}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:display=:1"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_xcb_is_checked_only_where_qt_would_use_it(environ: dict[str, str], platform: str,
                                                   needed: bool) -> None:
    assert xcb_needed(environ, platform) is needed


def test_check_display_report_and_the_start_refusing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_display_report({"QT_QPA_PLATFORM": "offscreen"})[0] == 0
    problem = DisplayProblem("missing system libraries libxcb-icccm.so.4",
                             ("libxcb-icccm.so.4",), ("libxcb-icccm4",))
    monkeypatch.setattr(display_check, "xcb_plugin_path", lambda: Path("/venv/libqxcb.so"))
    monkeypatch.setattr(display_check, "plugin_problem", lambda plugin: problem)
    status, text = check_display_report({"DISPLAY": ":0"})
    assert status == 1 and "sudo apt install libxcb-icccm4" in text
    monkeypatch.setattr(display_check, "plugin_problem", lambda plugin: None)
    status, text = check_display_report({})
    assert status == 1 and "DISPLAY is not set" in text
    assert check_display_report({"DISPLAY": ":0"}) == (
        0, "display: OK (the Qt xcb plugin loads; DISPLAY=:0)")
    # The application refuses to start, with the message instead of Qt's abort.
    monkeypatch.setattr(app, "display_problem", lambda: problem)
    assert app.main(["--demo"]) == 1
    assert "sudo apt install libxcb-icccm4" in capsys.readouterr().err
    monkeypatch.setattr(app, "check_display_report", lambda: (1, "display: missing"))
    assert app.main(["--check-display"]) == 1
    assert capsys.readouterr().out == "display: missing\n"


def test_the_real_plugin_is_found() -> None:
    plugin = display_check.xcb_plugin_path()
    assert plugin is not None and plugin.name == "libqxcb.so" and plugin.is_file()
