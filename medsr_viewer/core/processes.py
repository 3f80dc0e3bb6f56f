"""Whether a process is still running: decides which leftover files belong to nobody.

Crash-recovery autosaves and temporary files of atomic writes carry the writer's process id;
a file is only ever cleaned up or offered for recovery once :func:`pid_alive` says its writer
is gone. A recycled pid only makes the answer "alive" for longer (the file waits), never
"dead" too early.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie counts as exited).

    Parameters
    ----------
    pid
        Process id; ``pid <= 0`` is never alive.

    Returns
    -------
    bool
        ``True`` when the process is running (or cannot be ruled out, e.g. another user's).
    """
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Linux: a killed process not yet reaped by its parent is a zombie, i.e. exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) state ...": comm may contain spaces and parentheses, state follows the last ")"
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] in ("Z", "X")


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    if sys.platform != "win32":
        raise OSError("not Windows")
    import ctypes

    process_query_limited_information = 0x1000
    still_active = 259
    error_access_denied = 5
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == error_access_denied  # exists, not ours
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
