"""Fixtures for model tests: the zoo of small exported test models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_zoo import export_zoo


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test model exported once per session with ``save_model``: name -> path."""
    return export_zoo(tmp_path_factory.mktemp("zoo"))
