"""The ROIs of the session drawn over every pane (the three planes and the SR pane).

ROIs are world objects on a :class:`~medsr_viewer.core.roi.Plane`. On a pane they show in one
of two ways:

- an ROI whose plane is the pane's slice (parallel, within half the slice spacing) is drawn as
  its own outline in its colour (a brush ROI as a translucent filled mask with an opaque rim,
  rasterised on the slice's pixel grid);
- any other ROI is rasterised onto the pane's one-slice grid (:func:`core.roi.rasterize`), so
  an ROI drawn on another orientation shows where it cuts this slice (usually a line).

Rulers and angles (:mod:`~medsr_viewer.core.roi.measurements`) show only on the slices they lie
in, as an open line with their value ("23.4 mm", "47.2°") beside it.
The selected ROI gets a thicker outline and, for rectangles and ellipses, corner handles (a
ruler's or angle's handles are its points).
Tools can show a transient *preview* (an ROI being moved or resized, or a new shape being
dragged) and a *sketch* (an open polygon, a brush stroke) without touching the ROI set.
What each ROI looks like on a given slice is cached (ROIs are immutable values).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from medsr_viewer.core.roi import BrushRoi, Measurement, Roi, RoiSet, rasterize
from medsr_viewer.core.roi.drawing import map_uv, mask_boundary, resize_handles
from medsr_viewer.gui.layers.roi_geometry import PaneGeometry, pane_geometry
from medsr_viewer.gui.views.slice_view import SliceView

__all__ = ["DrawnRoi", "PaneGeometry", "RoiLayer", "draw_roi", "pane_geometry"]

#: Above the label overlay (10), below the crosshair (20) and the letters (30).
MASK_Z = 12.0
OUTLINE_Z = 13.0
HANDLE_Z = 14.0
SKETCH_Z = 15.0
TEXT_Z = 16.0
OUTLINE_WIDTH = 1.5
SELECTED_WIDTH = 3.0
#: Alpha of a mask's inside and of its rim (0-255); the selected mask is filled more.
FILL_ALPHA = 70
SELECTED_FILL_ALPHA = 120
RIM_ALPHA = 255
HANDLE_SIZE_PX = 9
#: Most (ROI, slice) drawings kept.
CACHE_SIZE = 1024


@dataclass(frozen=True)
class DrawnRoi:
    """How one ROI shows on one slice.

    Attributes
    ----------
    in_slice
        The ROI lies in this slice (see :meth:`PaneGeometry.contains_roi`).
    outline
        Closed outline ``(n, 2)`` in view mm (in-slice shapes other than brush masks).
    mask
        ``(row0, col0, sub_mask)``: the ROI's pixels on the slice's display grid, cropped to
        their bounding box (brush masks, and intersections of ROIs of other slices).
    closed
        Whether the outline is closed (``False`` for a ruler's or an angle's line).
    label
        ``(text, x, y)``: a measurement's value and where it is written (view mm).
    """

    in_slice: bool
    outline: np.ndarray | None = None
    mask: tuple[int, int, np.ndarray] | None = None
    closed: bool = True
    label: tuple[str, float, float] | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return self.outline is None and self.mask is None


def draw_roi(roi: Roi, geometry: PaneGeometry) -> DrawnRoi:
    """What ``roi`` looks like on the slice described by ``geometry`` (see module doc)."""
    in_slice = geometry.contains_roi(roi)
    if isinstance(roi, Measurement):
        if not in_slice:
            return DrawnRoi(False)  # a line measured on another slice: nothing to show here
        line = geometry.uv_to_view(map_uv(roi.plane, geometry.plane, roi.outline_uv()))
        x, y = geometry.uv_to_view(map_uv(roi.plane, geometry.plane, [roi.label_uv()]))[0]
        return DrawnRoi(True, outline=line, closed=False, label=(roi.text, float(x), float(y)))
    if in_slice and not isinstance(roi, BrushRoi):
        uv = map_uv(roi.plane, geometry.plane, roi.outline_uv())
        return DrawnRoi(True, outline=geometry.uv_to_view(uv))
    mask = rasterize(roi, geometry.grid)[0]
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return DrawnRoi(in_slice)
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return DrawnRoi(in_slice, mask=(r0, c0, mask[r0:r1, c0:c1].copy()))


def _path(points: np.ndarray, closed: bool) -> QPainterPath:
    path = QPainterPath()
    if len(points) == 0:
        return path
    path.moveTo(QPointF(float(points[0, 0]), float(points[0, 1])))
    for x, y in points[1:]:
        path.lineTo(QPointF(float(x), float(y)))
    if closed:
        path.closeSubpath()
    return path


class _PaneItems:
    """The graphics items the layer owns on one pane."""

    def __init__(self, view: SliceView) -> None:
        self.view = view
        self.mask_item = pg.ImageItem(axisOrder="row-major")
        self.mask_item.setVisible(False)
        view.add_overlay(self.mask_item, MASK_Z)
        self.outlines: dict[str, QGraphicsPathItem] = {}
        self.handles = pg.ScatterPlotItem(
            pxMode=True, symbol="s", size=HANDLE_SIZE_PX, pen=pg.mkPen("w", width=1)
        )
        view.add_overlay(self.handles, HANDLE_Z)
        self.sketch = QGraphicsPathItem()
        self.sketch.setVisible(False)
        view.add_overlay(self.sketch, SKETCH_Z)
        self.texts: dict[str, pg.TextItem] = {}
        self.drawn: dict[str, DrawnRoi] = {}
        self.mask_rgba: np.ndarray | None = None
        self.handle_xy = np.zeros((0, 2))

    def outline_item(self, roi_id: str) -> QGraphicsPathItem:
        item = self.outlines.get(roi_id)
        if item is None:
            item = QGraphicsPathItem()
            self.view.add_overlay(item, OUTLINE_Z)
            self.outlines[roi_id] = item
        return item

    def text_item(self, roi_id: str) -> pg.TextItem:
        item = self.texts.get(roi_id)
        if item is None:
            item = pg.TextItem(anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 160))
            self.view.add_overlay(item, TEXT_Z)
            self.texts[roi_id] = item
        return item

    def drop_outlines(self, keep: set[str], keep_texts: set[str]) -> None:
        for roi_id in [r for r in self.outlines if r not in keep]:
            self.view.view_box.removeItem(self.outlines.pop(roi_id))
        for roi_id in [r for r in self.texts if r not in keep_texts]:
            self.view.view_box.removeItem(self.texts.pop(roi_id))


class RoiLayer(QObject):
    """Draws the ROIs of a :class:`RoiSet` on a set of panes and keeps them up to date.

    Parameters
    ----------
    rois
        The ROI document (read only: the layer never edits it).
    panes
        The panes to draw on (the viewer's three planes and the SR pane).
    parent
        Qt parent.

    Panes redraw when they change slice or study and when the ROI set changes.
    """

    def __init__(self, rois: RoiSet, panes: Sequence[SliceView],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rois = rois
        self._panes: dict[SliceView, _PaneItems] = {}
        self._selected = ""
        self._preview: Roi | None = None
        self._cache: OrderedDict[tuple[object, ...], tuple[Roi, DrawnRoi]] = OrderedDict()
        self._displays: set[int] = set()
        for view in panes:
            self._panes[view] = _PaneItems(view)
            view.sliceChanged.connect(lambda _i, v=view: self.redraw(v))
            view.displayChanged.connect(lambda v=view: self._on_display_changed(v))
        self._unsubscribe = rois.subscribe(lambda _roi_id: self.redraw())

    # ---------------------------------------------------------------- state

    @property
    def panes(self) -> list[SliceView]:
        """The panes drawn on."""
        return list(self._panes)

    @property
    def selected_id(self) -> str:
        """Id of the ROI drawn as selected ("" for none)."""
        return self._selected

    def set_selected(self, roi_id: str) -> None:
        """Draw ``roi_id`` as selected ("" for none)."""
        if roi_id != self._selected:
            self._selected = roi_id
            self.redraw()

    @property
    def preview(self) -> Roi | None:
        """The transient ROI shown instead of (or besides) the set's ROI with its id."""
        return self._preview

    def set_preview(self, roi: Roi | None) -> None:
        """Show ``roi`` in place of the set's ROI with the same id (or as an extra one).

        Only visible panes redraw (the preview follows the mouse); ``None`` ends the preview
        and redraws every pane.
        """
        self._preview = roi
        self.redraw(visible_only=roi is not None)

    def set_sketch(self, view: SliceView, points: np.ndarray | None, color: tuple[int, int, int],
                   width_mm: float = 0.0, closed: bool = False) -> None:
        """Draw a path through view points ``(n, 2)`` on one pane (``None`` hides it).

        ``width_mm`` > 0 draws a thick translucent stroke of that width in mm (a brush
        stroke); 0 a thin dashed line (a polygon being clicked).
        """
        items = self._panes[view]
        if points is None or len(points) == 0:
            items.sketch.setVisible(False)
            return
        qcolor = QColor(*color)
        if width_mm > 0:
            qcolor.setAlpha(110)
            pen = QPen(qcolor, width_mm)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        else:
            pen = QPen(qcolor, OUTLINE_WIDTH, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
        items.sketch.setPen(pen)
        items.sketch.setPath(_path(np.asarray(points, dtype=np.float64), closed))
        items.sketch.setVisible(True)

    def clear_sketches(self) -> None:
        """Hide every pane's sketch."""
        for items in self._panes.values():
            items.sketch.setVisible(False)

    # ---------------------------------------------------------------- what is shown

    def shown(self, view: SliceView) -> dict[str, DrawnRoi]:
        """What each ROI (by id) looks like on ``view`` now (only ROIs that show there)."""
        return {k: d for k, d in self._panes[view].drawn.items() if not d.empty}

    def mask_image(self, view: SliceView) -> np.ndarray | None:
        """The RGBA mask image drawn on ``view`` (display rows x cols x 4), if any."""
        rgba = self._panes[view].mask_rgba
        return None if rgba is None else rgba.copy()

    def label_text(self, view: SliceView, roi_id: str) -> str:
        """The value written beside a ruler or angle on ``view`` ("" when none is shown)."""
        item = self._panes[view].texts.get(roi_id)
        return "" if item is None or not item.isVisible() else item.toPlainText()

    def outline_path(self, view: SliceView, roi_id: str) -> QGraphicsPathItem | None:
        """The outline item of an ROI on ``view`` (``None`` when it has none there)."""
        return self._panes[view].outlines.get(roi_id)

    def handle_points(self, view: SliceView) -> np.ndarray:
        """View mm ``(n, 2)`` of the resize handles drawn on ``view``."""
        return self._panes[view].handle_xy.copy()

    def sketch_visible(self, view: SliceView) -> bool:
        """Whether a sketch (open polygon, brush stroke) is drawn on ``view``."""
        return self._panes[view].sketch.isVisible()

    # ---------------------------------------------------------------- drawing

    def redraw(self, view: SliceView | None = None, visible_only: bool = False) -> None:
        """Redraw one pane or all (``visible_only``: skip hidden panes)."""
        views = [view] if view is not None else list(self._panes)
        for pane in views:
            if visible_only and not pane.isVisible():
                continue
            self._redraw(pane)

    def _on_display_changed(self, view: SliceView) -> None:
        display = view.display
        if display is not None and id(display) not in self._displays:
            # A new study: drawings of the previous one will not be asked for again.
            self._cache.clear()
            self._displays = {id(v.display) for v in self._panes if v.display is not None}
        self.redraw(view)

    def _rois_to_draw(self) -> list[Roi]:
        rois = list(self._rois)
        preview = self._preview
        if preview is None:
            return rois
        ids = [roi.roi_id for roi in rois]
        if preview.roi_id in ids:
            rois[ids.index(preview.roi_id)] = preview
        else:
            rois.append(preview)
        return rois

    def _drawn(self, roi: Roi, geometry: PaneGeometry) -> DrawnRoi:
        if roi is self._preview:
            return draw_roi(roi, geometry)
        key = (roi.roi_id, *geometry.key)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is roi:
            self._cache.move_to_end(key)
            return hit[1]
        drawn = draw_roi(roi, geometry)
        self._cache[key] = (roi, drawn)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return drawn

    def _redraw(self, view: SliceView) -> None:
        items = self._panes[view]
        geometry = pane_geometry(view)
        if geometry is None:
            items.drawn = {}
            items.drop_outlines(set(), set())
            items.mask_item.setVisible(False)
            items.mask_rgba = None
            items.handles.setData([], [])
            items.handle_xy = np.zeros((0, 2))
            return
        rows, cols = geometry.display.slice_shape(geometry.orientation)
        rgba = np.zeros((rows, cols, 4), np.uint8)
        any_mask = False
        drawn: dict[str, DrawnRoi] = {}
        handles = np.zeros((0, 2))
        for roi in self._rois_to_draw():
            result = self._drawn(roi, geometry)
            drawn[roi.roi_id] = result
            selected = roi.roi_id == self._selected
            if result.outline is not None:
                item = items.outline_item(roi.roi_id)
                pen = QPen(QColor(*roi.color), SELECTED_WIDTH if selected else OUTLINE_WIDTH)
                pen.setCosmetic(True)
                item.setPen(pen)
                item.setPath(_path(result.outline, closed=result.closed))
            if result.label is not None:
                text, x, y = result.label
                label = items.text_item(roi.roi_id)
                label.setText(text, color=QColor(*roi.color))
                label.setPos(x, y)
            if result.mask is not None:
                any_mask = True
                r0, c0, sub = result.mask
                target = rgba[r0:r0 + sub.shape[0], c0:c0 + sub.shape[1]]
                fill = SELECTED_FILL_ALPHA if selected else FILL_ALPHA
                rim = mask_boundary(sub)
                target[sub] = (*roi.color, fill)
                target[rim] = (*roi.color, RIM_ALPHA)
            if selected and result.in_slice:
                corners = resize_handles(roi)
                if len(corners):
                    handles = geometry.uv_to_view(map_uv(roi.plane, geometry.plane, corners))
        items.drawn = drawn
        items.drop_outlines({k for k, d in drawn.items() if d.outline is not None},
                            {k for k, d in drawn.items() if d.label is not None})
        items.mask_rgba = rgba if any_mask else None
        if any_mask:
            items.mask_item.setImage(rgba, autoLevels=False, levels=(0, 255))
            items.mask_item.setRect(view.image_rect())
        items.mask_item.setVisible(any_mask)
        items.handle_xy = handles
        selected_roi = next((r for r in self._rois_to_draw() if r.roi_id == self._selected), None)
        brush = pg.mkBrush(QColor(*selected_roi.color)) if selected_roi is not None else None
        items.handles.setData(handles[:, 0], handles[:, 1], brush=brush)

    def disconnect_rois(self) -> None:
        """Stop following the ROI set (before the layer goes away)."""
        self._unsubscribe()
