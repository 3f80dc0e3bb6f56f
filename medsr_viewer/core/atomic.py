"""Atomic file output: every file the application writes appears whole or not at all.

A crash or a full disk mid-write must never leave a half-written output, a truncated session,
or (worst) a damaged file where a good one stood.

Each write goes to a temporary file beside the target, named recognisably with the writer's
process id (``.<name>.<pid>.<token>.medsr-tmp<suffix>``) and recorded in a small journal in
the config folder (``$MEDSR_CONFIG_DIR/atomic-journal``) while it is in progress. A process
killed mid-write (SIGKILL, power loss) cannot clean up after itself, so
:func:`sweep_stale_temp_files` (run when the app and the ``medsr`` commands start) and every
later write into the same folder delete the temporary files whose writer is gone. Only files
matching that pattern are ever deleted, and never one whose writer is still running.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from medsr_viewer.core.config_dir import config_dir
from medsr_viewer.core.processes import pid_alive

#: Marks a temporary file of an atomic write (before the target's own suffix).
TEMP_MARK = ".medsr-tmp"
#: Folder (under the config folder) holding one record per in-progress atomic write.
JOURNAL_DIR = "atomic-journal"

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.(?P<token>[0-9a-f]{16})"
                      + re.escape(TEMP_MARK) + r"(?P<suffix>.*)$")
_RECORD_RE = re.compile(r"^(?P<pid>[0-9]+)-(?P<token>[0-9a-f]{16})\.json$")


def _double_suffix(target: Path) -> str:
    return ".nii.gz" if target.name.lower().endswith(".nii.gz") else target.suffix


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_name(target: str | os.PathLike[str], pid: int, token: str) -> str:
    """The name of the temporary file that process ``pid`` writes ``target`` through."""
    path = Path(target)
    return f".{path.name}.{pid}.{token}{TEMP_MARK}{_double_suffix(path)}"


def temp_owner(path: str | os.PathLike[str]) -> int | None:
    """The writer's pid if ``path`` is named like an atomic write's temp file, else ``None``."""
    match = _TEMP_RE.match(Path(path).name)
    return int(match["pid"]) if match else None


def journal_dir() -> Path:
    """Where records of in-progress atomic writes live (``config_dir() / JOURNAL_DIR``)."""

    return config_dir() / JOURNAL_DIR


def atomic_write(target: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` for a temp file beside ``target``, then move it into place.

    The temp file keeps ``target``'s suffix (``.nii.gz`` included) so writers that choose a
    format by extension work; the final file gets the usual ``0o666 & ~umask`` permissions
    (the temp file is created private). On any error the temp file is removed and ``target``
    is untouched. Stale temp files of dead writers in the target's folder are removed first.
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_folder(path.parent)
    tmp, record = _create_temp(path)
    try:
        write(str(tmp))
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if record is not None:
            record.unlink(missing_ok=True)
    return path


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return atomic_write(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def sweep_stale_temp_files(folders: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Delete temp files (and their journal records) left by atomic writes of dead processes.

    Every journal record whose writer has exited names a temp file; that file is deleted if
    its name still matches the temp-file pattern for that writer. ``folders`` are also
    scanned for such files directly (see :func:`sweep_folder`). Never raises: a file that
    cannot be deleted stays for the next sweep.

    Returns
    -------
    list of Path
        The temporary files deleted.
    """
    removed: list[Path] = []
    try:
        records = list(journal_dir().iterdir())
    except OSError:
        records = []
    for record in records:
        match = _RECORD_RE.match(record.name)
        if match is None or pid_alive(int(match["pid"])):
            continue
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            tmp = Path(str(data["path"]))
        except (OSError, ValueError, KeyError, TypeError):
            tmp = None  # cut short while being written: its temp file was not created yet
        if tmp is not None and _is_temp_of(tmp, match["pid"], match["token"]) \
                and _unlink(tmp):
            removed.append(tmp)
        _unlink(record)
    for folder in folders:
        removed += sweep_folder(folder)
    return removed


def sweep_folder(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files in ``folder`` whose writing process is no longer running.

    Returns the files deleted; never raises.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match is None or pid_alive(int(match["pid"])):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        if _unlink(Path(entry.path)):
            removed.append(Path(entry.path))
            _unlink(journal_dir() / f"{match['pid']}-{match['token']}.json")
    return removed


def _create_temp(path: Path) -> tuple[Path, Path | None]:
    """Create the (empty, private) temp file for ``path``, recorded in the journal first."""
    pid = os.getpid()
    while True:
        token = secrets.token_hex(8)
        tmp = path.parent / temp_name(path, pid, token)
        record = _write_record(pid, token, tmp)
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if record is not None:
                record.unlink(missing_ok=True)
            continue
        except BaseException:
            if record is not None:
                record.unlink(missing_ok=True)
            raise
        os.close(fd)
        return tmp, record


def _write_record(pid: int, token: str, tmp: Path) -> Path | None:
    """Journal the temp file about to be created; ``None`` if the journal cannot be written
    (the folder sweep still finds the file)."""
    record = journal_dir() / f"{pid}-{token}.json"
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        with open(record, "x", encoding="utf-8") as stream:
            json.dump({"pid": pid, "path": str(tmp.absolute())}, stream)
    except OSError:
        return None
    return record


def _is_temp_of(path: Path, pid: str, token: str) -> bool:
    match = _TEMP_RE.match(path.name)
    return match is not None and match["pid"] == pid and match["token"] == token


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError:
        return False
    return True
