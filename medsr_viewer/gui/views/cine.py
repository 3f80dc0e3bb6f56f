"""Cine: play the slices of the active plane, or the volumes of a 4-D series, in a loop.

View ▸ Cine Slices (Space) and View ▸ Cine Volumes (Shift+Space) start and stop playback; a
box in the status bar shows the rate while playing and takes another one. Each frame is an
intent written to the view model (the next slice; the next volume through the study
controller), so the panes, the SR pane and the readout follow as if the user had pressed
the key. A new study, or a series without volumes to play, stops it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QStatusBar, QWidget

from medsr_viewer.core.cine import DEFAULT_FPS, MAX_FPS, MIN_FPS, CineRate, clamp_fps, next_frame
from medsr_viewer.core.cine import volume_rate as series_rate
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry

SLICES, VOLUMES = "slices", "volumes"


class CineControls(QWidget):
    """What is playing and its rate (frames per second), in the status bar while playing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("Cine", self)
        self.fps = QDoubleSpinBox(self)
        self.fps.setRange(MIN_FPS, MAX_FPS)
        self.fps.setDecimals(1)
        self.fps.setSingleStep(1.0)
        self.fps.setSuffix(" fps")
        row.addWidget(self.label)
        row.addWidget(self.fps)
        self.hide()


class CinePlayer(QObject):
    """Plays slices or volumes on a timer on the GUI thread (one frame per tick).

    Parameters
    ----------
    model
        The view state (active plane, slices, the 4-D series shown).
    step_volume
        Shows the volume ``delta`` places on (the study controller's intent).
    bar
        The status bar that shows the rate box while playing.
    window
        The window whose action registry holds the Cine actions.

    Signals
    -------
    playingChanged(str)
        ``"slices"``, ``"volumes"`` or ``""`` (stopped).
    """

    playingChanged = Signal(str)

    def __init__(self, model: ViewModel, step_volume: Callable[[int], None], bar: QStatusBar,
                 window: QWidget) -> None:
        super().__init__(window)
        self._model = model
        self._step_volume = step_volume
        self._playing = ""
        self._bar = bar
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self.controls = CineControls(window)
        bar.addPermanentWidget(self.controls)
        self.controls.fps.valueChanged.connect(self._set_interval)
        actions = ActionRegistry.of(window)
        self.slices_action = actions.bind("view.cine_slices", lambda on: self._toggle(SLICES, on))
        self.volumes_action = actions.bind("view.cine_volumes",
                                           lambda on: self._toggle(VOLUMES, on))
        model.subscribe("study", self.stop)

    @property
    def playing(self) -> str:
        """What plays: ``"slices"``, ``"volumes"`` or ``""``."""
        return self._playing

    def play(self, what: str, fps: float | None = None) -> str:
        """Start playing ``what`` (``"slices"`` or ``"volumes"``) at ``fps`` (default: the
        series' rate for volumes, :data:`DEFAULT_FPS` for slices). Returns "" or why not."""
        if self._model.display is None:
            self.stop()
            return "Open a study before playing it"
        series = self._model.series
        if what == VOLUMES and (series is None or series.n_volumes < 2
                                or series.shown is not self._model.display.volume):
            self.stop()
            return "Cine over volumes needs a 4-D series"
        rate = series_rate(series.facts) if what == VOLUMES and series is not None \
            else CineRate(DEFAULT_FPS, "default")
        self._playing = what
        self.controls.label.setText(f"Cine {what}")
        self.controls.fps.setToolTip(f"Frames per second (from {rate.source})")
        self.controls.fps.setValue(clamp_fps(fps if fps is not None else rate.fps))
        self._set_interval(self.controls.fps.value())
        self.controls.show()
        self._timer.start()
        self._show_state()
        return ""

    def stop(self) -> None:
        """Stop playing (the frame shown stays)."""
        if self._timer.isActive() or self._playing:
            self._timer.stop()
            self._playing = ""
            self.controls.hide()
            self._show_state()

    def _toggle(self, what: str, on: bool) -> None:
        if on:
            problem = self.play(what)
            if problem:
                self._bar.showMessage(problem, 5000)
        elif self._playing == what:
            self.stop()
        self._show_state()

    def _set_interval(self, fps: float) -> None:
        self._timer.setInterval(CineRate(fps, "").interval_ms())

    def _tick(self) -> None:
        model = self._model
        if model.display is None:
            self.stop()
            return
        if self._playing == SLICES:
            plane = model.active_orientation
            model.set_slice(next_frame(model.slice_index(plane), model.n_slices(plane)), plane)
            return
        series = model.series
        if series is None or series.shown is not model.display.volume:
            self.stop()
            return
        index = series.shown_index
        self._step_volume(next_frame(index, series.n_volumes) - index)

    def _show_state(self) -> None:
        self.slices_action.setChecked(self._playing == SLICES)
        self.volumes_action.setChecked(self._playing == VOLUMES)
        self.playingChanged.emit(self._playing)
