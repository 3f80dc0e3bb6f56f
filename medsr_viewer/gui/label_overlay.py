"""A label map drawn as coloured, semi-transparent fill over every plane of the study viewer.

The label map is resampled once (nearest neighbour, world space) onto the study's grid, then
reoriented for display exactly like the study (:class:`~medsr_viewer.core.geometry.
DisplayVolume` of the same affine), so display pixel ``(row, col)`` of slice ``k`` of the
labels is the same voxel as that of the image. Each pane gets one RGBA ``ImageItem`` over the
image, on the image's rectangle, redrawn whenever the pane shows another slice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSlider, QToolBar

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelMap, LabelMapError, load_label_map
from medsr_viewer.gui.slice_view import SliceView
from medsr_viewer.gui.study_viewer import StudyViewer

#: Drawn above the image (z 0) and below the crosshair (20) and the letters (30).
OVERLAY_Z = 10.0
DEFAULT_OPACITY = 0.5


def label_rgba(labels: np.ndarray, lut: np.ndarray, opacity: float) -> np.ndarray:
    """RGBA ``uint8`` image of a 2-D label slice through a colour table.

    Parameters
    ----------
    labels
        Integer label values ``(rows, cols)``; values outside the table are drawn clear.
    lut
        ``(n, 4)`` ``uint8`` RGBA per label value ``0 .. n-1`` (value 0 is transparent).
    opacity
        Factor ``0 .. 1`` applied to every label's own alpha.
    """
    values = labels.astype(np.int64, copy=False)
    inside = (values >= 0) & (values < len(lut))
    rgba = lut[np.where(inside, values, 0)].copy()
    rgba[~inside] = 0
    rgba[..., 3] = np.rint(rgba[..., 3] * float(np.clip(opacity, 0.0, 1.0))).astype(np.uint8)
    return rgba


class LabelOverlay(QObject):
    """The label-map layer of a :class:`StudyViewer`: one RGBA image item per plane pane.

    Parameters
    ----------
    viewer
        The study viewer whose panes get the overlay.

    Signals
    -------
    changed()
        The label map, visibility or opacity changed.
    """

    changed = Signal()

    def __init__(self, viewer: StudyViewer) -> None:
        super().__init__(viewer)
        self._viewer = viewer
        self._label_map: LabelMap | None = None
        self._display: DisplayVolume | None = None
        self._lut = np.zeros((1, 4), np.uint8)
        self._visible = True
        self._opacity = DEFAULT_OPACITY
        self.items: dict[Orientation, pg.ImageItem] = {}
        for orientation, view in viewer.views.items():
            item = pg.ImageItem(axisOrder="row-major")
            item.setVisible(False)
            view.add_overlay(item, OVERLAY_Z)
            self.items[orientation] = item
            # setImage on the pane's image fires for slice changes and new studies alike.
            view.image_item.sigImageChanged.connect(lambda o=orientation: self._redraw(o))

    # ---------------------------------------------------------------- state

    @property
    def label_map(self) -> LabelMap | None:
        """The label map shown (on the study's grid), or ``None``."""
        return self._label_map

    @property
    def visible(self) -> bool:
        """Whether the overlay is drawn (a label map must also be loaded)."""
        return self._visible

    @property
    def opacity(self) -> float:
        """Overall opacity ``0 .. 1`` multiplied into each label's alpha."""
        return self._opacity

    # ---------------------------------------------------------------- setters

    def set_label_map(self, label_map: LabelMap | None) -> None:
        """Show ``label_map`` (``None`` removes it); it is resampled onto the study's grid.

        Raises
        ------
        RuntimeError
            When no study is shown (there is no grid to put the labels on).
        """
        if label_map is None:
            self._label_map = None
            self._display = None
        else:
            study = self._viewer.volume
            if study is None:
                raise RuntimeError("open a study before a label map")
            on_grid = label_map.on_grid(study)
            self._label_map = on_grid
            self._display = DisplayVolume(on_grid.volume)
            top = int(max(on_grid.labels.max(initial=0), 0))
            self._lut = np.asarray(on_grid.table.colour_lut(top), dtype=np.uint8).reshape(-1, 4)
        self.redraw()
        self.changed.emit()

    def clear(self) -> None:
        """Remove the label map (e.g. when another study is opened)."""
        if self._label_map is not None:
            self.set_label_map(None)

    def set_visible(self, visible: bool) -> None:
        """Show or hide the overlay without forgetting the label map."""
        self._visible = bool(visible)
        self.redraw()
        self.changed.emit()

    def set_opacity(self, opacity: float) -> None:
        """Set the overall opacity ``0 .. 1``."""
        self._opacity = float(np.clip(opacity, 0.0, 1.0))
        self.redraw()
        self.changed.emit()

    def slice_labels(self, orientation: Orientation) -> np.ndarray | None:
        """The label values of the slice a pane shows (display rows, cols), or ``None``."""
        view = self._viewer.views[orientation]
        if self._display is None or view.display is None:
            return None
        if self._display.shape != view.display.shape:
            return None
        return self._display.slice_array(view.orientation, view.slice_index)

    # ---------------------------------------------------------------- drawing

    def redraw(self) -> None:
        """Redraw the overlay in every pane."""
        for orientation in self.items:
            self._redraw(orientation)

    def _redraw(self, orientation: Orientation) -> None:
        item = self.items[orientation]
        view: SliceView = self._viewer.views[orientation]
        labels = self.slice_labels(orientation) if self._visible else None
        if labels is None:
            item.setVisible(False)
            return
        rgba = label_rgba(labels, self._lut, self._opacity)
        item.setImage(np.ascontiguousarray(rgba), autoLevels=False, levels=(0, 255))
        item.setRect(view.image_rect())
        item.setVisible(True)


#: File-dialog filter for label maps.
LABEL_FILE_FILTER = "Label maps (*.nii *.nii.gz *.mgz *.mgh);;All files (*)"


class LabelOverlayControls(QObject):
    """Menu actions and a toolbar for a :class:`LabelOverlay` in the main window.

    Parameters
    ----------
    overlay
        The overlay controlled.
    window
        The main window (parent of the dialog, owner of the shortcuts).
    report_error
        Shows a message naming the file when a label map cannot be opened.

    Attributes
    ----------
    open_action
        File ▸ Open Label Map…
    toggle_action
        View ▸ Label Overlay (``O``): show/hide.
    opacity_slider
        Overall opacity in percent, in :attr:`toolbar`.
    """

    def __init__(
        self, overlay: LabelOverlay, window: QMainWindow, report_error: Callable[[str], None]
    ) -> None:
        super().__init__(window)
        self.overlay = overlay
        self._window = window
        self._report_error = report_error
        self.open_action = QAction("Open &Label Map…", window)
        self.open_action.setStatusTip("Overlay a label map (NIfTI, MGZ) on the study")
        self.open_action.triggered.connect(self.open_dialog)
        self.toggle_action = QAction("&Label Overlay", window)
        self.toggle_action.setShortcut(QKeySequence("O"))
        self.toggle_action.setCheckable(True)
        self.toggle_action.setChecked(overlay.visible)
        self.toggle_action.setToolTip("Show or hide the label map (O)")
        self.toggle_action.toggled.connect(overlay.set_visible)
        for action in (self.open_action, self.toggle_action):
            window.addAction(action)  # shortcuts work with hidden menus
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, window)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(overlay.opacity * 100))
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.setToolTip("Label overlay opacity")
        self.opacity_slider.valueChanged.connect(lambda v: overlay.set_opacity(v / 100.0))
        self.toolbar = QToolBar("Labels", window)
        self.toolbar.setObjectName("labelToolbar")
        self.toolbar.addAction(self.toggle_action)
        self.toolbar.addWidget(QLabel(" Opacity: ", window))
        self.toolbar.addWidget(self.opacity_slider)
        overlay.changed.connect(self._update_enabled)
        self._update_enabled()

    def open_dialog(self) -> None:
        """Ask for a label map file and overlay it."""
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Open Label Map", "", LABEL_FILE_FILTER
        )
        if path:
            self.open_label_map(path)

    def open_label_map(self, path: str | Path) -> bool:
        """Load ``path``, resample it onto the study's grid and show it.

        Returns ``False`` after reporting the problem (naming the file) when there is no
        study or the file is not a readable label map; the previous overlay stays.
        """
        path = Path(path)
        try:
            label_map = load_label_map(path)
            self.overlay.set_label_map(label_map)
        except RuntimeError as exc:
            self._report_error(f"{path}: {exc}")
            return False
        except (LabelMapError, OSError, ValueError, MemoryError) as exc:
            message = str(exc)
            self._report_error(message if str(path) in message else f"{path}: {message}")
            return False
        if not self.toggle_action.isChecked():
            self.toggle_action.setChecked(True)
        assert self.overlay.label_map is not None
        n = len(self.overlay.label_map.present_values())
        note = "" if n else " (no labels inside the study's extent)"
        self._window.statusBar().showMessage(
            f"Label map {path.name}: {n} label{'s' if n != 1 else ''}{note}", 8000
        )
        return True

    def _update_enabled(self) -> None:
        has_labels = self.overlay.label_map is not None
        self.opacity_slider.setEnabled(has_labels)
