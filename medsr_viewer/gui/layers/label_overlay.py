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

The layers and their edits are :class:`~medsr_viewer.gui.layers.label_stack.LabelStack`'s;
the menu actions and toolbar are in :mod:`~medsr_viewer.gui.layers.label_controls` (its
names are re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg

from medsr_viewer.core.config_dir import config_dir
from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.labels import (
    LabelMap,
    LabelMapError,
    OverlayStyle,
    composite,
    load_label_file,
    store_label_map,
    upsample_labels,
)
from medsr_viewer.core.labels.render import render_labels
from medsr_viewer.core.messages import naming_file
from medsr_viewer.core.session import LabelMapRef
from medsr_viewer.gui.layers.label_controls import (
    LABEL_FILE_FILTER,
    NIFTI_SAVE_FILTER,
    SEG_SAVE_FILTER,
    LabelOverlayControls,
)
from medsr_viewer.gui.layers.label_stack import LabelStack
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer

__all__ = [
    "LABEL_FILE_FILTER",
    "NIFTI_SAVE_FILTER",
    "SEG_SAVE_FILTER",
    "LabelOverlay",
    "LabelOverlayControls",
    "LabelStack",
    "label_rgba",
]

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


class LabelOverlay(LabelStack):
    """The label layers of a :class:`StudyViewer`, drawn on its panes (and the compare
    panel's SR pane), and stored in or restored from sessions.

    The layers, the active layer and their edits are :class:`LabelStack`'s; every change
    redraws the panes before ``changed`` is emitted.

    Parameters
    ----------
    viewer
        The study viewer whose panes get the overlay.
    compare
        The compare panel whose SR pane (``sr_view``) also gets it (optional).
    """

    def __init__(self, viewer: StudyViewer, compare: object | None = None) -> None:
        super().__init__(viewer)
        self._compare = compare
        #: Messages of the last :meth:`snapshot` (layers it could not store).
        self.snapshot_problems: list[str] = []
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

    @property
    def sr_view(self) -> SliceView | None:
        """The compare panel's SR pane, or ``None``."""
        view = getattr(self._compare, "sr_view", None)
        return view if isinstance(view, SliceView) else None

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
        for layer in self.layers:
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
                    layer.table.copy(), layer.instances,
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
        self._drop_all()
        for ref in refs:
            try:
                label_map = load_label_file(ref.path)
                layer = self.add_layer(label_map, ref.name or None, source=Path(ref.path),
                                       instances=ref.instances or label_map.instances)
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

    def _on_layers(self) -> None:
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
        if not self.visible or view.display is None:
            return None
        images = []
        for layer in self.layers:
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
