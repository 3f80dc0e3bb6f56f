"""Where model files live: the bundled folder and the user's models folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

import medsr_viewer


def bundled_models_dir() -> Path:
    """``resources/models`` at the repository / installation root beside the package."""
    return Path(medsr_viewer.__file__).resolve().parents[1] / "resources" / "models"


def user_models_dir() -> Path:
    """The user's models folder (``$MEDSR_CONFIG_DIR/models`` or the platform config dir)."""
    base = os.environ.get("MEDSR_CONFIG_DIR")
    root = Path(base) if base else Path(platformdirs.user_config_dir("medsr-viewer"))
    return root / "models"
