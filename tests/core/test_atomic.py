"""Atomic output: whole files or nothing, ordinary permissions, no temp file left behind."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from medsr_viewer.core.atomic import (
    JOURNAL_DIR,
    TEMP_MARK,
    atomic_write,
    sweep_stale_temp_files,
    temp_owner,
    write_text_atomic,
)


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


#: A writer that is killed mid-write: writes half a file, says where, then blocks.
BLOCKING_WRITER = """
import sys, threading
from pathlib import Path
from medsr_viewer.core.atomic import atomic_write

def write(tmp):
    Path(tmp).write_bytes(b"half a volume")
    print(tmp, flush=True)
    threading.Event().wait()

atomic_write(sys.argv[1], write)
"""


def _start_writer(target: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", BLOCKING_WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # blocks until the temp file is written
    assert line, f"writer exited with {proc.wait()}"
    return proc, Path(line)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(folder))
    return folder


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGKILL")
def test_temp_file_of_a_killed_writer_is_swept_and_a_live_ones_is_kept(
    tmp_path: Path, config: Path,
) -> None:
    """SIGKILL mid-write leaves the temp file; the next sweep removes it, not a live one's."""
    out = tmp_path / "out"
    out.mkdir()
    killed, stale = _start_writer(out / "sr.nii.gz")
    live, running = _start_writer(out / "other.nii.gz")
    try:
        assert stale.parent == out and stale.name.endswith(TEMP_MARK + ".nii.gz")
        assert temp_owner(stale) == killed.pid and temp_owner(running) == live.pid
        _kill(killed)
        assert stale.is_file() and not (out / "sr.nii.gz").exists()  # left behind by the kill
        decoys = [out / ".sr.nii.gz.k2j4h5g6.nii.gz",  # old mkstemp name: not ours to judge
                  out / f".sr.nii.gz.{killed.pid}.nothex{TEMP_MARK}.nii.gz",
                  out / f"sr.nii.gz.{killed.pid}.{'a' * 16}{TEMP_MARK}.nii.gz"]  # no dot
        for decoy in decoys:
            decoy.write_bytes(b"keep")
        records = sorted(p.name for p in (config / JOURNAL_DIR).iterdir())
        assert records == sorted(f"{p}-{n.split('.')[-4]}.json" for p, n in
                                 ((killed.pid, stale.name), (live.pid, running.name)))

        assert sweep_stale_temp_files() == [stale]
        assert not stale.exists() and running.is_file()
        assert all(decoy.is_file() for decoy in decoys)
        assert [p.name for p in (config / JOURNAL_DIR).iterdir()] == \
            [f"{live.pid}-{running.name.split('.')[-4]}.json"]
        assert sweep_stale_temp_files() == []  # nothing more to do while it runs
    finally:
        _kill(live)
    # without the journal, the next atomic write into the folder still finds it
    shutil.rmtree(config / JOURNAL_DIR)
    write_text_atomic(out / "report.json", "{}")
    assert not running.exists() and (out / "report.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.json"] + [d.name for d in decoys])


def test_sweep_of_folders_and_without_a_journal_never_raises(tmp_path: Path, config: Path,
                                                             ) -> None:
    """A named folder is swept too; a missing journal or folder is no error."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)
    stale = tmp_path / f".a.json.{dead}.{'0' * 16}{TEMP_MARK}.json"
    mine = tmp_path / f".b.json.{os.getpid()}.{'1' * 16}{TEMP_MARK}.json"
    stale.write_text("x")
    mine.write_text("x")
    assert sweep_stale_temp_files([tmp_path, tmp_path / "missing"]) == [stale]
    assert mine.is_file() and temp_owner(mine) == os.getpid() and temp_owner("a.json") is None
