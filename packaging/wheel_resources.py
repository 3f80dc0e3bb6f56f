"""setuptools ``build_py`` that puts the repository's ``resources/`` into the package.

pyproject.toml names it (``[tool.setuptools.cmdclass]``). The top-level ``resources/`` folder
stays the one source of the bundled models, FreeSurfer's colour table and their licences; a
wheel (and an sdist) carries every file under it as ``medsr_viewer/_resources/...``, where
``medsr_viewer.core.resources`` finds it with :mod:`importlib.resources`. An editable install
copies nothing: the lookup falls back to ``resources/`` beside the package.

The files are added as package data of a pseudo-package, so setuptools copies them like any
package data (``build_package_data``) and lists them in the sdist and the wheel's RECORD.
The sdist carries this file as well, so that a wheel built from it gets the same hook.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from setuptools.command.build_py import build_py as _build_py

#: The source folder, relative to the project root.
SOURCE = "resources"
#: Where it goes inside the installed package.
TARGET_PACKAGE = "medsr_viewer._resources"


def resource_files(root: str | os.PathLike[str] = ".") -> list[str]:
    """Every file under ``resources/`` (relative to it, ``/``-separated, sorted), without
    caches and hidden files."""
    base = Path(root) / SOURCE
    if not base.is_dir():
        raise FileNotFoundError(
            f"{base.resolve()} is missing: build the wheel from a full checkout of the "
            "repository (the bundled models and the FreeSurfer table live there)")
    files = []
    for path in sorted(base.rglob("*")):
        parts = path.relative_to(base).parts
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts):
            files.append("/".join(parts))
    return files


class BuildPy(_build_py):
    """``build_py`` plus ``resources/**`` as data of ``medsr_viewer._resources``."""

    def _resource_entry(self) -> tuple[str, str, str, list[str]]:
        build_dir = os.path.join(self.build_lib, *TARGET_PACKAGE.split("."))
        return (TARGET_PACKAGE, SOURCE, build_dir, resource_files())

    def _get_data_files(self) -> list[Any]:
        return [*super()._get_data_files(), self._resource_entry()]

    def get_data_files_without_manifest(self) -> list[Any]:
        return [*super().get_data_files_without_manifest(), self._resource_entry()]

    def get_source_files(self) -> list[str]:
        # The sdist needs this hook too, or a wheel built from it (python -m build) fails.
        return [*super().get_source_files(), "packaging/wheel_resources.py"]
