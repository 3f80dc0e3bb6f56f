"""User-facing error text: every message about a file names that file."""

from __future__ import annotations

import os


def naming_file(path: str | os.PathLike[str], error: BaseException | str) -> str:
    """The message of ``error``, prefixed with ``path`` unless it already names it."""
    message = str(error)
    where = str(path)
    return message if where in message else f"{where}: {message}"
