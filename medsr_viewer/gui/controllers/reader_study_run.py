"""One blinded reader study in progress: the plan, the images, the answers, the results file.

The methods are resolved and the images made in the background
(:class:`~medsr_viewer.gui.workers.reader_image_jobs.ReaderImageJobs`), in trial order, so
the first trial is shown as soon as its two images exist while the others are made. Each
answer is timed from the moment the pair appeared. After the last answer the results are
written to a CSV file the reader chooses (:meth:`ReaderStudy.write_csv`); stopping early
offers to save the answers given so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRectF
from PySide6.QtWidgets import QFileDialog, QMainWindow

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.reader_study import Method, ReaderStudy, Trial
from medsr_viewer.gui.dialogs.reader_study import ReaderStudyWindow
from medsr_viewer.gui.workers.jobs import JobRunner
from medsr_viewer.gui.workers.reader_image_jobs import ReaderImageJobs
from medsr_viewer.models.reader_images import ReaderImages

CSV_FILTER = "CSV files (*.csv)"


class ReaderStudyRun(QObject):
    """Runs one reader study from its inputs to its results file.

    Parameters
    ----------
    window
        The main window (parent of the trial window; its status bar says where results went).
    display, orientation
        The study shown and the plane read.
    images
        Makes the methods' images (on the model worker's engine).
    runner
        The model worker's job runner.
    reader, methods, slices, seed, levels
        The reader's name, the methods (model paths or baselines), the 0-based slices, the
        seed and the display window ``(low, high)``.
    on_end
        Called once the trial window has closed.
    """

    def __init__(self, window: QMainWindow, display: DisplayVolume, orientation: Orientation,
                 images: ReaderImages, runner: JobRunner, reader: str, methods: Sequence[str],
                 slices: Sequence[int], seed: int, levels: tuple[float, float],
                 on_end: Callable[[], None] = lambda: None) -> None:
        super().__init__(window)
        self._main = window
        self._display = display
        self._orientation = orientation
        self._inputs = (reader, tuple(slices), int(seed), levels)
        self._on_end = on_end
        self.plan: ReaderStudy | None = None
        self.saved: Path | None = None
        self._saved_answers = 0
        self._stopped = False
        self.position = 0
        self._images: dict[tuple[str, int], np.ndarray] = {}
        self._shown_at: float | None = None
        self._shown_slice = -1
        self._failed = ""
        self.trial_window = ReaderStudyWindow(window)
        self.jobs = ReaderImageJobs(runner, images, self)
        self.jobs.resolved.connect(self._on_resolved)
        self.jobs.imageReady.connect(self._on_image)
        self.jobs.progress.connect(self.trial_window.set_progress)
        self.jobs.failed.connect(self._on_failed)
        tw = self.trial_window
        tw.picked.connect(self.pick)
        tw.scored.connect(self.score)
        tw.backRequested.connect(self.back)
        tw.stopRequested.connect(self.stop)
        tw.saveRequested.connect(self.save_dialog)
        tw.show_message("Preparing the images…")
        tw.show()
        tw.raise_()
        tw.activateWindow()
        self.jobs.resolve(list(methods))

    # ---------------------------------------------------------------- state

    @property
    def current(self) -> Trial | None:
        """The trial on screen (``None`` before the plan exists or after the last one)."""
        plan = self.plan
        return plan.trials[self.position] if plan and self.position < plan.total else None

    @property
    def ready(self) -> bool:
        """Whether the current trial's two images are shown (answers are accepted)."""
        return self._shown_at is not None

    def image(self, method: Method, index: int) -> np.ndarray | None:
        """``method``'s image of slice ``index``, once made."""
        return self._images.get((method.identity, index))

    # ---------------------------------------------------------------- background results

    def _on_resolved(self, methods: tuple[Method, ...], scale: int) -> None:
        reader, slices, seed, levels = self._inputs
        try:
            plan = ReaderStudy(reader, self._display.volume.name or "study",
                               self._orientation.value, self._display.n_slices(
                                   self._orientation), slices, methods, seed, scale, levels)
        except ValueError as exc:
            self._on_failed(str(exc))
            return
        self.plan = plan
        wanted: list[tuple[Method, int]] = []
        for trial in plan.trials:
            for method in (plan.left(trial), plan.right(trial)):
                if (method, trial.slice_index) not in wanted:
                    wanted.append((method, trial.slice_index))
        self.jobs.compute(wanted, scale)
        self._show()

    def _on_image(self, identity: str, index: int, image: np.ndarray) -> None:
        self._images[(identity, index)] = image
        if not self.ready:
            self._show()

    def _on_failed(self, message: str) -> None:
        self._failed = message
        self._main.statusBar().showMessage(f"Reader study stopped: {message}", 15000)
        self.trial_window.show_message("The images could not be made, so the study stopped "
                                       "(the main window's status bar says why).")

    # ---------------------------------------------------------------- showing

    def _show(self) -> None:
        plan, trial, tw = self.plan, self.current, self.trial_window
        self._shown_at = None
        if plan is None or trial is None:
            return
        left, right = self.image(plan.left(trial), trial.slice_index), self.image(
            plan.right(trial), trial.slice_index)
        if left is None or right is None:
            tw.show_waiting(trial.number, plan.total, plan.slice_text(trial),
                            self._failed and "The study stopped." or "Making the images…")
            return
        rows, cols = self._display.slice_shape(self._orientation)
        row_mm, col_mm = self._display.pixel_spacing(self._orientation)
        tw.show_trial(trial.number, plan.total, plan.slice_text(trial), left, right,
                      plan.window, QRectF(0.0, 0.0, cols * col_mm, rows * row_mm),
                      fit=trial.slice_index != self._shown_slice)
        self._shown_slice = trial.slice_index
        self._shown_at = time.monotonic()

    # ---------------------------------------------------------------- answers

    def pick(self, side: str) -> None:
        """The reader picked ``left`` (A) or ``right`` (B) as better."""
        trial = self.current
        if self.plan is not None and trial is not None and self._shown_at is not None:
            self.plan.pick(trial, side, time.monotonic() - self._shown_at)
            self._advance()

    def score(self, score: int) -> None:
        """The reader scored the pair 1–5 (1 = left much better … 5 = right much better)."""
        trial = self.current
        if self.plan is not None and trial is not None and self._shown_at is not None:
            self.plan.score(trial, score, time.monotonic() - self._shown_at)
            self._advance()

    def back(self) -> None:
        """Show the previous trial again (its answer is replaced by the next one given)."""
        if self.plan is not None and 0 < self.position <= self.plan.total \
                and not self.plan.complete:
            self.position -= 1
            self._show()

    def _advance(self) -> None:
        assert self.plan is not None
        self.position += 1
        if self.position >= self.plan.total:
            following = self.plan.next_unanswered()
            self.position = self.plan.total if following is None else following
        if self.plan.complete:
            self._shown_at = None
            self._finish()
        else:
            self._show()

    # ---------------------------------------------------------------- the end

    def default_name(self) -> str:
        """A results file name with the plane and the date (no reader or patient data)."""
        plane = self._orientation.value
        return f"reader-study-{plane}-{datetime.now():%Y%m%d-%H%M}.csv"

    def _finish(self) -> None:
        self.trial_window.show_finished("Saving the answers…", saved=False)
        self.save_dialog()

    def save_dialog(self) -> Path | None:
        """Ask where to write the results, then write them (``None``: not saved)."""
        path, _ = QFileDialog.getSaveFileName(self.trial_window, "Save Reader Study Results",
                                              self.default_name(), CSV_FILTER)
        if not path:
            if self.plan is not None and self.plan.complete:
                self.trial_window.show_finished("The answers are not saved yet.", saved=False)
            return None
        return self.save(path)

    def save(self, path: str | Path) -> Path | None:
        """Write the answers given so far to ``path`` (CSV, atomically)."""
        plan = self.plan
        if plan is None:
            return None
        target = Path(path)
        if target.suffix.lower() != ".csv":
            target = target.with_name(target.name + ".csv")
        try:
            written = plan.write_csv(target)
        except OSError as exc:
            self.trial_window.show_message(f"{target}: not saved ({exc})")
            return None
        self.saved, self._saved_answers = written, len(plan.answers)
        text = f"Saved {len(plan.answers)} answers to {written}"
        self._main.statusBar().showMessage(text, 15000)
        if plan.complete:
            self.trial_window.show_finished(text, saved=True)
        else:
            self.trial_window.show_message(text)
        return written

    def stop(self) -> None:
        """Stop making images, offer to save unsaved answers, close the trial window."""
        if self._stopped:
            return
        self._stopped = True
        self.jobs.cancel()
        plan = self.plan
        if plan is not None and len(plan.answers) not in (0, self._saved_answers):
            self.save_dialog()
        self.trial_window.finish()
        self.trial_window.deleteLater()
        self._images.clear()
        self._on_end()
