"""A built wheel (not editable) carries the bundled models and the other resources."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: What a wheel is built from (the rest of the checkout is not part of the package).
SOURCES = ("medsr_viewer", "resources", "packaging", "pyproject.toml", "README.md")


def _copy_sources(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target


def _setuptools_version() -> tuple[int, ...]:
    """This environment's setuptools version (``()`` when absent)."""
    if importlib.util.find_spec("setuptools") is None:
        return ()
    try:
        text = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return ()
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def build_wheel(out: Path, tree: Path) -> Path:
    """``pip wheel --no-deps`` of ``tree`` into ``out``; the wheel's path."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), "."]
    if _setuptools_version() >= (69,):  # pyproject's build requirement: build in this venv
        command.insert(4, "--no-build-isolation")
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("medsr_viewer-*.whl")
    return wheel


def test_the_wheel_holds_every_resource_file(tmp_path: Path) -> None:
    tree = _copy_sources(tmp_path / "src")
    (tree / "resources" / "models" / ".hidden").write_text("not shipped")
    wheel = build_wheel(tmp_path / "wheels", tree)
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        "medsr_viewer/_resources/" + path.relative_to(REPO / "resources").as_posix()
        for folder in ("models", "freesurfer")
        for path in (REPO / "resources" / folder).rglob("*")
        if path.is_file() and not path.name.startswith(".") and "__pycache__" not in path.parts
    }
    assert "medsr_viewer/_resources/models/sr-x2.safetensors" in wanted
    assert "medsr_viewer/_resources/freesurfer/FreeSurferColorLUT.txt" in wanted
    assert "medsr_viewer/_resources/freesurfer/LICENSE-FreeSurfer.txt" in wanted
    assert wanted <= names, sorted(wanted - names)
    assert "medsr_viewer/_resources/README.md" in names
    assert "medsr_viewer/_resources/models/.hidden" not in names
    assert "medsr_viewer/core/resources.py" in names
    assert not any(n.startswith(("resources/", "packaging/", "tests/")) for n in names)
    # Byte for byte: the table keeps its CRLF line ends, the weights their sha256.
    with zipfile.ZipFile(wheel) as archive:
        for name in ("freesurfer/FreeSurferColorLUT.txt", "models/sr-x2.safetensors"):
            data = archive.read("medsr_viewer/_resources/" + name)
            assert data == (REPO / "resources" / name).read_bytes()
    # Installed (a pure wheel is its unpacked archive): the package finds them there.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("import medsr_viewer.core.resources as r, medsr_viewer.core.labels as l\n"
             "from medsr_viewer.models.locations import bundled_models_dir as b\n"
             "print(r.resources_dir()); print(b()); print(l.FREESURFER_LUT.is_file())\n"
             "print(len(l.freesurfer_table()))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:2] == [str(site / "medsr_viewer" / "_resources"),
                         str(site / "medsr_viewer" / "_resources" / "models")]
    assert lines[2:] == ["True", "1266"]


@pytest.mark.skipif(_setuptools_version() < (69,), reason="needs setuptools>=69 in this venv")
def test_a_wheel_built_from_the_sdist_holds_them_too(tmp_path: Path) -> None:
    """``python -m build`` makes the sdist, then the wheel from it: both keep the resources."""
    tree = _copy_sources(tmp_path / "src")
    code = ("import sys; from setuptools import build_meta as b; "
            "print(b.build_sdist(sys.argv[1]))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "sdist")], cwd=tree,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    (archive,) = (tmp_path / "sdist").glob("*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert (unpacked / "packaging" / "wheel_resources.py").is_file()
    wheel = build_wheel(tmp_path / "wheels", unpacked)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "medsr_viewer/_resources/models/sr-x2.safetensors" in names
    assert "medsr_viewer/_resources/freesurfer/FreeSurferColorLUT.txt" in names
