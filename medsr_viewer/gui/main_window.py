"""The application's main window: it assembles the parts and wires them together.

State lives in the view model (:mod:`medsr_viewer.core.view_model`), background work in the
services (:mod:`medsr_viewer.gui.services.services`), actions and shortcuts in the action
table (:mod:`medsr_viewer.gui.actions.table`, also the keyboard reference); opening studies
and models is done by the controllers (:mod:`medsr_viewer.gui.controllers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QWidget

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.history import History
from medsr_viewer.core.labels import LabelMap
from medsr_viewer.core.roi import RoiEditor, RoiSet
from medsr_viewer.core.study import Study
from medsr_viewer.core.view_model import Layout, ViewModel
from medsr_viewer.gui.actions.main_menus import RecentMenu, build_menus, build_toolbars
from medsr_viewer.gui.actions.reference_actions import ReferenceActions
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.actions.roi_files import RoiFileActions
from medsr_viewer.gui.actions.view_actions import ViewActions
from medsr_viewer.gui.actions.window_presets import WindowPresets
from medsr_viewer.gui.controllers.drops import accept_local_files, open_dropped
from medsr_viewer.gui.controllers.model_opening import ModelOpening
from medsr_viewer.gui.controllers.screenshot_export import ScreenshotExport
from medsr_viewer.gui.controllers.study_controller import StudyController, StudyParts
from medsr_viewer.gui.controllers.tag_browser_action import TagBrowserAction
from medsr_viewer.gui.dialogs.message_banner import APP_TITLE, MessageBanner
from medsr_viewer.gui.docks.label_dock import LabelDock
from medsr_viewer.gui.docks.metrics_dock import MetricsDock
from medsr_viewer.gui.docks.metrics_panel import context_record
from medsr_viewer.gui.layers.label_overlay import LabelOverlay, LabelOverlayControls
from medsr_viewer.gui.layers.roi_tools import RoiTools
from medsr_viewer.gui.services.services import Services
from medsr_viewer.gui.session.session_controller import SessionController
from medsr_viewer.gui.views.cine import CinePlayer
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.status_readout import StatusReadout
from medsr_viewer.gui.views.study_area import StudyArea
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.gui.views.volume_bar import VolumeBar
from medsr_viewer.gui.workers import threads
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.gui.workers.notice_bridge import NoticeBridge
from medsr_viewer.models.registry import ModelRegistry


class MainWindow(QMainWindow):
    """The MedSR Viewer window: menus, toolbars, study area, docks, status bar.

    Parameters
    ----------
    settings
        Where recent files are stored (the user's settings file when omitted).
    worker
        Runs models for the panes (default: a new one on the ``auto`` device).
    registry
        Where the model picker lists models (default: bundled and user folders).
    view_model
        The view state the window renders (default: a new one); scripts and tests may drive
        the window by writing to it.
    """

    studies: StudyController
    models: ModelOpening

    def __init__(self, settings: QSettings | None = None, worker: InferenceWorker | None = None,
                 registry: ModelRegistry | None = None,
                 view_model: ViewModel | None = None) -> None:
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.view_model = model = view_model if view_model is not None else ViewModel()
        self.services = services = Services.create(self, settings, worker, registry)
        self.actions_ = actions = ActionRegistry.of(self)
        self.loader, self.recent, self.trust_prompt = (services.loader, services.recent,
                                                       services.trust_prompt)
        self.viewer = StudyViewer(model, self)
        self.compare = ComparePanel(self.viewer, services.worker, services.registry, self)
        self.error_banner = MessageBanner("error", self)
        self.warning_banner = MessageBanner("warning", self)
        self.notices = NoticeBridge(services.notifier, self)
        self.notices.posted.connect(self.warning_banner.show_notice)  # errors: as failures
        self.label_overlay = LabelOverlay(self.viewer, self.compare)
        #: The ROI document, its undo history and the undoable editor (core, Qt-free).
        self.history, self.rois = History(), RoiSet()
        self.roi_editor = RoiEditor(self.rois, self.history)
        self.area = StudyArea(self.viewer, self.compare, self)
        self.volume_bar = VolumeBar(self)
        self.presets = WindowPresets(model, actions, self)
        self.readout = StatusReadout(model, self.statusBar(), self)
        self.readout_label, self.window_label = self.readout.readout_label, self.readout.window_label
        self.progress_bar, self.cancel_button = self.readout.progress_bar, self.readout.cancel_button
        self.preset_combo, self.preset_actions = self.presets.combo, self.presets.preset_actions
        self.references = ReferenceActions(self, lambda: self.viewer.volume,
                                           lambda v: self.studies.show_volume(v),
                                           self.compare.model_scale, self.show_error)
        self.metrics_dock = MetricsDock(
            self.rois, self.viewer, self.compare, self.label_overlay, self.references,
            lambda: context_record(self.studies.paths, self.viewer.volume), self)
        self.metrics_panel = self.metrics_dock.panel
        self.layer_comparison = self.metrics_dock.layer_comparison
        self.roi_files = RoiFileActions(self, self.roi_editor, self.metrics_panel, self.show_error)
        self.session = SessionController(self)
        self.roi_tools = RoiTools(self, [*self.viewer.views.values(), self.compare.sr_view],
                                  self.roi_editor, model)
        self.label_controls = LabelOverlayControls(self.label_overlay, self, self.show_error,
                                                   lambda m: self.warning_banner.show_messages(m))
        self.label_dock = LabelDock(self.label_overlay, services.worker, services.registry,
                                    self.show_error, self, services.trust_prompt)
        self.models = ModelOpening(self, self.compare.model_picker, services.trust_prompt,
                                   self.show_error)
        self.studies = StudyController(self, services, StudyParts(
            model, self.compare, self.session, self.label_overlay, self.roi_tools,
            self.references, self.metrics_panel, self.layer_comparison, self.volume_bar,
            self.presets, self.error_banner, self.warning_banner))
        self.recent_menu = RecentMenu(self.recent, lambda p: self.open_paths([p]), self)
        self.cine = CinePlayer(model, self.studies.step_volume, self.statusBar(), self)
        self.screenshots = ScreenshotExport(self, self.viewer, self.area.study_area,
                                            lambda: self.studies.paths, self.show_error)
        self.tag_browser = TagBrowserAction(self, model)
        self._bind_actions()
        self._assemble(model)

    # ---------------------------------------------------------------- assembly

    def _bind_actions(self) -> None:
        actions = self.actions_
        for action_id, slot in {
                "file.open": self.studies.open_file_dialog,
                "file.open_folder": self.studies.open_folder_dialog,
                "file.open_demo": self.studies.open_demo,
                "file.open_model": self.models.open_model_dialog, "file.quit": self.close}.items():
            actions.bind(action_id, slot)
        self.view_actions = view = ViewActions(actions, self.view_model, self.viewer.reset_view,
                                               self.set_sr_enabled, self.metrics_dock)
        self.orientation_actions, self.three_plane_action = (view.orientation_actions,
                                                             view.three_plane_action)
        self.sr_action, self.slice_actions = view.sr_action, view.slice_actions
        self.reset_action = view.reset_action

    def _assemble(self, model: ViewModel) -> None:
        self.setCentralWidget(self.area.central(
            [self.error_banner, self.warning_banner, self.session.recovery_bar], self.volume_bar))
        build_menus(self, self.actions_, self.recent_menu, {
            "Edit": self.roi_tools.edit_menu, "Tools": self.roi_tools.tools_menu,
            "Segmentation": self.label_dock.menu, "W/L": self.presets.menu})
        picker = self.compare
        build_toolbars(self, self.actions_, self.preset_combo, [
            ("", picker.model_picker), ("", picker.mode_combo), (" Original: ", picker.interp_combo),
            ("", picker.device_label), ("", picker.progress_bar)],
            self.label_controls.toolbar, self.roi_tools.toolbar)
        self.label_overlay.changed.connect(self.session.note_edit)
        self.roi_tools.selectionChanged.connect(self.metrics_panel.select_roi)
        self.metrics_panel.roiActivated.connect(self.roi_tools.select)
        self.compare.errorOccurred.connect(self.show_error)
        self.loader.failed.connect(self.show_error)
        self.readout.follow(self.loader, self.viewer, self.compare, self.studies.source_name)
        self.resize(1200, 800)

    # ---------------------------------------------------------------- intents

    def open_paths(self, paths: Sequence[str | Path], series_uid: str | None = None) -> None:
        """Open files/folders as a study in the background (see :class:`StudyController`)."""
        self.studies.open_paths(paths, series_uid)

    def open_demo(self) -> None:
        """Open the built-in demo study."""
        self.studies.open_demo()

    def open_model(self, path: str | Path) -> bool:
        """Add a model file to the SR pane's picker (``False``: refused, banner says why)."""
        return self.models.open_model(path)

    def select_model(self, path: str | Path) -> bool:
        """Choose the SR pane's model by file (adding it if needed)."""
        return self.models.select_model(path)

    def open_label_map(self, path: str | Path) -> bool:
        """Overlay a label map file on the study shown; ``False`` (and the banner) if not."""
        return self.label_controls.open_label_map(path)

    def set_orientation(self, orientation: Orientation) -> None:
        """Single-plane layout showing ``orientation`` (the comparison follows it)."""
        self.view_model.set_orientation(orientation)

    def set_three_plane(self, enabled: bool) -> None:
        """Three-plane layout on (the comparison switches off) or off."""
        self.view_model.set_layout(Layout.THREE_PLANE if enabled else Layout.SINGLE)

    def set_sr_enabled(self, enabled: bool) -> None:
        """Switch the before/after comparison (single-plane layout) on or off."""
        if enabled and self.view_model.layout != Layout.SINGLE:
            self.set_three_plane(False)
        problem = self.compare.set_enabled(enabled)
        if problem:
            self.show_error(problem)
        self.sr_action.setChecked(self.view_model.compare.enabled)

    def show_error(self, message: str) -> None:
        """Report a problem without blocking: status bar plus the error banner."""
        self.statusBar().showMessage(message, 15000)
        self.error_banner.show_messages(message, [message])

    def readout_text(self) -> str:
        """The readout line: slice n/N, voxel, world mm and value under the mouse."""
        return self.readout.text()

    # ---------------------------------------------------------------- session host

    @property
    def study(self) -> Study | None:
        """The 4-D series shown, all its volumes (see :attr:`StudyController.study`)."""
        return self.studies.study

    def as_widget(self) -> QWidget:
        """The window itself (its role as the session controller's ``SessionHost``)."""
        return self

    def active_label_map(self) -> LabelMap | None:
        """The label map ROIs are compared with (on the study grid), or ``None``."""
        return self.label_overlay.active_label_map()

    # ---------------------------------------------------------------- drag and drop, close

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept local files and folders."""
        accept_local_files(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Model files go to the model picker (trust asked for code), anything else is a
        study (several files: one series)."""
        open_dropped(event, self.open_model, self.open_paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every background job in one place before the window goes away."""
        self.session.flush()
        self.notices.close()
        self.metrics_panel.shutdown()
        self.loader.shutdown()
        self.compare.shutdown()
        threads.stop_all()
        super().closeEvent(event)
