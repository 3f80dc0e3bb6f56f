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


#: Exceptions that must end a load as they are: never reported as a :class:`LoadError`.
FATAL_EXCEPTIONS: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit, GeneratorExit)


def is_fatal(exc: BaseException) -> bool:
    """True for interrupts and exits, which loaders re-raise instead of wrapping.

    Decoders written in Rust (pyo3) raise ``PanicException``, a :class:`BaseException` that
    is not an :class:`Exception`; loaders catch ``BaseException`` to turn such failures into
    a :class:`LoadError` and use this test to let interrupts and exits through.
    """
    return isinstance(exc, FATAL_EXCEPTIONS)


def describe_exception(exc: BaseException) -> str:
    """``"TypeName: message"`` of an exception, on one line, for a LoadError reason."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class LoadCancelled(Exception):
    """Loading was stopped because the caller's ``cancelled()`` callback returned true."""
