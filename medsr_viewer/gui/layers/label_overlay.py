"""Label layers drawn over every pane: the three study panes and the SR pane.

Each layer (:class:`~medsr_viewer.core.labels.LabelLayer`) is resampled once (nearest
neighbour, world space) onto the study's grid, then reoriented for display exactly like the
study (:class:`~medsr_viewer.core.geometry.DisplayVolume` of the same affine), so display pixel
``(row, col)`` of slice ``k`` of the labels is the same voxel as that of the image. Each pane
gets one RGBA ``ImageItem`` over the image, on the image's rectangle, holding the visible
layers composited bottom (first) to top (last), redrawn whenever the pane shows another slice.

The SR pane (``ComparePanel.sr_view``) shows the slice on a grid ``scale`` times finer over
the same view rectangle; the labels are drawn there upsampled to that grid (every fine pixel
inside one original pixel), so they line up with the anatomy and outlines are one *fine* pixel
wide. Side-by-side, swipe and difference modes all keep the overlay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSlider, QToolBar

from medsr_viewer.core.config_dir import config_dir
from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import (
    LabelLayer,
    LabelMap,
    LabelMapError,
    OverlayStyle,
    composite,
    is_dicom_study,
    load_label_file,
    save_label_layer,
    store_label_map,
    upsample_labels,
)
from medsr_viewer.core.labels.layer import DEFAULT_OPACITY
from medsr_viewer.core.labels.render import render_labels
from medsr_viewer.core.messages import naming_file
from medsr_viewer.core.session import LabelMapRef
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer

#: Drawn above the image (z 0) and the SR image (5), below the crosshair (20) and letters (30).
OVERLAY_Z = 10.0
#: Folder (under the user config folder) where layers without a file are kept for sessions.
LAYER_STORE = "label_layers"


def label_rgba(labels: np.ndarray, lut: np.ndarray, opacity: float) -> np.ndarray:
    """RGBA ``uint8`` image of a 2-D label slice through a colour table (fill style).

    Kept for callers of the one-layer overlay; see
    :func:`medsr_viewer.core.labels.render_labels` for the outline styles.
    """
    return render_labels(labels, lut, opacity, OverlayStyle.FILL)


class LabelOverlay(QObject):
    """The label layers of a :class:`StudyViewer` (and the compare panel's SR pane).

    One layer is *active*: the one the label list shows, the opacity slider and style act on,
    and :meth:`active_label_map` returns (for metrics, export and sessions).

    Parameters
    ----------
    viewer
        The study viewer whose panes get the overlay.
    compare
        The compare panel whose SR pane (``sr_view``) also gets it (optional).

    Signals
    -------
    changed()
        Layers were added or removed, the active layer changed, or a layer's labels, names,
        colours, visibility, opacity or style changed.
    """

    changed = Signal()

    def __init__(self, viewer: StudyViewer, compare: object | None = None) -> None:
        super().__init__(viewer)
        self._viewer = viewer
        self._compare = compare
        self._layers: list[LabelLayer] = []
        self._displays: dict[LabelLayer, DisplayVolume] = {}
        #: Each layer's labels on their own grid (as loaded or last edited), for :meth:`regrid`.
        self._natives: dict[LabelLayer, LabelMap] = {}
        self._active = -1
        self._visible = True
        #: Messages of the last :meth:`snapshot` (layers it could not store).
        self.snapshot_problems: list[str] = []
        #: Increased whenever a label table is edited or replaced (for views of the table).
        self.table_revision = 0
        self.items: dict[Orientation, pg.ImageItem] = {}
        for orientation, view in viewer.views.items():
            item = pg.ImageItem(axisOrder="row-major")
            item.setVisible(False)
            view.add_overlay(item, OVERLAY_Z)
            self.items[orientation] = item
            # setImage on the pane's image fires for slice changes and new studies alike.
            view.image_item.sigImageChanged.connect(lambda o=orientation: self._redraw(o))
        #: The overlay item of the SR pane (``None`` without a compare panel).
        self.sr_item: pg.ImageItem | None = None
        sr_view = self.sr_view
        if sr_view is not None:
            self.sr_item = pg.ImageItem(axisOrder="row-major")
            self.sr_item.setVisible(False)
            sr_view.add_overlay(self.sr_item, OVERLAY_Z)
            sr_view.image_item.sigImageChanged.connect(self.redraw_sr)
            for signal_name in ("srReady", "progressChanged"):
                signal = getattr(compare, signal_name, None)
                if signal is not None:
                    signal.connect(lambda *_a: self.redraw_sr())
            picker = getattr(compare, "model_picker", None)
            if picker is not None:
                picker.currentIndexChanged.connect(lambda *_a: self.redraw_sr())

    # ---------------------------------------------------------------- state

    @property
    def viewer(self) -> StudyViewer:
        """The study viewer the layers belong to."""
        return self._viewer

    @property
    def sr_view(self) -> SliceView | None:
        """The compare panel's SR pane, or ``None``."""
        view = getattr(self._compare, "sr_view", None)
        return view if isinstance(view, SliceView) else None

    @property
    def layers(self) -> tuple[LabelLayer, ...]:
        """All layers, bottom (drawn first) to top."""
        return tuple(self._layers)

    @property
    def active_index(self) -> int:
        """Index of the active layer in :attr:`layers` (-1 when there is none)."""
        return self._active

    @property
    def active_layer(self) -> LabelLayer | None:
        """The active layer, or ``None``."""
        return self._layers[self._active] if 0 <= self._active < len(self._layers) else None

    @property
    def active_layer_name(self) -> str:
        """Name of the active layer ("" when there is none)."""
        layer = self.active_layer
        return layer.name if layer is not None else ""

    def active_label_map(self) -> LabelMap | None:
        """The active layer's labels on the study grid, with its (edited) table, or ``None``."""
        layer = self.active_layer
        if layer is None:
            return None
        return LabelMap(layer.label_map.volume, layer.table, layer.name, layer.source)

    @property
    def label_map(self) -> LabelMap | None:
        """The active layer's label map (on the study's grid), or ``None``."""
        layer = self.active_layer
        return layer.label_map if layer is not None else None

    @property
    def visible(self) -> bool:
        """Whether the overlay is drawn at all (``O``); each layer also has its own flag."""
        return self._visible

    @property
    def opacity(self) -> float:
        """Opacity ``0 .. 1`` of the active layer (the default for new layers if none)."""
        layer = self.active_layer
        return layer.opacity if layer is not None else DEFAULT_OPACITY

    @property
    def style(self) -> OverlayStyle:
        """Style of the active layer (fill when there is none)."""
        layer = self.active_layer
        return layer.style if layer is not None else OverlayStyle.FILL

    # ---------------------------------------------------------------- layers

    def add_layer(
        self,
        label_map: LabelMap,
        name: str | None = None,
        *,
        source: Path | None = None,
        model: str = "",
        activate: bool = True,
    ) -> LabelLayer:
        """Resample ``label_map`` onto the study's grid and add it on top as a new layer.

        ``source`` is the file it came from (default ``label_map.source``; ``None`` for model
        output), ``model`` the model that made it. The new layer becomes active unless
        ``activate`` is false.

        Raises
        ------
        RuntimeError
            When no study is shown (there is no grid to put the labels on).
        """
        study = self._viewer.volume
        if study is None:
            raise RuntimeError("open a study before a label map")
        on_grid = label_map.on_grid(study)
        layer = LabelLayer(
            on_grid,
            name or label_map.name or "labels",
            source=source if source is not None else label_map.source,
            model=model,
        )
        self._layers.append(layer)
        self._displays[layer] = DisplayVolume(on_grid.volume)
        self._natives[layer] = label_map
        if activate or self._active < 0:
            self._active = len(self._layers) - 1
        self._changed()
        return layer

    def remove_layer(self, index: int) -> None:
        """Remove layer ``index``; the active layer stays active if it is another one."""
        if not 0 <= index < len(self._layers):
            return
        layer = self._layers.pop(index)
        self._displays.pop(layer, None)
        self._natives.pop(layer, None)
        if self._active >= len(self._layers) or index < self._active:
            self._active -= 1
        if self._active < 0 and self._layers:
            self._active = 0
        self._changed()

    def set_active(self, index: int) -> None:
        """Make layer ``index`` the active one."""
        if 0 <= index < len(self._layers) and index != self._active:
            self._active = index
            self._changed()

    def clear(self) -> None:
        """Remove every layer (e.g. when another study is opened)."""
        if self._layers:
            self._layers.clear()
            self._displays.clear()
            self._natives.clear()
            self._active = -1
            self._changed()

    def set_label_map(self, label_map: LabelMap | None) -> None:
        """Show only ``label_map`` (``None`` removes every layer).

        Raises
        ------
        RuntimeError
            When no study is shown.
        """
        if label_map is None:
            self.clear()
            return
        if self._viewer.volume is None:
            raise RuntimeError("open a study before a label map")
        self._layers.clear()
        self._displays.clear()
        self._natives.clear()
        self._active = -1
        self.add_layer(label_map)

    def regrid(self) -> None:
        """Put every layer on the grid of the study now shown, keeping names, colours, styles.

        For a study change within the same subject (e.g. the viewer switching between a
        study and a simulated low-resolution version of it): call it after
        ``viewer.set_study`` instead of :meth:`clear`. Each layer is resampled from its own
        grid (as loaded, or as last edited), so going to a coarser grid and back is lossless.
        """
        study = self._viewer.volume
        if study is None:
            return
        for layer in self._layers:
            on_grid = self._natives.get(layer, layer.label_map).on_grid(study)
            layer.set_grid(on_grid)
            self._displays[layer] = DisplayVolume(on_grid.volume)
        self._changed()

    def set_layer_labels(self, labels: np.ndarray, index: int | None = None) -> None:
        """Replace a layer's label array on the study grid (an edit; default: the active
        layer). The layer is then stored by :meth:`snapshot` as a file of its own."""
        layer = self._layer(index)
        if layer is None:
            return
        layer.set_labels(labels)
        self._displays[layer] = DisplayVolume(layer.label_map.volume)
        self._natives[layer] = layer.label_map
        self.table_revision += 1
        self._changed()

    def _layer(self, index: int | None) -> LabelLayer | None:
        if index is None:
            return self.active_layer
        return self._layers[index] if 0 <= index < len(self._layers) else None

    # ---------------------------------------------------------------- how layers are shown

    def set_visible(self, visible: bool) -> None:
        """Show or hide the whole overlay without forgetting the layers."""
        self._visible = bool(visible)
        self._changed()

    def set_layer_visible(self, index: int, visible: bool) -> None:
        """Show or hide one layer."""
        layer = self._layer(index)
        if layer is not None and layer.visible != bool(visible):
            layer.visible = bool(visible)
            self._changed()

    def set_opacity(self, opacity: float, index: int | None = None) -> None:
        """Set the opacity ``0 .. 1`` of a layer (default: the active one)."""
        layer = self._layer(index)
        if layer is not None:
            layer.opacity = float(np.clip(opacity, 0.0, 1.0))
            self._changed()

    def set_style(self, style: OverlayStyle | str, index: int | None = None) -> None:
        """Draw a layer (default: the active one) as ``fill``, ``outline`` or ``both``."""
        layer = self._layer(index)
        if layer is not None:
            layer.style = OverlayStyle(style)
            self._changed()

    def cycle_style(self) -> OverlayStyle:
        """Switch the active layer to the next style (fill -> outline -> both); returns it."""
        layer = self.active_layer
        if layer is None:
            return OverlayStyle.FILL
        self.set_style(layer.style.next())
        return layer.style

    def rename_layer(self, index: int, name: str) -> None:
        """Rename a layer."""
        layer = self._layer(index)
        if layer is not None and name and name != layer.name:
            layer.name = name
            self._changed()

    def update_label(self, value: int, index: int | None = None, **changes: object) -> None:
        """Change ``name``, ``color`` (r, g, b), ``visible`` or ``opacity`` of one label value
        of a layer (default: the active one); the panes are redrawn at once."""
        layer = self._layer(index)
        if layer is None:
            return
        if "color" in changes:
            r, g, b = (int(c) for c in changes["color"])  # type: ignore[attr-defined]
            changes["color"] = (r, g, b)
        layer.update_label(int(value), **changes)
        self.table_revision += 1
        self._changed()

    def slice_labels(self, orientation: Orientation, index: int | None = None) -> np.ndarray | None:
        """Label values of the slice a pane shows (display rows, cols) of a layer (default:
        the active one), or ``None``."""
        layer = self._layer(index)
        view = self._viewer.views[orientation]
        if layer is None:
            return None
        return self._slice_of(layer, view)

    def _slice_of(self, layer: LabelLayer, view: SliceView) -> np.ndarray | None:
        display = self._displays.get(layer)
        if display is None or view.display is None or display.shape != view.display.shape:
            return None
        if not 0 <= view.slice_index < display.n_slices(view.orientation):
            return None
        return display.slice_array(view.orientation, view.slice_index)

    # ---------------------------------------------------------------- sessions

    def snapshot(self) -> list[LabelMapRef]:
        """The layers as session references, bottom to top.

        Layers without a file (model output) or with edited labels are first written as NIfTI
        under ``config_dir() / "label_layers"`` (content-addressed name, written only when the
        labels changed); file layers refer to their file. Layers that cannot be written are
        left out and described in :attr:`snapshot_problems`.
        """
        self.snapshot_problems = []
        refs = []
        folder = config_dir() / LAYER_STORE
        for layer in self._layers:
            path = layer.source
            if path is None or layer.edited:
                try:
                    path = store_label_map(
                        LabelMap(layer.label_map.volume, layer.table, layer.name), folder
                    )
                except (LabelMapError, OSError) as exc:
                    self.snapshot_problems.append(f"label layer {layer.name!r}: {exc}")
                    continue
            refs.append(
                LabelMapRef(
                    str(path), layer.name, layer.visible, layer.opacity, layer.style.value,
                    layer.table.copy(),
                )
            )
        return refs

    def restore(self, refs: Sequence[LabelMapRef]) -> list[str]:
        """Replace the layers with those of a session; returns problems (one line each).

        Each reference's file is loaded and put on the study grid with its name, visibility,
        opacity, style and label table; a file that cannot be loaded is skipped and named in
        the returned list. The last restored layer becomes active.
        """
        problems: list[str] = []
        if self._viewer.volume is None:
            return ["open a study before restoring label layers"] if refs else []
        self._layers.clear()
        self._displays.clear()
        self._natives.clear()
        self._active = -1
        for ref in refs:
            try:
                label_map = load_label_file(ref.path)
                layer = self.add_layer(label_map, ref.name or None, source=Path(ref.path))
            except (LabelMapError, OSError, ValueError, MemoryError) as exc:
                problems.append(naming_file(ref.path, exc))
                continue
            layer.visible = bool(ref.visible)
            layer.opacity = float(np.clip(ref.opacity, 0.0, 1.0))
            try:
                layer.style = OverlayStyle(ref.style)
            except ValueError:
                problems.append(f"{ref.path}: unknown overlay style {ref.style!r}; using fill")
            if ref.table is not None:
                layer.set_table(ref.table.copy())
        self.table_revision += 1
        self._changed()
        return problems

    # ---------------------------------------------------------------- drawing

    def _changed(self) -> None:
        self.redraw()
        self.changed.emit()

    def redraw(self) -> None:
        """Redraw the overlay in every pane."""
        for orientation in self.items:
            self._redraw(orientation)
        self.redraw_sr()

    def pane_rgba(self, view: SliceView, scale: int = 1) -> np.ndarray | None:
        """The composited RGBA of the visible layers for the slice ``view`` shows, on a grid
        ``scale`` times finer than the study's (``None`` when nothing is drawn)."""
        if not self._visible or view.display is None:
            return None
        images = []
        for layer in self._layers:
            if not layer.visible:
                continue
            labels = self._slice_of(layer, view)
            if labels is None:
                continue
            images.append(layer.render(upsample_labels(labels, scale)))
        return composite(images)

    def _redraw(self, orientation: Orientation) -> None:
        view = self._viewer.views[orientation]
        self._draw(self.items[orientation], view, 1)

    def redraw_sr(self) -> None:
        """Redraw the overlay on the SR pane (on the model's finer grid)."""
        view = self.sr_view
        if self.sr_item is None or view is None:
            return
        if not getattr(self._compare, "enabled", False):
            self.sr_item.setVisible(False)
            return
        scale = max(int(getattr(self._compare, "scale", 1)), 1)
        self._draw(self.sr_item, view, scale)

    def _draw(self, item: pg.ImageItem, view: SliceView, scale: int) -> None:
        rgba = self.pane_rgba(view, scale)
        if rgba is None:
            item.setVisible(False)
            return
        item.setImage(np.ascontiguousarray(rgba), autoLevels=False, levels=(0, 255))
        item.setRect(view.image_rect())
        item.setVisible(True)


#: File-dialog filter for label maps.
LABEL_FILE_FILTER = (
    "Label maps (*.nii *.nii.gz *.mgz *.mgh *.dcm);;DICOM SEG (*.dcm);;All files (*)"
)
NIFTI_SAVE_FILTER = "NIfTI label map (*.nii.gz *.nii)"
SEG_SAVE_FILTER = "DICOM SEG (*.dcm)"


class LabelOverlayControls(QObject):
    """Menu actions and a toolbar for a :class:`LabelOverlay` in the main window.

    Parameters
    ----------
    overlay
        The overlay controlled.
    window
        The main window (parent of the dialogs, owner of the shortcuts).
    report_error
        Shows a message naming the file when a label map cannot be opened or saved.

    Attributes
    ----------
    open_action
        File ▸ Open Label Map… (NIfTI, MGZ, DICOM SEG): adds a layer.
    save_action
        File ▸ Save Label Map As…: the active layer as NIfTI or (DICOM study) DICOM SEG.
    toggle_action
        View ▸ Label Overlay (``O``): show/hide all layers.
    style_action
        View ▸ Cycle Label Style (``Shift+O``): fill -> outline -> both.
    opacity_slider
        Active layer's opacity in percent, in :attr:`toolbar`.
    """

    def __init__(
        self, overlay: LabelOverlay, window: QMainWindow, report_error: Callable[[str], None]
    ) -> None:
        super().__init__(window)
        self.overlay = overlay
        self._window = window
        self._report_error = report_error
        self.open_action = QAction("Open &Label Map…", window)
        self.open_action.setStatusTip(
            "Add a label layer from a file (NIfTI, MGZ, DICOM SEG) over the study"
        )
        self.open_action.triggered.connect(self.open_dialog)
        self.save_action = QAction("Save Label Map &As…", window)
        self.save_action.setStatusTip(
            "Save the active label layer as NIfTI or, for a DICOM study, DICOM SEG"
        )
        self.save_action.triggered.connect(self.save_dialog)
        self.toggle_action = QAction("&Label Overlay", window)
        self.toggle_action.setShortcut(QKeySequence("O"))
        self.toggle_action.setCheckable(True)
        self.toggle_action.setChecked(overlay.visible)
        self.toggle_action.setToolTip("Show or hide the label layers (O)")
        self.toggle_action.toggled.connect(overlay.set_visible)
        self.style_action = QAction("Cycle Label &Style", window)
        self.style_action.setShortcut(QKeySequence("Shift+O"))
        self.style_action.setToolTip("Active label layer: fill, outline, both (Shift+O)")
        self.style_action.triggered.connect(self.cycle_style)
        for action in (self.open_action, self.save_action, self.toggle_action,
                       self.style_action):
            window.addAction(action)  # shortcuts work with hidden menus
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, window)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(overlay.opacity * 100))
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.setToolTip("Opacity of the active label layer")
        self.opacity_slider.valueChanged.connect(self._on_slider)
        self.toolbar = QToolBar("Labels", window)
        self.toolbar.setObjectName("labelToolbar")
        self.toolbar.addAction(self.toggle_action)
        self.toolbar.addAction(self.style_action)
        self.toolbar.addWidget(QLabel(" Opacity: ", window))
        self.toolbar.addWidget(self.opacity_slider)
        overlay.changed.connect(self._sync)
        self._sync()

    def open_dialog(self) -> None:
        """Ask for a label map file and add it as a layer."""
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Open Label Map", "", LABEL_FILE_FILTER
        )
        if path:
            self.open_label_map(path)

    def open_label_map(self, path: str | Path) -> bool:
        """Load ``path`` (NIfTI/MGZ or DICOM SEG) as a new active layer on the study grid.

        Returns ``False`` after reporting the problem (naming the file) when there is no
        study or the file is not a readable label map; the other layers stay.
        """
        path = Path(path)
        if self.overlay.viewer.volume is None:
            self._report_error(f"{path}: open a study before a label map")
            return False
        try:
            self.overlay.add_layer(load_label_file(path), source=path)
        except RuntimeError as exc:
            self._report_error(f"{path}: {exc}")
            return False
        except (LabelMapError, OSError, ValueError, MemoryError) as exc:
            self._report_error(naming_file(path, exc))
            return False
        if not self.toggle_action.isChecked():
            self.toggle_action.setChecked(True)
        layer = self.overlay.active_layer
        assert layer is not None
        n = len(layer.present_values())
        note = "" if n else " (no labels inside the study's extent)"
        self._window.statusBar().showMessage(
            f"Label map {path.name}: {n} label{'s' if n != 1 else ''}{note}", 8000
        )
        return True

    def save_dialog(self) -> None:
        """Ask where to save the active layer (NIfTI, or DICOM SEG for a DICOM study)."""
        layer = self.overlay.active_layer
        study = self.overlay.viewer.volume
        if layer is None or study is None:
            self._report_error("No label layer to save: open or compute one first")
            return
        filters = [NIFTI_SAVE_FILTER]
        if is_dicom_study(study):
            filters.insert(0, SEG_SAVE_FILTER)
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save Label Map As", f"{layer.name}", ";;".join(filters)
        )
        if path:
            self.save_active_layer(path)

    def save_active_layer(self, path: str | Path) -> bool:
        """Write the active layer to ``path`` (``.nii.gz``/``.nii``, or ``.dcm`` DICOM SEG
        referencing the study's series), atomically, never over the study's input files.

        Returns ``False`` after reporting the problem naming the file.
        """
        layer = self.overlay.active_layer
        study = self.overlay.viewer.volume
        target = Path(path)
        if layer is None or study is None:
            self._report_error(f"{target}: no label layer to save")
            return False
        label_map = self.overlay.active_label_map()
        assert label_map is not None
        try:
            written = save_label_layer(label_map, target, study, layer.model or None)
        except (LabelMapError, OSError, ValueError) as exc:
            self._report_error(naming_file(target, exc))
            return False
        self._window.statusBar().showMessage(f"Label layer {layer.name} saved to {written}", 8000)
        return True

    def cycle_style(self) -> OverlayStyle:
        """Next style for the active layer (Shift+O); shown in the status bar."""
        style = self.overlay.cycle_style()
        if self.overlay.active_layer is not None:
            self._window.statusBar().showMessage(f"Label style: {style.value}", 3000)
        return style

    def _on_slider(self, value: int) -> None:
        if self.overlay.active_layer is not None:
            self.overlay.set_opacity(value / 100.0)

    def _sync(self) -> None:
        has_layer = self.overlay.active_layer is not None
        self.opacity_slider.setEnabled(has_layer)
        self.save_action.setEnabled(has_layer)
        self.style_action.setEnabled(has_layer)
        value = round(self.overlay.opacity * 100)
        if self.opacity_slider.value() != value:
            self.opacity_slider.blockSignals(True)
            self.opacity_slider.setValue(value)
            self.opacity_slider.blockSignals(False)
        if self.toggle_action.isChecked() != self.overlay.visible:
            self.toggle_action.setChecked(self.overlay.visible)
