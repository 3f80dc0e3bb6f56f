"""The Linux desktop integration files: the .desktop launcher, its icon, AppStream metadata,
and the frozen-build files (checked statically: the build itself is too long for the suite)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
DESKTOP = PACKAGING / "medsr-viewer.desktop"
METAINFO = PACKAGING / "io.github.medsr_viewer.metainfo.xml"
ICON = PACKAGING / "medsr-viewer.svg"


def _project() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        project: dict[str, Any] = tomllib.load(handle)["project"]
    return project


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_desktop_file_launches_the_console_script_with_the_icon() -> None:
    entry = _desktop_entry()
    for key in ("Type", "Name", "Comment", "Exec", "Icon", "Terminal", "Categories"):
        assert entry.get(key), key
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] in _project()["scripts"]
    assert entry["Icon"] == ICON.stem
    assert entry["Categories"].endswith(";") and "MedicalSoftware" in entry["Categories"]
    assert entry["Terminal"] == "false"


def test_the_icon_is_a_square_svg() -> None:
    root = ET.parse(ICON).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 128 128"
    assert root.get("width") == root.get("height") == "128"


def test_the_appstream_metadata_matches_the_project() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    text = {child.tag: (child.text or "").strip() for child in root}
    assert text["id"] == "io.github.medsr_viewer"
    assert text["name"] == "MedSR Viewer" and text["summary"]
    assert text["metadata_license"] == "CC0-1.0"
    assert text["project_license"] == _project()["license"]["text"]
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    assert root.findall("description/p") and root.findall("description/ul/li")
    categories = {c.text for c in root.findall("categories/category")}
    assert categories == set(filter(None, _desktop_entry()["Categories"].split(";")))
    assert root.find("url[@type='homepage']") is not None
    releases = root.findall("releases/release")
    assert releases and releases[0].get("version") == _project()["version"]
    assert releases[0].get("date")
    rating = root.find("content_rating")
    assert rating is not None and rating.get("type") == "oars-1.1"
    binaries = {b.text for b in root.findall("provides/binary")}
    assert binaries == set(_project()["scripts"])


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (desktop-file-utils) is not installed")
def test_desktop_file_validate_accepts_it() -> None:
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli (appstream) is not installed")
def test_appstreamcli_validates_it() -> None:
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_frozen_build_is_scripted_and_checked_by_its_selftest() -> None:
    spec = (PACKAGING / "medsr_viewer.spec").read_text(encoding="utf-8")
    assert '"medsr_viewer", "_resources"' in spec  # the resources, where a wheel has them
    assert "nilearn/datasets/data" in spec and "frozen_entry.py" in spec
    compile(spec, "medsr_viewer.spec", "exec")
    script = (PACKAGING / "build_frozen.sh").read_text(encoding="utf-8")
    assert "medsr_viewer.spec" in script and "QT_QPA_PLATFORM=offscreen" in script
    assert '"$APP" --selftest' in script and "set -euo pipefail" in script
    wheel = (PACKAGING / "check_wheel.sh").read_text(encoding="utf-8")
    assert "pip install" in wheel and "--selftest" in wheel and "set -euo pipefail" in wheel
    extras = _project()["optional-dependencies"]
    assert any(d.startswith("pyinstaller") for d in extras["packaging"])
    assert not any("pyinstaller" in d for d in extras["test"])
    ignored = subprocess.run(["git", "check-ignore", "packaging/build/x", "packaging/dist/x"],
                             cwd=REPO, capture_output=True, text=True, check=False)
    assert ignored.stdout.split() == ["packaging/build/x", "packaging/dist/x"]
