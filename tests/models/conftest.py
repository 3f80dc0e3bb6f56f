"""Fixtures for model tests: the zoo of small exported test models."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_zoo import export_zoo


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test model exported once per session (``model_zoo.export_zoo``): name -> path."""
    return export_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread per model test: on a loaded 2-core machine two OpenMP threads spin
    against each other and run 5-15x slower (measured while training the bundled models)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch):
    """``medsr train|eval`` as typed: the card records ``sys.argv``, so set it as a shell would."""
    from medsr_viewer.cli import main as cli_main

    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("train", "evaluate"))

    def run(argv: list[str]) -> int:
        monkeypatch.setattr(sys, "argv", ["medsr", *argv])
        return cli_main.main(argv)

    return run
