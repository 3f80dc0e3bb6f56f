"""Atomic file output: every file the application writes appears whole or not at all.

A crash or a full disk mid-write must never leave a half-written output, a truncated session,
or (worst) a damaged file where a good one stood.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _double_suffix(target: Path) -> str:
    return ".nii.gz" if target.name.lower().endswith(".nii.gz") else target.suffix


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(target: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` for a temp file beside ``target``, then move it into place.

    The temp file keeps ``target``'s suffix (``.nii.gz`` included) so writers that choose a
    format by extension work; the final file gets the usual ``0o666 & ~umask`` permissions
    (``mkstemp`` alone would leave it private). On any error the temp file is removed and
    ``target`` is untouched.
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_double_suffix(path), dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return atomic_write(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
