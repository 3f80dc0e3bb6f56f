"""Tools ▸ Blinded Reader Study…: set up a study of the plane shown and run it.

The setup dialog (:class:`~medsr_viewer.gui.dialogs.reader_study_setup.ReaderSetupDialog`)
offers the model picker's super-resolution and enhancement models and the baselines; the
study (:class:`~medsr_viewer.gui.controllers.reader_study_run.ReaderStudyRun`) reads the
active plane of the study shown, in the current display window, and runs the models on the
model worker. The action is enabled while a study is shown.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QMainWindow

from medsr_viewer.core.reader_study import BICUBIC, ORIGINAL, around, evenly_spaced
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.controllers.reader_study_run import ReaderStudyRun
from medsr_viewer.gui.dialogs.reader_study_setup import ReaderSetup, ReaderSetupDialog
from medsr_viewer.gui.views.model_picker import ModelPicker
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.reader_images import READER_TASKS, ReaderImages

ACTION_ID = "tools.reader_study"
#: The baselines offered beside the models, as the setup dialog lists them.
BASELINE_CHOICES = ((f"{BICUBIC} (baseline)", BICUBIC),
                    (f"{ORIGINAL} pixels, repeated (baseline)", ORIGINAL))


class ModelPanel(Protocol):
    """What the study needs of the SR pane: its model picker and its model worker."""

    model_picker: ModelPicker
    worker: InferenceWorker


class ReaderStudyAction:
    """Binds the Blinded Reader Study action: the setup dialog, then the study.

    Parameters
    ----------
    window
        The main window: its action registry, the dialogs' parent, its status bar.
    model
        The view model (the study, plane, slice and window shown).
    panel
        The SR pane: its model picker lists the models offered, its model worker (engine
        and thread) runs them.
    """

    def __init__(self, window: QMainWindow, model: ViewModel, panel: ModelPanel) -> None:
        self._window = window
        self._model = model
        self._picker = panel.model_picker
        self._worker = panel.worker
        self._reader = ""
        self.setup_dialog: ReaderSetupDialog | None = None
        self.run: ReaderStudyRun | None = None
        self.action = ActionRegistry.of(window).bind(ACTION_ID, self.open_setup)
        for event in ("study", "volume"):
            model.subscribe(event, self._update_enabled)
        self._update_enabled()

    def choices(self) -> list[tuple[str, str]]:
        """``(label, method)`` of the methods offered: the picker's models, the baselines."""
        found: list[tuple[str, str]] = []
        for index in range(self._picker.count()):
            entry = self._picker.entry_at(index)
            if entry is not None and entry.card is not None \
                    and entry.card.task in READER_TASKS:
                found.append((self._picker.itemText(index), str(entry.path)))
        return [*found, *BASELINE_CHOICES]

    def open_setup(self) -> ReaderSetupDialog | None:
        """Show the setup dialog (window-modal); Start begins the study."""
        display = self._model.display
        if display is None:
            self._window.statusBar().showMessage("Open a study before a reader study", 8000)
            return None
        plane = self._model.active_orientation
        choices = self.choices()
        current = self._picker.current_entry()
        first = str(current.path) if current is not None and any(
            method == str(current.path) for _label, method in choices) else choices[0][1]
        n_slices = display.n_slices(plane)
        dialog = ReaderSetupDialog(choices, (first, BICUBIC), f"{plane.value}, {n_slices} "
                                   "slices", n_slices, self._reader, self._window)
        dialog.accepted.connect(lambda: self.start_setup(dialog.values()))
        self.setup_dialog = dialog
        dialog.open()
        return dialog

    def start_setup(self, setup: ReaderSetup) -> ReaderStudyRun | None:
        """Start the study the setup dialog asked for, on the plane shown."""
        plane = self._model.active_orientation
        if self._model.display is None:
            return None
        total = self._model.n_slices(plane)
        slices = (evenly_spaced(setup.count, total) if setup.evenly
                  else around(self._model.slice_index(plane), setup.radius, total))
        self._reader = setup.reader
        return self.start(setup.reader, setup.methods, slices, setup.seed)

    def start(self, reader: str, methods: tuple[str, ...] | list[str], slices: list[int],
              seed: int) -> ReaderStudyRun | None:
        """Run a study of the plane shown: ``methods`` (model paths or ``bicubic`` /
        ``original``) on the 0-based ``slices``, sides and order from ``seed``; a running
        study is stopped first. ``None`` when no study is shown."""
        display = self._model.display
        if display is None:
            return None
        if self.run is not None:
            self.run.stop()
        plane = self._model.active_orientation
        worker = self._worker
        images = ReaderImages(display, plane, engine=lambda: worker.engine)
        run = ReaderStudyRun(self._window, display, plane, images, worker.runner, reader,
                             list(methods), slices, seed, self._model.window.levels,
                             on_end=lambda: self._ended(run))
        self.run = run
        return run

    def _ended(self, run: ReaderStudyRun) -> None:
        if self.run is run:
            self.run = None
        run.deleteLater()

    def _update_enabled(self) -> None:
        self.action.setEnabled(self._model.display is not None)
