"""Work-arounds for defects of specific Qt binding releases, applied once on import of the GUI.

PySide6 6.12.0 ``SignalInstance.emit()`` returns ``True`` without taking a new reference, so
every emitted signal (ours and pyqtgraph's) decrements the reference count of ``True``. On
Python 3.11, where ``True`` is not yet immortal, the count reaches zero after a few thousand
emissions and the interpreter aborts ("Fatal Python error: bool_dealloc"). PySide6 6.11.3
does not have the defect (pyproject excludes 6.12.0); for an environment that already has
it, :func:`guard_bool_refcounts` does what Python 3.12 does for everyone: it makes ``True``,
``False`` and ``None`` effectively immortal by adding 2**40 to their reference counts (the
same release also drops references to ``None`` on some paths: "Fatal Python error:
none_dealloc" was seen with a worker thread emitting while the GUI thread ran). They are
static objects that are never freed, so the larger count has no other effect.
"""

from __future__ import annotations

import ctypes
import sys

import PySide6

#: Binding releases whose ``Signal.emit`` drops a reference to ``True``.
AFFECTED_PYSIDE6 = ((6, 12, 0),)
_BOOST = 1 << 40
_applied = False


def needs_bool_guard(
    pyside_version: tuple[int, ...] | None = None, python_version: tuple[int, ...] | None = None
) -> bool:
    """Whether this PySide6 / Python pair has the ``emit`` reference-count defect."""
    pyside = tuple(pyside_version or PySide6.__version_info__[:3])[:3]
    python = tuple(python_version or sys.version_info[:2])[:2]
    return python < (3, 12) and pyside in AFFECTED_PYSIDE6


def guard_bool_refcounts() -> bool:
    """Apply the work-around when needed (once); returns whether it is in effect."""
    global _applied
    if _applied or not needs_bool_guard() or sys.implementation.name != "cpython":
        return _applied
    for value in (True, False, None):
        ctypes.c_ssize_t.from_address(id(value)).value += _BOOST
    _applied = True
    return True
