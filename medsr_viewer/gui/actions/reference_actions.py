"""The reference volume for PSNR/SSIM: opened from a file, or made by simulate mode.

*Open Reference Volume* loads a high-resolution volume of the same subject (any grid; it is
resampled in world space onto each result's grid). *Simulate Low Resolution* turns the open
study into its low-resolution version by the project's evaluation protocol and keeps the real
study as the reference, so a model's output can be scored against the truth while it is
inspected: the viewer then shows the LR study as "Original" and the metrics panel reports
PSNR/SSIM of the model and of bicubic against the real study.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow

from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.messages import naming_file
from medsr_viewer.core.simulate import simulate_low_resolution
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.actions.registry import ActionRegistry

REFERENCE_FILTER = "Volumes (*.nii *.nii.gz *.mgz *.mgh *.dcm);;All files (*)"


class ReferenceActions(QObject):
    """Holds the reference volume and the actions that set it.

    Parameters
    ----------
    window
        Parent of the dialog and owner of the actions.
    study
        Returns the open study (``None`` when there is none).
    show_volume
        Shows a volume made in memory as the study (used for the simulated LR study).
    model_scale
        The scale of the model chosen for the compare pane (the simulation's factor).
    report_error
        Shows a message naming the file or the problem.

    Signals
    -------
    changed()
        The reference was set or cleared.
    """

    changed = Signal()

    def __init__(self, window: QMainWindow, study: Callable[[], Volume | None],
                 show_volume: Callable[[Volume], None], model_scale: Callable[[], int],
                 report_error: Callable[[str], None]) -> None:
        super().__init__(window)
        self._window = window
        self._study = study
        self._show_volume = show_volume
        self._model_scale = model_scale
        self._report_error = report_error
        self.reference: Volume | None = None
        actions = ActionRegistry.of(window)
        self.open_action = actions.bind("reference.open", self._open_dialog)
        self.simulate_action = actions.bind("reference.simulate", self._on_simulate_triggered)
        self.clear_action = actions.bind("reference.clear", self.clear)

    def _on_simulate_triggered(self, checked: bool) -> None:
        if checked:
            self.simulate()
        else:
            self.end_simulation()

    def open_reference(self, path: str | Path) -> bool:
        """Load ``path`` as the reference; ``False`` after reporting why it could not be."""
        try:
            volume = load_volume(Path(path))
        except (LoadError, OSError, ValueError) as exc:
            self._report_error(naming_file(path, exc))
            return False
        low, high = volume.value_range()
        if high <= low:
            self._report_error(f"{path}: the reference is constant; PSNR/SSIM are undefined")
            return False
        self.reference = volume
        self.changed.emit()
        return True

    def simulate(self, scale: int | None = None) -> bool:
        """Replace the shown study by its simulated LR version; the real study is the reference."""
        study = self._study()
        if study is None:
            self._report_error("Open a study before simulating a low-resolution one")
            return False
        if "simulated_scale" in study.metadata:
            self._report_error("The study shown is already a simulated low-resolution study")
            return False
        scale = int(scale or self._model_scale())
        if scale < 2:
            self._report_error(f"Simulation needs a super-resolution model (scale >= 2), "
                               f"the chosen model has scale {scale}")
            return False
        try:
            low = simulate_low_resolution(study, scale)
        except ValueError as exc:
            self._report_error(f"{study.name}: {exc}")
            return False
        self.reference = study
        self._show_volume(low)
        self.simulate_action.setChecked(True)
        self.changed.emit()
        return True

    @property
    def simulating(self) -> bool:
        """Whether the study shown is the simulated LR version of :attr:`reference`."""
        study = self._study()
        return study is not None and "simulated_scale" in study.metadata

    def end_simulation(self) -> None:
        """Show the real study again (ROIs and labels stay); the reference is dropped."""
        real = self.reference
        self.simulate_action.setChecked(False)
        if real is None or not self.simulating:
            return
        self.reference = None
        self._show_volume(real)
        self.changed.emit()

    def clear(self) -> None:
        """Forget the reference."""
        if self.simulating:
            self.end_simulation()
        elif self.reference is not None:
            self.reference = None
            self.changed.emit()

    def study_changed(self, study: Volume, same_subject: bool) -> None:
        """A study was shown: another subject's study ends the reference."""
        if not same_subject:
            self.reference = None
            self.simulate_action.setChecked(False)
            self.changed.emit()

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open Reference Volume", "",
                                              REFERENCE_FILTER)
        if path:
            self.open_reference(path)
