"""Where model files live: the bundled folder and the user's models folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from medsr_viewer.core.resources import models_dir


def bundled_models_dir() -> Path:
    """The bundled models: ``medsr_viewer/_resources/models`` of a wheel or frozen app, else
    ``resources/models`` beside the package (:mod:`medsr_viewer.core.resources`)."""
    return models_dir()


def user_models_dir() -> Path:
    """The user's models folder (``$MEDSR_CONFIG_DIR/models`` or the platform config dir)."""
    base = os.environ.get("MEDSR_CONFIG_DIR")
    root = Path(base) if base else Path(platformdirs.user_config_dir("medsr-viewer"))
    return root / "models"
