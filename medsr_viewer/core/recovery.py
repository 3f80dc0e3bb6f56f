"""Crash-recovery autosaves: where they live, which are waiting to be recovered, retiring them.

Every running instance (one :class:`Autosaver`) writes its autosave of a study to a file of
its own in ``config_dir() / "autosave"``, named by the study's key, the process id and a
random token (``<key>.<pid>-<token>.medsr.json``), so a new instance never overwrites the
autosave of an older one that crashed. On opening a study, every autosave of that study that
no running process owns is a *pending recovery* (:func:`pending_recoveries`):

- ``<key>.<pid>-<token>.medsr.json`` whose process has exited (crashed, killed);
- ``<key>.left-<token>.medsr.json``: the autosave of a study the user moved away from in a
  running instance without saving (set aside by :meth:`Autosaver.release`);
- ``<key>.medsr.json`` and ``<key>.recovered.medsr.json``: the single autosave and its
  set-aside copy written by earlier versions.

Pending recoveries are never replaced or deleted until the user answers: Restore applies
them all (:func:`merge_sessions`) and then deletes them, Discard deletes them
(:func:`retire_recoveries`). A clean exit or a saved session retires only the running
instance's own autosave (:meth:`Autosaver.retire`, :meth:`Autosaver.discard`); recoveries
left unanswered stay for the next opening, whatever happens meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from medsr_viewer.core.config_dir import config_dir
from medsr_viewer.core.processes import pid_alive
from medsr_viewer.core.roi.shapes import Roi
from medsr_viewer.core.session import (
    SESSION_SUFFIX,
    LabelMapRef,
    Session,
    SessionError,
    load_session,
    save_session,
)

#: Default minimum seconds between two autosaves.
AUTOSAVE_INTERVAL_S = 3.0
#: Folder under the config folder that holds the autosaves.
AUTOSAVE_DIR = "autosave"

_NAME_RE = re.compile(
    r"^(?P<key>[0-9a-f]{16})"
    r"(?:\.(?:(?P<recovered>recovered)|(?P<pid>[0-9]+)-(?P<token>[0-9a-f]+)"
    r"|left-(?P<left>[0-9a-f]+)))?" + re.escape(SESSION_SUFFIX) + "$"
)


def autosave_dir() -> Path:
    """The folder of the crash-recovery autosaves (``config_dir() / "autosave"``)."""
    return config_dir() / AUTOSAVE_DIR


def study_key(study_path: str | os.PathLike[str]) -> str:
    """The key naming a study's autosaves (a hash of its absolute path)."""
    resolved = str(Path(study_path).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:16]


def instance_autosave_path(study_path: str | os.PathLike[str], token: str,
                           pid: int | None = None) -> Path:
    """The autosave file of ``study_path`` written by the instance ``(pid, token)``.

    ``pid`` defaults to this process.
    """
    pid = os.getpid() if pid is None else pid
    return autosave_dir() / f"{study_key(study_path)}.{pid}-{token}{SESSION_SUFFIX}"


def legacy_autosave_paths(study_path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The single autosave and its set-aside copy of earlier versions (still recovered)."""
    key = study_key(study_path)
    return (autosave_dir() / f"{key}{SESSION_SUFFIX}",
            autosave_dir() / f"{key}.recovered{SESSION_SUFFIX}")


def autosave_owner(path: str | os.PathLike[str]) -> int | None:
    """The pid of the instance that writes the autosave ``path``; ``None`` if it has none
    (a released or legacy autosave, or not an autosave name)."""
    match = _NAME_RE.match(Path(path).name)
    return int(match["pid"]) if match and match["pid"] else None


@dataclass(frozen=True)
class Recovery:
    """An autosave waiting for the user's decision.

    Attributes
    ----------
    path
        The autosave file.
    modified
        Its modification time (seconds since the epoch).
    session
        Its content; ``None`` when it cannot be read (see ``error``).
    error
        Why it cannot be read ("" when it can).
    """

    path: Path
    modified: float
    session: Session | None = None
    error: str = ""

    @property
    def is_empty(self) -> bool:
        """Readable but holding no work (no ROI, no label layer): nothing to offer."""
        return self.session is not None and not self.session.rois \
            and not self.session.label_maps


def pending_recoveries(study_path: str | os.PathLike[str]) -> list[Recovery]:
    """Every autosave of ``study_path`` that no running process owns, oldest first.

    Autosaves of running instances (this process included) are not pending; an unreadable
    file is listed with its ``error`` so that it is not dropped silently.
    """
    key = study_key(study_path)
    try:
        entries = sorted(autosave_dir().glob(f"{key}*{SESSION_SUFFIX}"))
    except OSError:
        return []
    found: list[Recovery] = []
    for path in entries:
        match = _NAME_RE.match(path.name)
        if match is None or match["key"] != key:
            continue
        if match["pid"] and pid_alive(int(match["pid"])):
            continue
        try:
            modified = path.stat().st_mtime
        except OSError:
            continue  # gone meanwhile (another instance answered it)
        try:
            found.append(Recovery(path, modified, load_session(path)))
        except SessionError as exc:
            found.append(Recovery(path, modified, None, str(exc)))
    found.sort(key=lambda r: (r.modified, r.path.name))
    return found


def retire_recoveries(recoveries: Iterable[Recovery]) -> list[str]:
    """Delete the files of answered recoveries; returns problems (one line each)."""
    problems: list[str] = []
    for recovery in recoveries:
        try:
            recovery.path.unlink(missing_ok=True)
        except OSError as exc:
            problems.append(f"{recovery.path}: cannot delete ({exc.strerror or exc})")
    return problems


def merge_sessions(sessions: Sequence[Session]) -> Session:
    """One session holding the work of all ``sessions`` (later ones win on conflicts).

    ROIs are merged by id (a later copy of the same ROI replaces the earlier one in place,
    new ones are appended), label layers by file; the study is the first one given, the
    models, view and reference those of the last session that has any.
    """
    rois: dict[str, Roi] = {}
    label_maps: dict[str, LabelMapRef] = {}
    merged = Session()
    for session in sessions:
        merged.study_path = merged.study_path or session.study_path
        for roi in session.rois:
            rois[roi.roi_id] = roi
        for ref in session.label_maps:
            label_maps[str(Path(ref.path).expanduser().resolve())] = ref
        merged.models = list(session.models) or merged.models
        merged.view_state = dict(session.view_state) or merged.view_state
        merged.reference_path = session.reference_path or merged.reference_path
    return replace(merged, rois=list(rois.values()), label_maps=list(label_maps.values()))


def describe_recoveries(recoveries: Sequence[Recovery]) -> str:
    """The recovery bar's text: how many autosaves were found and what each holds."""

    def holds(recovery: Recovery) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovery.modified))
        if recovery.session is None:
            return f"an unreadable autosave from {stamp} ({recovery.error})"
        n = len(recovery.session.rois)
        return (f"{n} ROI{'s' if n != 1 else ''}, {len(recovery.session.label_maps)} "
                f"label layer(s) from {stamp}")

    if len(recoveries) == 1:
        return f"Unsaved work on this study was found: {holds(recoveries[0])}. Restore it?"
    parts = "; ".join(holds(r) for r in recoveries)
    return (f"Unsaved work on this study was found in {len(recoveries)} autosaves: {parts}. "
            "Restore merges all of them.")


class Autosaver:
    """Writes a crash-recovery session at most every ``interval_s`` seconds.

    Call :meth:`changed` after every edit with a function returning the current
    :class:`Session`; it saves at once if the last save is older than ``interval_s``, otherwise
    it marks the session pending. Call :meth:`poll` from a timer (about once a second) to save
    pending changes once the interval has passed, :meth:`flush` to save now, :meth:`discard`
    after a session was saved, :meth:`release` when the study is closed without saving, and
    :meth:`retire` on a clean exit.

    Parameters
    ----------
    path
        Autosave file; defaults to this instance's own file for the session's study
        (:func:`instance_autosave_path`). A path inside the study's input folder is refused
        unless ``allow_input_folder``.
    interval_s
        Minimum seconds between writes.
    clock
        Monotonic clock (injectable for tests).
    token
        Names this instance's autosave files (random by default).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 interval_s: float = AUTOSAVE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic,
                 allow_input_folder: bool = False, token: str | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self.interval_s = float(interval_s)
        self._clock = clock
        self._allow_input_folder = allow_input_folder
        self.token = token or secrets.token_hex(6)
        self._pending: Callable[[], Session] | None = None
        self._last_save = -float("inf")
        self._written: set[Path] = set()
        self.saves = 0
        self.last_error: str = ""

    def path_for(self, session: Session) -> Path:
        """The file this autosaver writes for ``session``."""
        return self._path_for_study(session.study_path)

    def _path_for_study(self, study_path: str) -> Path:
        if self._path is not None:
            return self._path
        return instance_autosave_path(study_path or "untitled", self.token)

    def changed(self, snapshot: Callable[[], Session]) -> bool:
        """Record an edit; saves now if allowed by the interval. Returns whether it saved."""
        self._pending = snapshot
        return self.poll()

    def poll(self) -> bool:
        """Save pending changes if the interval has passed. Returns whether it saved."""
        if self._pending is None or self._clock() - self._last_save < self.interval_s:
            return False
        return self.flush()

    def flush(self) -> bool:
        """Save pending changes now. Returns whether it saved.

        A failed write is recorded in :attr:`last_error` (and retried on the next call)
        rather than raised: autosave must never interrupt the user's work.
        """
        if self._pending is None:
            return False
        session = self._pending()
        path = self.path_for(session)
        try:
            save_session(session, path, self._allow_input_folder)
        except SessionError as exc:
            self.last_error = str(exc)
            return False
        self._written.add(path)
        self._pending = None
        self._last_save = self._clock()
        self.saves += 1
        self.last_error = ""
        return True

    @property
    def pending(self) -> bool:
        """Whether there are edits not yet autosaved."""
        return self._pending is not None

    def discard(self, session: Session) -> None:
        """Remove this instance's autosave of ``session``'s study (it was saved)."""
        self._pending = None
        path = self.path_for(session)
        self._written.discard(path)
        self._unlink(path)

    def release(self, study_path: str) -> Path | None:
        """Hand this instance's autosave of ``study_path`` over to recovery.

        Called when the study is closed without saving while the program keeps running: the
        file is renamed ``<key>.left-<token>.medsr.json``, a pending recovery offered the next
        time the study is opened (by this or any instance). Returns the new path, ``None``
        when there was nothing to release.
        """
        path = self._path_for_study(study_path)
        if self._path is not None or path not in self._written:
            return None
        self._written.discard(path)
        left = path.with_name(f"{study_key(study_path or 'untitled')}.left-"
                              f"{secrets.token_hex(6)}{SESSION_SUFFIX}")
        try:
            path.replace(left)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.last_error = f"{path}: cannot set aside ({exc.strerror or exc})"
            return None
        return left

    def retire(self) -> None:
        """Delete every autosave this instance wrote (a clean exit); pending edits are
        dropped. Recoveries of other (crashed) instances are left alone."""
        self._pending = None
        for path in sorted(self._written):
            self._unlink(path)
        self._written.clear()

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            self.last_error = f"{path}: cannot delete ({exc.strerror or exc})"

    @property
    def written(self) -> frozenset[Path]:
        """The autosave files this instance has written and not retired."""
        return frozenset(self._written)

