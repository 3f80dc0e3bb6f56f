"""Opening studies and switching the volume shown, for the main window.

A loaded study becomes the view model's study; the parts that belong to one study (ROIs,
label layers, the session, the reference, the metrics) are told whether the new one is
another subject or the same one seen differently (the simulated low-resolution study, a
volume of a 4-D series on its own grid), in which case ROIs, layers and the session stay.
A 4-D series is a :class:`~medsr_viewer.core.study.Study`: stepping its volumes on the same
grid replaces the view model's volume in place (slices, zoom/pan and window stay).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow

from medsr_viewer.core.demo import DemoUnavailable, demo_study_path
from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.io import SeriesInfo
from medsr_viewer.core.study import Study
from medsr_viewer.core.view_model import Layout, ViewModel, only_plane
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import default_preset
from medsr_viewer.gui.actions.reference_actions import ReferenceActions
from medsr_viewer.gui.actions.window_presets import WindowPresets
from medsr_viewer.gui.controllers.classification_action import ClassificationAction
from medsr_viewer.gui.controllers.pacs_actions import PacsActions
from medsr_viewer.gui.controllers.reader_study_action import ReaderStudyAction
from medsr_viewer.gui.dialogs.message_banner import APP_TITLE, MessageBanner
from medsr_viewer.gui.dialogs.series_picker import SeriesPickerDialog
from medsr_viewer.gui.docks.layer_comparison import LayerComparison
from medsr_viewer.gui.docks.metrics_panel import MetricsPanel
from medsr_viewer.gui.layers.label_overlay import LabelOverlay
from medsr_viewer.gui.layers.roi_tools import RoiTools
from medsr_viewer.gui.services.services import Services
from medsr_viewer.gui.session.session_controller import SessionController
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.model_picker import COMPARE_TASKS
from medsr_viewer.gui.views.volume_bar import VolumeBar
from medsr_viewer.gui.workers.study_loader import LoadedStudy, LoadRequest, study_source

#: File-dialog filter of the formats the loader reads (DICOM files often lack an extension).
OPEN_FILTER = (
    "Studies (*.dcm *.DCM *.ima *.nii *.nii.gz *.mgz *.png *.tif *.tiff *.jpg *.jpeg);;"
    "All files (*)"
)
#: Delay from showing a study to readying the model worker (torch imported in the background).
WARM_UP_MS = 250


@dataclass
class StudyParts:
    """The parts of the window a study change touches."""

    model: ViewModel
    compare: ComparePanel
    session: SessionController
    label_overlay: LabelOverlay
    roi_tools: RoiTools
    references: ReferenceActions
    metrics_panel: MetricsPanel
    layer_comparison: LayerComparison
    volume_bar: VolumeBar
    presets: WindowPresets
    error_banner: MessageBanner
    warning_banner: MessageBanner


class StudyController:
    """Opens studies in the background and shows them; steps the volumes of a 4-D series.

    Parameters
    ----------
    window
        The main window (dialog parent, title and status bar).
    services
        Its loader and recent-files list.
    parts
        What a study change touches.
    """

    def __init__(self, window: QMainWindow, services: Services, parts: StudyParts) -> None:
        self._window = window
        self._services = services
        self.parts = parts
        self.paths: tuple[Path, ...] = ()
        self.series_dialog: SeriesPickerDialog | None = None
        loader = services.loader
        loader.loaded.connect(self.show_loaded)
        loader.cancelled.connect(
            lambda: window.statusBar().showMessage("Loading cancelled", 5000))
        loader.seriesFound.connect(self._ask_series)
        parts.volume_bar.volumeRequested.connect(self.set_volume)
        parts.volume_bar.stepRequested.connect(self.step_volume)
        parts.volume_bar.groupRequested.connect(self.set_volume_group)
        self.reader_study = ReaderStudyAction(window, parts.model, parts.compare)
        self.pacs = PacsActions(window, self.open_paths, lambda: self.paths)
        self.classification = ClassificationAction(window, parts.model, parts.compare.viewer,
                                                   parts.compare.worker)

    # ---------------------------------------------------------------- opening

    def open_file_dialog(self) -> None:
        """Ask for one or more files and open them (several files = one series)."""
        files, _ = QFileDialog.getOpenFileNames(self._window, "Open study", "", OPEN_FILTER)
        if files:
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        """Ask for a folder (searched recursively for DICOM series) and open it."""
        folder = QFileDialog.getExistingDirectory(self._window, "Open DICOM folder")
        if folder:
            self.open_paths([folder])

    def open_demo(self) -> None:
        """Open the built-in demo study (needs the ``demo`` extra)."""
        try:
            path = demo_study_path()
        except DemoUnavailable as exc:
            self.parts.error_banner.show_messages(str(exc), [str(exc)])
            return
        self.open_paths([path])

    def open_paths(self, paths: Sequence[str | Path], series_uid: str | None = None,
                   series: SeriesInfo | None = None) -> None:
        """Load files/folders in the background; the current study stays until it is ready.

        ``series_uid`` or ``series`` picks one series of a folder holding several (otherwise
        the user is asked).
        """
        if not paths:
            return
        self.parts.error_banner.hide()
        self.paths = tuple(Path(p) for p in paths)
        self._services.loader.start(self.paths, series_uid, series)

    def source_name(self, paths: Sequence[Path] | None = None) -> str:
        """What was opened, for messages ("3 files in /data/series")."""
        paths = self.paths if paths is None else paths
        if not paths:
            return ""
        return str(paths[0]) if len(paths) == 1 else f"{len(paths)} files in {paths[0].parent}"

    def _ask_series(self, request: LoadRequest, series: list[SeriesInfo]) -> None:
        dialog = SeriesPickerDialog(series, self.source_name(request.paths), self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.series_dialog = dialog

        def chosen(result: int) -> None:
            self.series_dialog = None
            info = dialog.selected_series()
            if result == SeriesPickerDialog.DialogCode.Accepted and info is not None:
                self.open_paths(request.paths, series=info)
            else:
                self._window.statusBar().showMessage("No series opened", 5000)

        dialog.finished.connect(chosen)
        dialog.open()  # window-modal but asynchronous: the event loop keeps running

    # ---------------------------------------------------------------- showing

    def show_loaded(self, study: LoadedStudy) -> None:
        """Show a study the loader read: another subject, so the ROIs, label layers and
        session of the one shown go (the session saved first)."""
        p = self.parts
        p.session.before_study_change()
        p.label_overlay.clear()
        p.roi_tools.reset()  # another study: no ROIs, no history
        series = study.study if study.study is not None else Study.of(study.display.volume)
        self._show(study, same_subject=False, series=series)
        p.session.study_loaded(tuple(study.paths),
                               str(study.display.volume.metadata.get("series_uid", "")))

    def show_volume(self, volume: Volume) -> None:
        """Show a volume made in memory from the open study (the simulated LR study, or the
        real study again, or a volume of the series on its own grid) in its place, at the
        same place in the patient, keeping ROIs, label layers and the session."""
        model = self.parts.model
        name, window = default_preset(volume)
        world = model.cursor_world
        series = model.series
        located = None if series is None else series.locate(volume)
        self._show(LoadedStudy(DisplayVolume(volume), window, self.paths, name, located),
                   same_subject=True, series=located)
        self.parts.label_overlay.regrid()  # every layer re-sampled from its own grid
        if world is not None:
            model.set_cursor_world(world)

    def _show(self, study: LoadedStudy, same_subject: bool, series: Study | None) -> None:
        """What every shown study needs: presets, the view model's study, the plane of a
        2-D image, title, status, warnings, the recent list and fresh metrics."""
        p = self.parts
        volume = study.display.volume
        p.presets.rebuild(volume)
        p.presets.named[study.window_name] = study.window
        if p.model.compare.enabled:
            p.compare.set_enabled(False)
        p.model.set_study(study.display, study.window, series)
        self._show_volume_state()
        p.references.study_changed(volume, same_subject)
        p.model.set_layout(p.model.layout)
        only = only_plane(study.display)
        if only is not None and (p.model.layout != Layout.SINGLE
                                 or p.model.orientation != only):
            p.model.set_orientation(only)  # a 2-D image has one plane to show
        name = volume.name or self.source_name()
        self._window.setWindowTitle(f"{APP_TITLE} — {name}")
        shape = "×".join(str(n) for n in volume.shape[::-1])
        self._window.statusBar().showMessage(f"Opened {name} ({volume.modality}, {shape})",
                                             5000)
        if volume.warnings:
            n = len(volume.warnings)
            p.warning_banner.show_messages(
                f"{n} warning{'s' if n > 1 else ''} while loading: {volume.warnings[0]}",
                volume.warnings)
        else:
            p.warning_banner.hide()
        source = study_source(study.paths)
        if source is not None:
            self._services.recent.add(source)
        p.metrics_panel.reset()
        p.layer_comparison.clear()
        QTimer.singleShot(WARM_UP_MS, self._services.worker, self._warm_up)

    def _warm_up(self) -> None:
        """The study is on screen: ready the model worker for the first S in the background
        (torch imported; the SR pane's model loaded, run once on one tile, and its
        normalisation fitted to the study)."""
        compare, display = self.parts.compare, self.parts.model.display
        entry = compare.model_picker.current_entry()
        if entry is None or entry.card is None or entry.card.task not in COMPARE_TASKS:
            self._services.worker.warm_up()
            return
        volume = compare.volume_for(display) if display is not None else None
        self._services.worker.warm_up(str(entry.path), entry.card.task, volume)

    # ---------------------------------------------------------------- volumes of a 4-D study

    @property
    def study(self) -> Study | None:
        """The series shown, all its volumes (``study.shown`` is on screen); ``None`` when no
        study is open or the volume shown was made in memory (simulate mode)."""
        display = self.parts.model.display
        source = self.parts.model.series
        shown = display.volume if display is not None else None
        return source if source is not None and shown is source.shown else None

    def set_volume(self, index: int) -> None:
        """Show volume ``index`` (0-based, clamped) of the shown kind of image."""
        study = self.study
        if study is not None:
            self._show_study(study.step(int(index) - study.shown_index))

    def step_volume(self, delta: int) -> None:
        """Show the volume ``delta`` places on (clamped at the first and last)."""
        study = self.study
        if study is not None:
            self._show_study(study.step(delta))

    def set_volume_group(self, group: int) -> None:
        """Show another kind of image of the series (magnitude, phase …) at its own default
        window; same volume index when it has one."""
        study = self.study
        if study is not None and 0 <= group < len(study.groups):
            self._show_study(study.show_group(group))

    def volume_state(self) -> dict[str, object]:
        """Which volume of the series is shown, for the session (empty for a 3-D study)."""
        series = self.parts.model.series
        return {} if series is None else series.view_state()

    def restore_volume_state(self, state: dict[str, object]) -> str:
        """Show the volume a session recorded; returns a problem ("" when restored)."""
        study = self.study
        if study is None:
            return ""
        try:
            target = study.with_view_state(state)
        except (ValueError, TypeError) as exc:
            return f"volume of the session not restored ({exc})"
        self._show_study(target)
        return ""

    def _show_study(self, target: Study) -> None:
        current = self.study
        if current is None or target is current:
            return
        volume = target.shown
        if not current.same_grid(target):  # a kind of image on its own grid
            self.show_volume(volume)  # re-gridded like a new volume, same place in the patient
            return
        window = None
        if target.shown_group != current.shown_group:  # another kind: its own value range
            name, window = default_preset(volume)
            self.parts.presets.named[name] = window
        self.parts.model.replace_volume(DisplayVolume(volume), target.shown_label(), window,
                                        series=target)
        self._show_volume_state()
        self.parts.metrics_panel.reset()  # ROI statistics of the volume shown now

    def _show_volume_state(self) -> None:
        study = self.study
        self.parts.volume_bar.show_study(study)
        self.parts.model.set_caption("" if study is None else study.shown_label())

