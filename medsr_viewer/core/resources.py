"""Where the files shipped with the viewer are: bundled models, FreeSurfer's table, licences.

The repository keeps them in the top-level ``resources/`` folder. A wheel carries that folder
as ``medsr_viewer/_resources`` (``packaging/wheel_resources.py`` maps it at build time), and
so does the frozen app (``packaging/medsr_viewer.spec``); both are found with
:mod:`importlib.resources`. An editable install or a source checkout has no
``_resources``: there the folder beside the package is used.

The lookup needs the files on a file system (the models are memory-mapped), which every
supported install gives. It never raises: a missing folder is reported by whoever opens a file
in it, naming the path (the registry lists no bundled models, the label code names the table).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: Name of the resources folder inside the installed package (wheel, frozen app).
INSTALLED_NAME = "_resources"
#: Name of the folder beside the package in a source checkout (editable install).
SOURCE_NAME = "resources"


def installed_resources_dir() -> Path | None:
    """``medsr_viewer/_resources`` of an installed wheel or frozen app, or ``None``."""
    folder = resources.files("medsr_viewer") / INSTALLED_NAME
    if isinstance(folder, Path) and folder.is_dir():
        return folder
    return None


def source_resources_dir() -> Path:
    """``resources/`` beside the package (a source checkout / editable install)."""
    return Path(str(resources.files("medsr_viewer"))).resolve().parent / SOURCE_NAME


def resources_dir() -> Path:
    """The folder holding ``models/`` and ``freesurfer/``: the installed one when present,
    else the source checkout's (which may be missing too: an install without its data)."""
    installed = installed_resources_dir()
    return installed if installed is not None else source_resources_dir()


def resource_path(*parts: str) -> Path:
    """A path inside :func:`resources_dir` (not checked to exist), e.g.
    ``resource_path("models", "sr-x2.safetensors")``."""
    return resources_dir().joinpath(*parts)


def models_dir() -> Path:
    """The bundled models folder (``resources/models``)."""
    return resource_path("models")


def freesurfer_dir() -> Path:
    """FreeSurfer's colour table and its licence (``resources/freesurfer``)."""
    return resource_path("freesurfer")
