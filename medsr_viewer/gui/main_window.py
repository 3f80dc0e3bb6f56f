"""The application's main window: open studies, navigate them, read values.

Keyboard (also in the View and Window menus): 1/2/3 axial/coronal/sagittal, 4 three-plane
layout, Up/Down one slice, PageUp/PageDown ten slices, Home/End first/last slice, R reset
view and window, Ctrl+0, Ctrl+1 ... the Window menu presets in order, Ctrl+O open file,
Ctrl+Shift+O open folder, S super-resolution beside the original on/off, Alt+Up / Alt+Down
(or . and ,) next / previous volume of a 4-D study (the volume bar). ROI tools (Tools
menu, see ``roi_tools``): N navigate, Q/E/P/F rectangle/ellipse/polygon/freehand, B/X brush/
eraser, Ctrl+Z / Ctrl+Shift+Z undo/redo, Delete; O / Shift+O label layers shown / style;
Ctrl+Shift+M the ROI Metrics dock; Ctrl+S save session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.core.demo import DemoUnavailable, demo_study_path
from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.history import History
from medsr_viewer.core.io import SeriesInfo
from medsr_viewer.core.labels import LabelMap
from medsr_viewer.core.roi import RoiEditor, RoiSet
from medsr_viewer.core.session import LabelMapRef
from medsr_viewer.core.study import Study
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import CT_PRESETS, Window, default_preset, presets_for
from medsr_viewer.gui.actions.reference_actions import ReferenceActions
from medsr_viewer.gui.actions.roi_files import RoiFileActions
from medsr_viewer.gui.dialogs.message_banner import APP_TITLE, MessageBanner
from medsr_viewer.gui.dialogs.series_picker import SeriesPickerDialog
from medsr_viewer.gui.dialogs.trust_prompt import TrustPrompt
from medsr_viewer.gui.docks.label_dock import LabelDock
from medsr_viewer.gui.docks.layer_comparison import LayerComparison
from medsr_viewer.gui.docks.metrics_panel import MetricsPanel, context_record
from medsr_viewer.gui.layers.label_overlay import LabelOverlay, LabelOverlayControls
from medsr_viewer.gui.layers.roi_tools import RoiTools
from medsr_viewer.gui.services.settings import RecentFiles
from medsr_viewer.gui.session.session_controller import SessionController
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.model_picker import IMAGE_TASKS
from medsr_viewer.gui.views.readout import format_window, position_text, slice_text
from medsr_viewer.gui.views.study_viewer import Layout, StudyViewer
from medsr_viewer.gui.views.volume_bar import VolumeBar
from medsr_viewer.gui.workers import threads
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.gui.workers.notice_bridge import NoticeBridge
from medsr_viewer.gui.workers.study_loader import (
    LoadedStudy,
    LoadRequest,
    StudyLoader,
    study_source,
)
from medsr_viewer.models.registry import MODEL_SUFFIXES, ModelRegistry, describe

#: File-dialog filter of the formats the loader reads (DICOM files often lack an extension).
OPEN_FILTER = (
    "Studies (*.dcm *.DCM *.ima *.nii *.nii.gz *.mgz *.png *.tif *.tiff *.jpg *.jpeg);;"
    "All files (*)"
)
#: Combo-box entry shown when the window matches no named preset (after a right-drag).
CUSTOM_WINDOW = "custom"
#: The window label of a colour image, which is shown as it is (no window/level).
COLOUR_WINDOW_TEXT = "Colour: window/level off; models use the luminance"
ORIENTATION_KEYS = {Orientation.AXIAL: "1", Orientation.CORONAL: "2", Orientation.SAGITTAL: "3"}


class MainWindow(QMainWindow):
    """The MedSR Viewer window: menus, toolbar, study area, readout and loading progress.

    Parameters
    ----------
    settings
        Where recent files are stored (the user's settings file when omitted).
    worker
        The thread that runs models for the before/after panel (default: a new one on the
        ``auto`` device with the bundled and user models).
    registry
        Where the model picker lists models (default: bundled and user folders).
    view_model
        The view state the window renders (default: a new one); scripts and tests may drive
        the window by writing to it.
    """

    def __init__(
        self,
        settings: QSettings | None = None,
        worker: InferenceWorker | None = None,
        registry: ModelRegistry | None = None,
        view_model: ViewModel | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.recent = RecentFiles(settings)
        self.loader = StudyLoader(self)
        #: The view state every pane renders (Qt-free, core.view_model).
        self.view_model = view_model if view_model is not None else ViewModel()
        self.viewer = StudyViewer(self.view_model, self)
        self.series_dialog: SeriesPickerDialog | None = None
        #: Asked before any model file that can run code is used (once per file content).
        self.trust_prompt = TrustPrompt(self)
        self._paths: tuple[Path, ...] = ()
        #: Every volume of the series read from disk, showing the last real volume shown
        #: (core state; the viewer shows its ``shown`` volume unless one made in memory).
        self._source_study: Study | None = None
        self._hover: tuple[Orientation, np.ndarray | None] | None = None
        #: What the SR pane shows under the mouse ("consistency -3.2"), while it is hovered.
        self._sr_hover_text = ""
        #: Windows with a name (presets applied so far, the default), to label the combo box.
        self._named_windows: dict[str, Window] = {}

        self.error_banner = MessageBanner("error", self)
        self.warning_banner = MessageBanner("warning", self)
        self.placeholder = QLabel(
            "Open a study: File ▸ Open (Ctrl+O), Open Folder (Ctrl+Shift+O), "
            "drop files or a folder here, or File ▸ Open Demo Study.",
            self,
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.compare = ComparePanel(self.viewer, worker, registry, self)
        #: Warnings from background work (out-of-distribution study, CPU fallback) -> banner.
        self.notices = NoticeBridge(self.compare.worker.notifier, self)
        self.notices.posted.connect(self._on_notice)
        self.label_overlay = LabelOverlay(self.viewer, self.compare)
        #: The ROI document of the open study, its undo history and the undoable editor
        #: (core, Qt-free): the ROI tools edit through ``roi_editor``; the metrics panel,
        #: exports and the session read ``rois``.
        self.history = History()
        self.rois = RoiSet()
        self.roi_editor = RoiEditor(self.rois, self.history)
        study_area = QWidget(self)
        row = QHBoxLayout(study_area)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        original_column = QWidget(study_area)
        original_layout = QVBoxLayout(original_column)
        original_layout.setContentsMargins(0, 0, 0, 0)
        original_layout.setSpacing(0)
        original_layout.addWidget(self.compare.original_label)
        original_layout.addWidget(self.viewer, 1)
        self.compare.original_column = original_column
        row.addWidget(original_column, 1)
        row.addWidget(self.compare, 1)
        self.study_area = study_area
        self.stack.addWidget(study_area)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.error_banner)
        column.addWidget(self.warning_banner)
        column.addWidget(self.stack, 1)
        #: Volume slider / spin box / label / kind of image of a 4-D study (hidden for 3-D).
        self.volume_bar = VolumeBar(self)
        self.volume_bar.volumeRequested.connect(self.set_volume)
        self.volume_bar.stepRequested.connect(self.step_volume)
        self.volume_bar.groupRequested.connect(self.set_volume_group)
        column.addWidget(self.volume_bar)
        self.setCentralWidget(central)

        self.references = ReferenceActions(self, lambda: self.viewer.volume, self.show_volume,
                                           lambda: self.compare.model_scale(), self.show_error)
        self.metrics_panel = MetricsPanel(
            self.rois, self.viewer, self.compare, self.active_label_map,
            lambda: context_record(self._paths, self.viewer.volume),
            lambda: self.references.reference, self)
        self.references.changed.connect(self.metrics_panel.reference_changed)
        self.layer_comparison = LayerComparison(
            lambda: [(layer.name, layer.label_map) for layer in self.label_overlay.layers],
            lambda: (self.viewer.active_orientation,
                     self.viewer.slice_index(self.viewer.active_orientation)),
            lambda: context_record(self._paths, self.viewer.volume), self.metrics_panel)
        self.metrics_panel.add_section(self.layer_comparison, lambda: self.layer_comparison.rows)
        self.label_overlay.changed.connect(self.layer_comparison.refresh)
        self.metrics_dock = QDockWidget("ROI Metrics", self)
        self.metrics_dock.setObjectName("metricsDock")
        self.metrics_dock.setWidget(self.metrics_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.metrics_dock)
        # hidden until the first ROI: the images get the whole window until there is a table
        self.metrics_dock.hide()
        self._metrics_shown_once = False
        self.rois.subscribe(lambda _id: self._show_metrics_once())
        self.roi_files = RoiFileActions(self, self.roi_editor, self.metrics_panel,
                                        self.show_error)
        self.session = SessionController(self)
        column.insertWidget(2, self.session.recovery_bar)

        self._build_status_bar()
        self._build_actions()
        # ROI tools (issue #4): drawing/editing on every pane, Edit menu, Tools menu, toolbar.
        self.roi_tools = RoiTools(
            self, [*self.viewer.views.values(), self.compare.sr_view], self.roi_editor
        )
        self.roi_tools.selectionChanged.connect(self.metrics_panel.select_roi)
        self.metrics_panel.roiActivated.connect(self.roi_tools.select)
        self._build_menus_and_toolbar()
        # Label layers (issue #4): the "Labels" dock and the Segmentation menu.
        self.label_dock = LabelDock(self.label_overlay, self.compare.worker,
                                    self.compare.model_picker.registry, self.show_error, self,
                                    self.trust_prompt)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.label_dock)
        self.menuBar().addMenu(self.label_dock.menu)

        self.loader.progress.connect(self._on_progress)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self.show_error)
        self.loader.cancelled.connect(self._on_cancelled)
        self.loader.seriesFound.connect(self._on_series_found)
        self.loader.busy.connect(self._on_busy)
        self.viewer.cursorChanged.connect(lambda _c: self._update_readout())
        self.viewer.windowChanged.connect(self._on_window_changed)
        self.viewer.activeViewChanged.connect(lambda _o: self._update_readout())
        self.viewer.hoverChanged.connect(self._on_hover)
        self.compare.hovered.connect(self._on_sr_hover)
        self.compare.errorOccurred.connect(self.show_error)
        self.label_overlay.changed.connect(self.metrics_panel.rebuild_label_choices)
        self.label_overlay.changed.connect(self.session.note_edit)
        self.view_model.subscribe("study", lambda: self.stack.setCurrentWidget(
            self.study_area if self.view_model.display is not None else self.placeholder))
        self.view_model.subscribe("compare", lambda: self.sr_action.setChecked(
            self.view_model.compare.enabled))
        self.resize(1200, 800)
        self._update_enabled()

    # ---------------------------------------------------------------- construction

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.readout_label = QLabel(self)
        self.readout_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.readout_label, 1)
        self.window_label = QLabel(self)
        bar.addPermanentWidget(self.window_label)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        bar.addPermanentWidget(self.progress_bar)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop loading")
        self.cancel_button.clicked.connect(self.loader.cancel)
        self.cancel_button.hide()
        bar.addPermanentWidget(self.cancel_button)

    def _action(
        self,
        text: str,
        shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
        slot: Callable[..., object] | None = None,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even when the menus are hidden
        return action

    def _build_actions(self) -> None:
        self.open_file_action = self._action(
            "&Open File…",
            QKeySequence.StandardKey.Open,
            self.open_file_dialog,
            tip="Open a NIfTI, DICOM or image file (several DICOM files: one series)",
        )
        self.open_folder_action = self._action(
            "Open &Folder…",
            "Ctrl+Shift+O",
            self.open_folder_dialog,
            tip="Open a folder of DICOM files",
        )
        self.open_demo_action = self._action(
            "Open &Demo Study", None, self.open_demo, tip="MNI152 T1 brain template"
        )
        self.open_model_action = self._action(
            "Open &Model File…",
            "Ctrl+M",
            self.open_model_dialog,
            tip="Add a model file with a card (.safetensors; .pt/.pt2 only if trusted) to the picker",
        )
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)

        # One choice of layout is checked: a plane (single layout) or Three Planes; with the
        # optional policy pressing 4 again unchecks Three Planes (back to the single plane).
        self.orientation_group = QActionGroup(self)
        self.orientation_group.setExclusionPolicy(
            QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.orientation_actions: dict[Orientation, QAction] = {}
        for orientation, key in ORIENTATION_KEYS.items():
            action = self._action(
                orientation.value.capitalize(),
                key,
                lambda _c=False, o=orientation: self.set_orientation(o),
                checkable=True,
                tip=f"Show the {orientation.value} plane",
            )
            self.orientation_group.addAction(action)
            self.orientation_actions[orientation] = action
        self.orientation_actions[Orientation.AXIAL].setChecked(True)
        self.three_plane_action = self._action(
            "&Three Planes",
            "4",
            self._on_three_plane_toggled,
            checkable=True,
            tip="Axial, coronal and sagittal side by side with a linked crosshair",
        )
        self.orientation_group.addAction(self.three_plane_action)
        self.reset_action = self._action(
            "&Reset View", "R", self.viewer.reset_view, tip="Fit the images, default window"
        )
        viewer = self.viewer
        self.slice_actions = [
            self._action("Next Slice", "Up", lambda: viewer.step_slice(1)),
            self._action("Previous Slice", "Down", lambda: viewer.step_slice(-1)),
            self._action("Forward 10 Slices", "PgUp", lambda: viewer.step_slice(10)),
            self._action("Back 10 Slices", "PgDown", lambda: viewer.step_slice(-10)),
            self._action("First Slice", "Home", lambda: viewer.go_to_end(last=False)),
            self._action("Last Slice", "End", lambda: viewer.go_to_end(last=True)),
        ]
        self.preset_actions: dict[str, QAction] = {}
        self.label_controls = LabelOverlayControls(self.label_overlay, self, self.show_error)
        self.sr_action = self._action(
            "&Super-Resolution",
            "S",
            self.set_sr_enabled,
            checkable=True,
            tip="Show the model's result of the current slice beside the original",
        )

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_file_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self._rebuild_recent_menu()
        file_menu.addAction(self.open_demo_action)
        file_menu.addAction(self.open_model_action)
        file_menu.addAction(self.label_controls.open_action)
        file_menu.addAction(self.label_controls.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.session.open_action)
        file_menu.addAction(self.session.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.roi_files.import_rois_action)
        file_menu.addAction(self.roi_files.export_rois_action)
        file_menu.addAction(self.roi_files.export_metrics_action)
        file_menu.addSeparator()
        file_menu.addAction(self.references.open_action)
        file_menu.addAction(self.references.simulate_action)
        file_menu.addAction(self.references.clear_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        menu.addMenu(self.roi_tools.edit_menu)  # ROI tools: Undo/Redo/Delete ROI

        view_menu = menu.addMenu("&View")
        for action in self.orientation_actions.values():
            view_menu.addAction(action)
        view_menu.addAction(self.three_plane_action)
        view_menu.addSeparator()
        view_menu.addAction(self.reset_action)
        view_menu.addAction(self.sr_action)
        view_menu.addAction(self.label_controls.toggle_action)
        view_menu.addAction(self.label_controls.style_action)
        metrics_toggle = self.metrics_dock.toggleViewAction()
        metrics_toggle.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.addAction(metrics_toggle)
        view_menu.addAction(metrics_toggle)
        view_menu.addSeparator()
        for action in self.slice_actions:
            view_menu.addAction(action)
        view_menu.addSeparator()
        for action in self.volume_bar.actions_list:
            view_menu.addAction(action)
        menu.addMenu(self.roi_tools.tools_menu)  # ROI tools
        self.window_menu = menu.addMenu("&Window")

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.addAction(self.open_file_action)
        toolbar.addAction(self.open_folder_action)
        toolbar.addSeparator()
        for action in self.orientation_actions.values():
            toolbar.addAction(action)
        toolbar.addAction(self.three_plane_action)
        toolbar.addAction(self.reset_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Window: ", self))
        self.preset_combo = QComboBox(self)
        self.preset_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preset_combo.setToolTip("Window/level preset (right-drag on the image to adjust)")
        self.preset_combo.textActivated.connect(self.apply_preset)
        toolbar.addWidget(self.preset_combo)
        self._rebuild_presets("OT", False)
        # Two rows that fit the default 1200 px width without an overflow menu: files, planes,
        # window and labels; then super-resolution (model, mode, interpolation, progress) and
        # the ROI tools. The SR button says "SR" (the View menu says "Super-Resolution").
        self.addToolBar(self.label_controls.toolbar)
        self.addToolBarBreak()
        sr_toolbar = self.addToolBar("Super-resolution")
        sr_toolbar.setObjectName("srToolbar")
        self.sr_action.setIconText("SR")
        sr_toolbar.addAction(self.sr_action)
        sr_toolbar.addWidget(self.compare.model_picker)
        sr_toolbar.addWidget(self.compare.mode_combo)
        sr_toolbar.addWidget(QLabel(" Original: ", self))
        sr_toolbar.addWidget(self.compare.interp_combo)
        sr_toolbar.addWidget(self.compare.device_label)
        sr_toolbar.addWidget(self.compare.progress_bar)
        self.addToolBar(self.roi_tools.toolbar)

    def _rebuild_presets(self, modality: str, has_stored: bool) -> None:
        for action in self.preset_actions.values():
            self.removeAction(action)
            action.deleteLater()
        self.preset_actions.clear()
        self.window_menu.clear()
        self.preset_combo.clear()
        self.preset_combo.addItem(CUSTOM_WINDOW)
        for number, name in enumerate(presets_for(modality, has_stored)):
            action = self._action(
                name.capitalize(), f"Ctrl+{number}", lambda _c=False, n=name: self.apply_preset(n)
            )
            self.window_menu.addAction(action)
            self.preset_actions[name] = action
            self.preset_combo.addItem(name)
        self._named_windows = {n: w for n, w in CT_PRESETS.items() if n in self.preset_actions}

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_paths([p]))
        if paths:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", self._clear_recent)
        self.recent_menu.setEnabled(bool(paths))

    def _clear_recent(self) -> None:
        self.recent.clear()
        self._rebuild_recent_menu()

    # ---------------------------------------------------------------- opening

    def open_file_dialog(self) -> None:
        """Ask for one or more files and open them (several files = one series)."""
        files, _ = QFileDialog.getOpenFileNames(self, "Open study", "", OPEN_FILTER)
        if files:
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        """Ask for a folder (searched recursively for DICOM series) and open it."""
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if folder:
            self.open_paths([folder])

    def open_model_dialog(self) -> None:
        """Ask for a model file and add it to the model picker (see :meth:`open_model`)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model file", "", "Model files (*.safetensors *.pt *.pt2 *.ts);;All files (*)"
        )
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        """Add the model at ``path`` to the picker and select it, or show why it is refused.

        Only the card is read here (no model code runs); the worker checks the model with a
        dry run before its first real slice. A TorchScript / ``torch.export`` file, which runs
        code when loaded, is used only once trusted: :attr:`trust_prompt` asks the user,
        naming the file and its hash, unless its folder or content is trusted already.
        """
        entry = describe(Path(path))
        if entry.card is None:
            self.show_error(entry.error or f"{path}: not a model file with a card")
            return False
        if entry.card.task not in IMAGE_TASKS:
            self.show_error(
                f"{path}: model {entry.card.name!r} is a {entry.card.task!r} model; "
                f"the compare view runs {' or '.join(IMAGE_TASKS)} models"
            )
            return False
        if not self.trust_prompt.allow(path):
            self.show_error(self.trust_prompt.last_problem)
            return False
        self.compare.model_picker.add_path(path)
        self.statusBar().showMessage(f"Model {entry.card.name} added", 5000)
        return True

    def open_label_map(self, path: str | Path) -> bool:
        """Overlay a label map file on the study shown; ``False`` (and the banner) if not."""
        return self.label_controls.open_label_map(path)

    def open_demo(self) -> None:
        """Open the built-in demo study (needs the ``demo`` extra)."""
        try:
            path = demo_study_path()
        except DemoUnavailable as exc:
            self.show_error(str(exc))
            return
        self.open_paths([path])

    def open_paths(
        self,
        paths: Sequence[str | Path],
        series_uid: str | None = None,
        series: SeriesInfo | None = None,
    ) -> None:
        """Load files/folders in the background; the current study stays until it is ready.

        ``series_uid`` or ``series`` picks one series of a folder holding several (otherwise
        the user is asked).
        """
        if not paths:
            return
        self.error_banner.hide()
        self._paths = tuple(Path(p) for p in paths)
        self.loader.start(self._paths, series_uid, series)

    def _on_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress_bar.setRange(0, 0)  # indeterminate until the first report
            self.statusBar().showMessage(f"Opening {self._source_name()}…")

    def _on_progress(self, phase: str, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{phase} {done}/{total}")

    def _on_cancelled(self) -> None:
        self.statusBar().showMessage("Loading cancelled", 5000)

    def _on_series_found(self, request: LoadRequest, series: list) -> None:
        dialog = SeriesPickerDialog(series, self._source_name(request.paths), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.series_dialog = dialog

        def chosen(result: int) -> None:
            self.series_dialog = None
            info = dialog.selected_series()
            if result == SeriesPickerDialog.DialogCode.Accepted and info is not None:
                self.open_paths(request.paths, series=info)
            else:
                self.statusBar().showMessage("No series opened", 5000)

        dialog.finished.connect(chosen)
        dialog.open()  # window-modal but asynchronous: the event loop keeps running

    def _on_loaded(self, study: LoadedStudy, same_subject: bool = False) -> None:
        """Show a loaded study; ``same_subject`` (a derived view of the same study, e.g.
        simulate mode) keeps the ROIs, label layers and session."""
        if not same_subject:
            self.session.before_study_change()
        volume = study.display.volume
        self._rebuild_presets(volume.modality, volume.window is not None)
        self._named_windows[study.window_name] = study.window
        if self.compare.enabled:
            self.set_sr_enabled(False)
        if not same_subject:
            self.label_overlay.clear()
            self.roi_tools.reset()  # another study: no ROIs, no history
            self._source_study = study.study if study.study is not None else Study.of(volume)
        elif study.study is not None:
            self._source_study = study.study
        self.viewer.set_study(study.display, study.window)
        self._show_volume_state()
        if same_subject:
            self.label_overlay.regrid()  # every layer re-sampled from its own grid
        self.references.study_changed(volume, same_subject)
        self.stack.setCurrentWidget(self.study_area)
        self.viewer.set_layout_mode(self.viewer.layout_mode)
        only = self._only_plane()
        if only is not None and (self.viewer.layout_mode != Layout.SINGLE
                                 or self.viewer.orientation != only):
            self.set_orientation(only)  # a 2-D image has one plane to show
        self.setWindowTitle(f"{APP_TITLE} — {volume.name or self._source_name()}")
        shape = "×".join(str(n) for n in volume.shape[::-1])
        self.statusBar().showMessage(
            f"Opened {volume.name or self._source_name()} ({volume.modality}, {shape})", 5000
        )
        if volume.warnings:
            n = len(volume.warnings)
            self.warning_banner.show_messages(
                f"{n} warning{'s' if n > 1 else ''} while loading: {volume.warnings[0]}",
                volume.warnings,
            )
        else:
            self.warning_banner.hide()
        source = study_source(study.paths)
        if source is not None:
            self.recent.add(source)
        self._update_enabled()
        self._update_readout()
        self.metrics_panel.reset()
        self.layer_comparison.clear()
        if not same_subject:
            self.session.study_loaded(tuple(study.paths),
                                      str(volume.metadata.get("series_uid", "")))

    def _show_metrics_once(self) -> None:
        if not self._metrics_shown_once and len(self.rois):
            self._metrics_shown_once = True
            self.metrics_dock.show()

    def show_volume(self, volume: Volume) -> None:
        """Show a volume made in memory from the open study (the simulated LR study, or the
        real study again) in its place, keeping ROIs, label layers and the session."""
        name, window = default_preset(volume)
        before = self.viewer.display
        world = None if before is None else before.canonical_to_world(self.viewer.cursor_point)
        display = DisplayVolume(volume)
        located = None if self._source_study is None else self._source_study.locate(volume)
        self._on_loaded(LoadedStudy(display, window, self._paths, name, located),
                        same_subject=True)
        if world is not None:  # stay at the same place in the patient
            canonical = np.linalg.solve(display.affine, np.append(world, 1.0))[:3][::-1]
            self.viewer.set_cursor(np.rint(canonical))

    # ---------------------------------------------------------------- volumes of a 4-D study

    @property
    def study(self) -> Study | None:
        """The series shown, all its volumes (``study.shown`` is on screen); ``None`` when no
        study is open or the volume shown was made in memory (simulate mode)."""
        source, volume = self._source_study, self.viewer.volume
        return source if source is not None and volume is source.shown else None

    def set_volume(self, index: int) -> None:
        """Show volume ``index`` (0-based, clamped) of the shown kind of image of a 4-D study;
        the slices, zoom/pan and window stay, models run on the new volume."""
        study = self.study
        if study is not None:
            self._show_study(study.step(int(index) - study.shown_index))

    def step_volume(self, delta: int) -> None:
        """Show the volume ``delta`` places on (clamped at the first and last)."""
        study = self.study
        if study is not None:
            self._show_study(study.step(delta))

    def set_volume_group(self, group: int) -> None:
        """Show another kind of image of the series (magnitude, phase, field map ...) at its
        own default window; same volume index when it has one."""
        study = self.study
        if study is not None and 0 <= group < len(study.groups):
            self._show_study(study.show_group(group))

    def volume_state(self) -> dict[str, object]:
        """Which volume of the series is shown, for the session (empty for a 3-D study)."""
        return {} if self._source_study is None else self._source_study.view_state()

    def restore_volume_state(self, state: dict[str, object]) -> str:
        """Show the volume a session recorded (see :meth:`volume_state`); returns a problem
        ("" when restored or nothing to restore)."""
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
        """Show ``target``'s volume in place of the shown one of the same series."""
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
            self._named_windows[name] = window
        self._source_study = target
        self.viewer.replace_display(DisplayVolume(volume), target.shown_label(), window)
        self._show_volume_state()
        self.metrics_panel.reset()  # ROI statistics of the volume shown now
        self._update_readout()

    def _show_volume_state(self) -> None:
        study = self.study
        self.volume_bar.show_study(study)
        self.viewer.set_volume_caption("" if study is None else study.shown_label())

    # ---------------------------------------------------------------- layers and models

    def active_label_map(self) -> LabelMap | None:
        """The label map ROIs are compared with (on the study grid), or ``None``."""
        return self.label_overlay.active_label_map()

    def label_layer_refs(self) -> list[LabelMapRef]:
        """The label layers as session entries (file-backed layers only)."""
        refs = self.label_overlay.snapshot()
        for problem in self.label_overlay.snapshot_problems:
            self.statusBar().showMessage(problem, 8000)
        return refs

    def restore_label_layers(self, refs: Sequence[LabelMapRef]) -> list[str]:
        """Show the label layers of a session; returns what could not be restored.

        No references leaves the current layers as they are.
        """
        if not refs:
            return []
        problems = self.label_overlay.restore(list(refs))
        if self.label_overlay.layers and not self.label_controls.toggle_action.isChecked():
            self.label_controls.toggle_action.setChecked(True)
        return problems

    def select_model(self, path: str | Path) -> bool:
        """Choose the model at ``path`` in the picker (adding it if needed); ``False`` if absent."""
        picker = self.compare.model_picker
        wanted = Path(path).resolve()
        for index in range(picker.count()):
            if Path(str(picker.itemData(index))).resolve() == wanted:
                picker.setCurrentIndex(index)
                return True
        return self.open_model(path) if Path(path).is_file() else False

    def _on_notice(self, level: str, message: str) -> None:
        """A warning posted by background work: the yellow banner (errors arrive as failures)."""
        if level == "warning":
            self.warning_banner.show_messages(message, [message])

    def show_error(self, message: str) -> None:
        """Report a problem without blocking: status bar plus the error banner."""
        self.statusBar().showMessage(message, 15000)
        self.error_banner.show_messages(message, [message])

    def as_widget(self) -> QWidget:
        """The window itself (the session controller's view of it, ``SessionHost``)."""
        return self

    def _source_name(self, paths: Sequence[Path] | None = None) -> str:
        paths = self._paths if paths is None else paths
        if not paths:
            return ""
        return str(paths[0]) if len(paths) == 1 else f"{len(paths)} files in {paths[0].parent}"

    # ---------------------------------------------------------------- drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept local files and folders."""
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and all(u.isLocalFile() for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open what was dropped: model files go to the model picker (through the trust
        question for files that can run code), anything else is a study (several files are
        taken as one series)."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        models = [p for p in paths if Path(p).suffix.lower() in MODEL_SUFFIXES]
        for path in models:
            self.open_model(path)
        studies = [p for p in paths if p not in models]
        if studies:
            self.open_paths(studies)

    # ---------------------------------------------------------------- view controls

    def set_sr_enabled(self, enabled: bool) -> None:
        """Switch the before/after comparison (single-plane layout) on or off."""
        if enabled and self.viewer.layout_mode != Layout.SINGLE:
            self.set_three_plane(False)
        problem = self.compare.set_enabled(enabled)
        if problem:
            self.show_error(problem)
        self.sr_action.setChecked(self.view_model.compare.enabled)

    def set_orientation(self, orientation: Orientation) -> None:
        """Single-plane layout showing ``orientation``."""
        self.viewer.set_orientation(orientation)
        self.orientation_actions[Orientation(orientation)].setChecked(True)  # unchecks 4
        if self.compare.enabled:
            self.compare.set_enabled(True)  # compare the new plane
        self._update_readout()

    def set_three_plane(self, enabled: bool) -> None:
        """Switch the three-plane layout on or off."""
        if enabled and self.compare.enabled:
            self.set_sr_enabled(False)
        if enabled:
            self.three_plane_action.setChecked(True)  # the group unchecks the plane
        else:
            self.orientation_actions[self.viewer.orientation].setChecked(True)
        self.viewer.set_layout_mode(Layout.THREE_PLANE if enabled else Layout.SINGLE)
        self._update_readout()

    def _on_three_plane_toggled(self, checked: bool) -> None:
        self.set_three_plane(checked)

    def apply_preset(self, name: str) -> None:
        """Apply a window preset by name (``auto`` or a CT preset)."""
        if self.viewer.display is None or name not in self.preset_actions:
            return
        self._named_windows[name] = self.viewer.preview_preset(name)
        self.viewer.set_window(self._named_windows[name])

    def _only_plane(self) -> Orientation | None:
        """The one plane of a one-slice study (a 2-D image), else ``None``.

        The other planes of such a study are one pixel thick: not worth a pane.
        """
        display = self.viewer.display
        if display is None:
            return None
        flat = [o for o in Orientation if display.n_slices(o) == 1]
        return flat[0] if len(flat) == 1 else None

    def _update_enabled(self) -> None:
        display = self.viewer.display
        has_study = display is not None
        for action in [*self.slice_actions, self.reset_action]:
            action.setEnabled(has_study)
        windowed = display is not None and not display.is_colour  # colour: shown as it is
        for action in self.preset_actions.values():
            action.setEnabled(windowed)
        self.preset_combo.setEnabled(windowed)
        only = self._only_plane()
        for orientation, action in self.orientation_actions.items():
            action.setEnabled(only is None or orientation == only)
        self.three_plane_action.setEnabled(only is None)

    # ---------------------------------------------------------------- readout

    def _on_hover(self, orientation: Orientation, canonical: np.ndarray | None) -> None:
        self._hover = (orientation, canonical)
        self._sr_hover_text = ""
        self._update_readout()

    def _on_sr_hover(self, canonical: np.ndarray | None, text: str) -> None:
        """The mouse over the SR pane: its voxel, and the SR value or map value there."""
        self._hover = (self.compare.orientation, canonical)
        self._sr_hover_text = text
        self._update_readout()

    def readout_text(self) -> str:
        """The readout line: slice n/N, voxel, world mm and value under the mouse."""
        display = self.viewer.display
        if display is None:
            return ""
        orientation = self.viewer.active_orientation
        canonical = None
        if self._hover is not None and self._hover[1] is not None:
            orientation, hovered = self._hover
            # the mouse stays on the same pixel of its pane while the pane pages through
            # slices (wheel, keys): read the voxel of the slice shown now, not the one hovered
            canonical = np.array(hovered, dtype=np.float64)
            canonical[PLANE_AXES[orientation].slice_axis] = self.viewer.slice_index(orientation)
        parts = [
            slice_text(
                orientation, self.viewer.slice_index(orientation), display.n_slices(orientation)
            )
        ]
        position = position_text(display, canonical)
        if position:
            parts.append(position)
        if self._sr_hover_text:
            parts.append(self._sr_hover_text)
        return "  |  ".join(parts)

    def _update_readout(self) -> None:
        self.readout_label.setText(self.readout_text())
        if self.viewer.display is not None:
            self.window_label.setText(COLOUR_WINDOW_TEXT if self.viewer.display.is_colour
                                      else format_window(self.viewer.display_window))

    def _on_window_changed(self, window: Window) -> None:
        name = next((n for n, w in self._named_windows.items() if w == window), CUSTOM_WINDOW)
        self.preset_combo.setCurrentIndex(max(self.preset_combo.findText(name), 0))
        self._update_readout()

    # ---------------------------------------------------------------- shutdown

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop and wait for every background thread before the window goes away."""
        self.session.flush()
        self.notices.close()
        self.metrics_panel.shutdown()
        self.loader.shutdown()
        self.compare.shutdown()
        threads.stop_all()
        super().closeEvent(event)
