"""The resource lookup: installed ``medsr_viewer/_resources`` first, the source tree after."""

from __future__ import annotations

from pathlib import Path

import pytest

import medsr_viewer
from medsr_viewer.core import resources
from medsr_viewer.core.labels import FREESURFER_LUT
from medsr_viewer.models.locations import bundled_models_dir

REPO = Path(__file__).resolve().parents[2]


def test_a_source_checkout_reads_the_top_level_resources_folder() -> None:
    assert resources.installed_resources_dir() is None  # editable install: nothing copied
    assert resources.resources_dir() == REPO / "resources"
    assert bundled_models_dir() == REPO / "resources" / "models"
    assert (bundled_models_dir() / "sr-x2.safetensors").is_file()
    assert FREESURFER_LUT == REPO / "resources" / "freesurfer" / "FreeSurferColorLUT.txt"
    assert FREESURFER_LUT.is_file()


def test_an_installed_resources_folder_wins(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "medsr_viewer"
    (package / "_resources" / "models").mkdir(parents=True)
    (package / "_resources" / "freesurfer").mkdir()
    seen: list[str] = []

    def files(name: str) -> Path:
        seen.append(name)
        return package

    monkeypatch.setattr(resources.resources, "files", files)
    assert resources.installed_resources_dir() == package / "_resources"
    assert resources.models_dir() == package / "_resources" / "models"
    assert resources.freesurfer_dir() == package / "_resources" / "freesurfer"
    assert resources.resource_path("models", "x.safetensors") == (
        package / "_resources" / "models" / "x.safetensors")
    assert bundled_models_dir() == package / "_resources" / "models"
    assert set(seen) == {"medsr_viewer"}


def test_without_any_resources_the_source_path_is_named(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "medsr_viewer"
    package.mkdir(parents=True)
    monkeypatch.setattr(resources.resources, "files", lambda name: package)
    assert resources.installed_resources_dir() is None
    assert resources.resources_dir() == tmp_path / "site-packages" / "resources"
    assert not resources.models_dir().exists()  # the registry then lists no bundled models


def test_a_non_file_system_package_is_not_an_installed_folder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Traversable:  # e.g. a zipped import: not a pathlib.Path
        def __truediv__(self, other: str) -> Traversable:
            return self

        def __str__(self) -> str:
            return str(Path(medsr_viewer.__file__).parent)

    monkeypatch.setattr(resources.resources, "files", lambda name: Traversable())
    assert resources.installed_resources_dir() is None
    assert resources.resources_dir() == REPO / "resources"
