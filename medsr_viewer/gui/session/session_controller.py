"""Session save/open, crash-recovery autosave and the "restore your work" bar.

A session (``core.session.Session``) records the study, the model in the SR pane, the ROIs,
the label layers and the view (plane, layout, slices, window, compare mode, the volume of a
4-D study). Saving and
opening are explicit (File ▸ Save Session / Open Session); on top of that every ROI or label
edit is autosaved to the user's config folder (never the study's input folder) at most a few
seconds apart, so a crash loses at most the last few seconds. Each running instance writes
its own autosave file (``core.recovery``), so new edits never overwrite unrecovered work.
Opening a study shows a bar listing every autosave of it left by instances that are no
longer running (crashed, killed, or an unanswered copy from an earlier crash); Restore
merges them all, Discard deletes them, and until then they stay, whatever happens. Saving
the session or closing the window cleanly retires this instance's own autosave only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from medsr_viewer.core.messages import naming_file
from medsr_viewer.core.recovery import (
    Autosaver,
    Recovery,
    describe_recoveries,
    merge_sessions,
    pending_recoveries,
    retire_recoveries,
)
from medsr_viewer.core.session import (
    SESSION_SUFFIX,
    LabelMapRef,
    ModelRef,
    Session,
    SessionError,
    load_session,
    save_session,
)
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.workers.study_loader import study_source

if TYPE_CHECKING:
    from medsr_viewer.gui.session.host import SessionHost

#: How often pending edits are checked for autosave (the autosaver's own interval applies).
POLL_MS = 1000
SESSION_FILTER = f"MedSR sessions (*{SESSION_SUFFIX});;All files (*)"


class RecoveryBar(QFrame):
    """A bar above the images: "Unsaved work ... was found: <what each autosave holds>",
    with Restore / Discard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryBar")
        self.setStyleSheet("#recoveryBar { background:#1f3b57; color:#ffffff; }"
                           "QLabel { color:#ffffff; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.restore_button = QPushButton("Restore", self)
        self.discard_button = QPushButton("Discard", self)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.restore_button)
        row.addWidget(self.discard_button)
        self.hide()


class SessionController(QObject):
    """Snapshots, saves, opens and autosaves the main window's session.

    Parameters
    ----------
    window
        The main window (its viewer, compare panel, ROIs, history and label layers).
    interval_s
        Minimum seconds between autosaves.

    Signals
    -------
    restored()
        A session (opened or recovered) has been applied to the loaded study.
    """

    restored = Signal()

    def __init__(self, window: SessionHost, interval_s: float = 3.0) -> None:
        widget = window.as_widget()
        super().__init__(widget)
        self._window = window
        self.autosaver = Autosaver(interval_s=interval_s)
        self._pending: Session | None = None  # to apply once its study has loaded
        self._recoveries: list[Recovery] = []  # offered by the bar, not yet answered
        self._suspended = True  # no study yet
        self._study_path = ""
        self._series_uid = ""  # picks the series again when the study is a folder
        self.recovery_bar = RecoveryBar(widget)
        self.recovery_bar.restore_button.clicked.connect(self.restore_recovered)
        self.recovery_bar.discard_button.clicked.connect(self.discard_recovered)
        actions = ActionRegistry.of(widget)
        self.save_action = actions.bind("session.save", self._save_dialog)
        self.open_action = actions.bind("session.open", self._open_dialog)
        window.history.subscribe(self.note_edit)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.autosaver.poll)
        self._timer.start()

    # ---------------------------------------------------------------- snapshot

    @property
    def study_path(self) -> str:
        """The path that identifies the open study in sessions ("" when none)."""
        return self._study_path

    def snapshot(self) -> Session:
        """The window's current state as a :class:`Session`."""
        w = self._window
        models = []
        entry = w.compare.current_entry
        if entry is not None:
            card = entry.card
            models.append(ModelRef(str(entry.path), entry.name, card.task if card else "",
                                   card.sha256 if card else "", "sr"))
        view_state: dict[str, Any] = w.view_model.to_dict()
        view_state["label_choice"] = w.metrics_panel.label_choice
        view_state.update(w.studies.volume_state())  # volume, volume_group, volume_kind (4-D studies)
        if self._series_uid:
            view_state["series_uid"] = self._series_uid
        study = w.view_model.display.volume if w.view_model.display is not None else None
        if study is not None and "simulated_scale" in study.metadata:
            view_state["simulate_scale"] = int(study.metadata["simulated_scale"])
        return Session(study_path=self._study_path, models=models, rois=list(w.rois),
                       label_maps=self._label_refs(), view_state=view_state)

    # ---------------------------------------------------------------- explicit save/open

    def save(self, path: str | Path) -> Path | None:
        """Save the session to ``path`` (atomically); ``None`` after reporting a problem."""
        if not self._study_path:
            self._window.show_error("Open a study before saving a session")
            return None
        try:
            written = save_session(self.snapshot(), path)
        except SessionError as exc:
            self._window.show_error(str(exc))
            return None
        self._window.history.mark_clean()
        self.autosaver.discard(Session(study_path=self._study_path))  # the session covers it
        self._window.statusBar().showMessage(f"Session saved to {written}", 8000)
        return written

    def open(self, path: str | Path) -> bool:
        """Open a session file: load its study, then apply ROIs, labels and view."""
        try:
            session = load_session(path)
        except SessionError as exc:
            self._window.show_error(naming_file(path, exc))
            return False
        if not session.study_path or not Path(session.study_path).exists():
            self._window.show_error(f"{path}: the session's study {session.study_path!r} "
                                    "is missing")
            return False
        self._pending = session
        self._window.studies.open_paths([session.study_path],
                                series_uid=session.view_state.get("series_uid"))
        return True

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self._window.as_widget(), "Save Session",
                                              f"session{SESSION_SUFFIX}", SESSION_FILTER)
        if path:
            self.save(path)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window.as_widget(), "Open Session", "",
                                              SESSION_FILTER)
        if path:
            self.open(path)

    # ---------------------------------------------------------------- study changes

    def before_study_change(self) -> None:
        """Called before a newly loaded study replaces the current one: save, then pause.

        The autosave of the study being closed is handed over to recovery (offered again
        when that study is next opened), and an unanswered recovery bar goes away (its
        autosaves stay on disk).
        """
        self.autosaver.flush()
        if self._study_path:
            self.autosaver.release(self._study_path)
        self._recoveries = []
        self.recovery_bar.hide()
        self._suspended = True

    def study_loaded(self, paths: tuple[Path, ...], series_uid: str) -> None:
        """Called once a study is shown: apply a pending session, offer pending recoveries."""
        self._study_path = str(study_source(paths) or paths[0].parent)
        self._series_uid = series_uid
        pending, self._pending = self._pending, None
        if pending is not None:
            problems = self.apply(pending)
            if problems:
                self._window.show_error("; ".join(problems))
        self._offer_recovery()
        self._suspended = False

    @property
    def recoveries(self) -> list[Recovery]:
        """The autosaves the recovery bar offers (empty when it is hidden)."""
        return list(self._recoveries)

    def _offer_recovery(self) -> None:
        found = pending_recoveries(self._study_path)
        retire_recoveries(r for r in found if r.is_empty)  # nothing in them to lose
        self._recoveries = [r for r in found if not r.is_empty]
        if not self._recoveries:
            self.recovery_bar.hide()
            return
        self.recovery_bar.label.setText(describe_recoveries(self._recoveries))
        self.recovery_bar.show()

    def restore_recovered(self) -> bool:
        """Apply every autosave the bar offers, merged (the bar's Restore button).

        The restored work is written to this instance's autosave before the offered files
        are deleted, so a crash at any moment loses nothing. Unreadable autosaves are
        reported and stay offered. Returns whether anything was restored.
        """
        recoveries, self._recoveries = self._recoveries, []
        self.recovery_bar.hide()
        readable = [r for r in recoveries if r.session is not None]
        problems = [r.error for r in recoveries if r.session is None]
        sessions = [r.session for r in readable if r.session is not None]
        if any(s.label_maps for s in sessions) and self._window.label_overlay.layers:
            # restoring label layers replaces the shown ones: keep those shown now as well
            sessions.insert(0, Session(label_maps=self._label_refs()))
        if sessions:
            problems += self.apply(merge_sessions(sessions))
            self.autosaver.changed(self.snapshot)
            self.autosaver.flush()
            if self.autosaver.pending:
                problems.append(f"restored work not autosaved ({self.autosaver.last_error}); "
                                "its autosaves are kept")
            else:
                problems += retire_recoveries(readable)
        if problems:
            self._window.show_error("; ".join(problems))
        return bool(sessions)

    def discard_recovered(self) -> None:
        """Delete every autosave the bar offers (the bar's Discard button)."""
        recoveries, self._recoveries = self._recoveries, []
        self.recovery_bar.hide()
        problems = retire_recoveries(recoveries)
        if problems:
            self._window.show_error("; ".join(problems))

    # ---------------------------------------------------------------- applying

    def apply(self, session: Session) -> list[str]:
        """Apply ``session`` to the loaded study; returns problems (missing files ...).

        ROIs are merged into the current ones (nothing drawn meanwhile is lost); the undo
        history starts afresh.
        """
        w = self._window
        was_suspended, self._suspended = self._suspended, True
        problems: list[str] = []
        try:
            # merge: ROIs drawn since the study opened are kept, same ids are replaced
            for roi in session.rois:
                if roi.roi_id in w.rois:
                    w.rois.replace(roi)
                else:
                    w.rois.insert(roi)
            w.history.clear()
            problems += self._restore_labels(session.label_maps)
            self._apply_view(session.view_state, session.models, problems)
        finally:
            self._suspended = was_suspended
        self.restored.emit()
        return problems

    def _label_refs(self) -> list[LabelMapRef]:
        """The label layers as session entries (file-backed layers only)."""
        overlay = self._window.label_overlay
        refs: list[LabelMapRef] = overlay.snapshot()
        for problem in overlay.snapshot_problems:
            self._window.statusBar().showMessage(problem, 8000)
        return refs

    def _restore_labels(self, refs: list[LabelMapRef]) -> list[str]:
        """Show a session's label layers (none: keep the current ones); problems."""
        if not refs:
            return []
        overlay, toggle = self._window.label_overlay, self._window.label_controls.toggle_action
        problems: list[str] = overlay.restore(list(refs))
        if overlay.layers and not toggle.isChecked():
            toggle.setChecked(True)
        return problems

    def _apply_view(self, state: dict[str, Any], models: list[ModelRef],
                    problems: list[str]) -> None:
        w = self._window
        try:
            problem = w.studies.restore_volume_state(state)  # first: the slices are kept when stepping
            if problem:
                problems.append(problem)
            three = state.get("layout") == "three-plane"
            w.view_model.from_dict(state)  # layout, slices, window, compare mode, interpolation
            choice = state.get("label_choice", "auto")
            try:
                w.metrics_panel.set_label_choice(choice)
            except ValueError:
                problems.append(f"label {choice} of the session is not in the label map")
            sr_model = next((m for m in models if m.role == "sr"), None)
            model_ok = True
            if sr_model is not None and not w.models.select_model(sr_model.path):
                model_ok = False
                if not Path(sr_model.path).is_file():
                    problems.append(f"model {sr_model.path} is missing")
                else:  # refused (not trusted, bad card): open_model has said why
                    problems.append(f"model {sr_model.path} of the session was not loaded")
            if state.get("simulate_scale"):
                # after this load has finished: the LR study replaces the one being shown
                scale = int(state["simulate_scale"])
                QTimer.singleShot(0, self, lambda: w.references.simulate(scale))
            if state.get("sr_enabled") and not three and model_ok:
                w.set_sr_enabled(True)
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"view state not restored ({exc})")

    # ---------------------------------------------------------------- autosave

    def note_edit(self) -> None:
        """Record that the session changed (ROI or label edit): autosave soon.

        The snapshot is taken when the autosave is written (at most every few seconds), not
        on every edit; a study change flushes pending edits first
        (:meth:`before_study_change`), so a snapshot never mixes two studies.
        """
        if self._suspended or not self._study_path:
            return
        self.autosaver.changed(self.snapshot)

    def flush(self) -> None:
        """A clean exit (the window closes): retire this instance's own autosaves.

        Recoveries offered but not answered are left for the next opening of their study.
        """
        self._timer.stop()
        self.autosaver.retire()
