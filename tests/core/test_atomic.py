"""Atomic output: whole files or nothing, with ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medsr_viewer.core.atomic import atomic_write, write_text_atomic


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    """An error mid-write keeps the previous content and cleans up the temp file."""
    target = tmp_path / "out.nii.gz"
    target.write_text("previous")

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nii.gz"]


def test_written_file_has_umask_permissions_and_target_suffix(tmp_path: Path) -> None:
    """The file is readable by others as with open(); the temp name keeps a double suffix."""
    seen: list[str] = []
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a" / "vol.nii.gz", lambda tmp: (seen.append(tmp), Path(tmp).write_bytes(b"x")))
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a" / "vol.nii.gz").stat().st_mode)
    assert mode == 0o644
    assert seen[0].endswith(".nii.gz")
    write_text_atomic(tmp_path / "t.json", "{}")
    assert (tmp_path / "t.json").read_text() == "{}"
