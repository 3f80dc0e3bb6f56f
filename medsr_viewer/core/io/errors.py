"""Exceptions raised while loading a study, shared by every reader in :mod:`medsr_viewer.core.io`."""

from __future__ import annotations

import os
from pathlib import Path


class LoadError(Exception):
    """An input could not be loaded; names the file (or folder) and says why.

    ``str(error)`` is ``"<path>: <reason>"``, a single line suitable for a status bar or a
    command-line error message.

    Parameters
    ----------
    path
        The file or folder that could not be loaded.
    reason
        Short human-readable reason ("not found", "not a supported format" ...).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())  # always a single line
        super().__init__(f"{self.path}: {reason}")


class LoadCancelled(Exception):
    """Loading was stopped because the caller's ``cancelled()`` callback returned true."""
