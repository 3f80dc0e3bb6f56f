"""The built-in demo study: the MNI152 2009 T1 template shipped inside the ``nilearn`` wheel.

The demo needs no network: nilearn (the ``demo`` extra) carries a 1 mm average brain with
its grey and white matter probability maps. The package is located with
:func:`importlib.util.find_spec` and never imported, because importing nilearn is slow.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: Files of the MNI152 2009 (symmetric, nonlinear) template inside nilearn/datasets/data.
DEMO_T1 = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
DEMO_GREY_MATTER = "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"
DEMO_WHITE_MATTER = "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"

_INSTALL_HINT = 'install the demo extra: pip install "medsr-viewer[demo]"'


class DemoUnavailable(FileNotFoundError):
    """The demo study is not installed; the message says how to install it."""


def _nilearn_data_dir() -> Path:
    """nilearn's bundled data folder, found without importing nilearn."""
    try:
        spec = importlib.util.find_spec("nilearn")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DemoUnavailable(f"the demo study needs the nilearn package; {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _demo_file(name: str) -> Path:
    """Path of one bundled template file, checked to exist."""
    path = _nilearn_data_dir() / name
    if not path.is_file():
        raise DemoUnavailable(
            f"the demo file {path} is missing from the nilearn installation; {_INSTALL_HINT}"
        )
    return path


def demo_study_path() -> Path:
    """Path of the demo T1 study (MNI152 2009 template, 1 mm, 197x233x189).

    Raises
    ------
    DemoUnavailable
        When nilearn or the file is absent, with the command that installs it.
    """
    return _demo_file(DEMO_T1)


def demo_grey_matter_path() -> Path:
    """Path of the demo's grey matter probability map (same grid as the T1)."""
    return _demo_file(DEMO_GREY_MATTER)


def demo_white_matter_path() -> Path:
    """Path of the demo's white matter probability map (same grid as the T1)."""
    return _demo_file(DEMO_WHITE_MATTER)
