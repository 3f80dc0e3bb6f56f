"""The view state of the whole viewer, held once, Qt-free: what every pane renders.

napari's ``ViewerModel`` is the pattern. Widgets never keep their own copy of this state:
they read it from the :class:`ViewModel`, write the user's intents to it (``set_cursor``,
``step_slice``, ``set_window``, ``set_compare`` ...) and redraw when it tells them, through
the same subscribe pattern as :class:`~medsr_viewer.core.roi.RoiSet` and
:class:`~medsr_viewer.core.history.History`: ``model.subscribe("cursor", listener)`` calls
``listener()`` after every change of that part, and returns the unsubscribe function.

Parts (event names, :data:`EVENTS`):

- ``study`` -- the study shown (a :class:`~medsr_viewer.core.geometry.DisplayVolume`), set
  or cleared; the cursor, window and slices were reset with it. :attr:`ViewModel.series` is
  the series it came from (a :class:`~medsr_viewer.core.study.Study`: every volume of a 4-D
  series, which one is shown).
- ``volume`` -- another volume on the same grid (the next volume of a 4-D study) replaced it;
  cursor, window and zoom/pan stay. ``caption`` names it.
- ``cursor`` -- the point every plane goes through (canonical voxel ``(z, y, x)``; the
  world point is :attr:`ViewModel.cursor_world`); each plane's slice follows from it.
- ``window`` -- the display window (shared by every pane).
- ``lut`` -- how the window's grey levels are coloured (:class:`LutState`: a colour map,
  inverted or not; every image pane, the SR result too). A new series starts grey.
- ``layout`` -- single plane or three planes, the plane of the single layout, the active
  plane (keyboard navigation acts on it).
- ``compare`` -- the before/after comparison: on/off, mode, how the original is drawn.
- ``models`` -- the model file per pane (``"sr"``: the super-resolution pane).
- ``ranges`` -- each pane's zoom/pan (its view rectangle in millimetres).
- ``tool`` -- the active ROI tool.
- ``overlay`` -- what the panes draw over the image (:class:`OverlayState`: information
  corners, scale bar, crosshair, patient data).
- ``layers`` -- the label layers over the study (bottom to top), the active one, whether
  the overlay is shown; also sent after a layer was edited in place (labels, colours, style).

Session files store :meth:`ViewModel.to_dict` and restore with :meth:`ViewModel.from_dict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import numpy as np

from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelLayer
from medsr_viewer.core.study import Study
from medsr_viewer.core.windowing import Window, default_window, sampled_range

#: Fraction of the window width (or level range) changed per screen pixel of right-drag.
WINDOW_DRAG_SENSITIVITY = 1.0 / 256.0
EVENTS = ("study", "volume", "caption", "cursor", "window", "lut", "layout", "compare",
          "models", "ranges", "tool", "layers", "overlay")
#: Colour maps of the image panes: grey, a heat scale, two perceptually uniform ones.
COLORMAPS = ("grey", "hot", "inferno", "viridis")
#: Pane id of the super-resolution pane (its model, its zoom/pan).
SR_PANE = "sr"


class Layout(str, Enum):
    """How the study area is split."""

    SINGLE = "single"
    THREE_PLANE = "three-plane"


class CompareMode(str, Enum):
    """How the original and the model result are shown."""

    SIDE_BY_SIDE = "side-by-side"
    SWIPE = "swipe"
    DIFFERENCE = "difference"
    CONSISTENCY = "consistency"
    ADDED_DETAIL = "added detail"
    INTERVAL_WIDTH = "interval width"


#: Modes that draw a map (with a colour bar) instead of an image.
MAP_MODES = frozenset({CompareMode.DIFFERENCE, CompareMode.CONSISTENCY,
                       CompareMode.ADDED_DETAIL, CompareMode.INTERVAL_WIDTH})


class Interpolation(str, Enum):
    """How the original's native grid is drawn (for a fair comparison with SR)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


@dataclass(frozen=True)
class OverlayState:
    """What the panes draw over the image (the View menu's switches)."""

    info: bool = True
    scale_bar: bool = True
    patient_data: bool = False
    crosshair: bool = True


@dataclass(frozen=True)
class LutState:
    """How the window's levels are coloured: a :data:`COLORMAPS` name, inverted or not."""

    colormap: str = "grey"
    invert: bool = False

    def __post_init__(self) -> None:
        if self.colormap not in COLORMAPS:
            raise ValueError(f"unknown colour map {self.colormap!r} (one of "
                             f"{', '.join(COLORMAPS)})")

    @property
    def plain(self) -> bool:
        """Plain grey, black to white (no lookup table, no colour bar needed)."""
        return self.colormap == "grey" and not self.invert


@dataclass(frozen=True)
class CompareState:
    """The before/after comparison: whether it is on, its mode and the original's drawing.

    ``orientation`` is the plane compared (the single layout's plane when switched on).
    """

    enabled: bool = False
    mode: CompareMode = CompareMode.SIDE_BY_SIDE
    interpolation: Interpolation = Interpolation.BICUBIC
    orientation: Orientation = Orientation.AXIAL


class ViewModel:
    """The view state every pane renders, with change events (see the module docstring)."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[], None]]] = {e: [] for e in EVENTS}
        self._display: DisplayVolume | None = None
        self._series: Study | None = None
        self._caption = ""
        self._cursor = np.zeros(3)
        self._window = Window(0.5, 1.0)
        self._default_window = self._window
        self._drag_span = 1.0
        self._layout = Layout.SINGLE
        self._orientation = Orientation.AXIAL
        self._active = Orientation.AXIAL
        self._compare = CompareState()
        self._models: dict[str, str] = {}
        self._ranges: dict[str, tuple[float, float, float, float]] = {}
        self._tool = "navigate"
        self._layers: tuple[LabelLayer, ...] = ()
        self._active_layer = -1
        self._layers_visible = True
        self._overlay = OverlayState()
        self._lut = LutState()

    # ---------------------------------------------------------------- events

    def subscribe(self, event: str, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change of ``event``; returns the unsubscriber."""
        if event not in self._listeners:
            raise ValueError(f"unknown view event {event!r} (one of {', '.join(EVENTS)})")
        self._listeners[event].append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners[event]:
                self._listeners[event].remove(listener)

        return unsubscribe

    def _notify(self, *events: str) -> None:
        for event in events:
            for listener in list(self._listeners[event]):
                listener()

    # ---------------------------------------------------------------- study

    @property
    def display(self) -> DisplayVolume | None:
        """The study shown (reoriented for display), or ``None``."""
        return self._display

    @property
    def series(self) -> Study | None:
        """The series read from disk the shown volume belongs to (all its volumes), kept
        while a volume made from it in memory is shown (simulate mode); ``None``: none."""
        return self._series

    def set_study(self, display: DisplayVolume | None, window: Window | None = None,
                  series: Study | None = None) -> None:
        """Show a study (``None`` clears) at its middle voxel with ``window`` (default: the
        study's default window); ``series`` is the series it belongs to (kept if omitted)."""
        self._display = display
        events = ["study", "caption", "cursor", "window", "ranges"]
        if series is not None or display is None:
            self._series = series
            if not self._lut.plain:  # another series: grey again
                self._lut = LutState()
                events.append("lut")
        self._caption = ""
        if display is not None:
            self._default_window = window if window is not None else default_window(
                display.volume)
            self._window = self._default_window
            low, high = sampled_range(display.volume.voxels)
            self._drag_span = max(high - low, self._window.width, 1e-6)
            self._cursor = display.center()
        self._ranges.clear()
        self._notify(*events)

    def replace_volume(self, display: DisplayVolume, caption: str = "",
                       window: Window | None = None, series: Study | None = None) -> None:
        """Show another volume on the grid shown (a 4-D study's next volume) in its place.

        Slices and zoom/pan stay; ``window`` (another kind of image) becomes the default and
        is applied; ``series`` is the series showing this volume now.

        Raises
        ------
        ValueError
            Nothing is shown, or ``display`` lies on another grid.
        """
        if self._display is None:
            raise ValueError("no study is shown")
        if display.shape != self._display.shape or not np.allclose(display.affine,
                                                                    self._display.affine):
            raise ValueError("replace_volume needs a volume on the grid already shown")
        self._display = display
        if series is not None:
            self._series = series
        self._caption = caption
        events = ["volume", "caption"]
        if window is not None:
            self._default_window = self._window = window
            low, high = sampled_range(display.volume.voxels)
            self._drag_span = max(high - low, window.width, 1e-6)
            events.append("window")
        self._notify(*events)

    @property
    def caption(self) -> str:
        """The name of the shown volume of a 4-D study ("" for a 3-D study)."""
        return self._caption

    def set_caption(self, text: str) -> None:
        """Name the shown volume (``"b=1000 dir 3 4/13"``; "" hides the label)."""
        if text != self._caption:
            self._caption = text
            self._notify("caption")

    # ---------------------------------------------------------------- cursor and slices

    @property
    def cursor(self) -> np.ndarray:
        """The cursor: canonical voxel index ``(z, y, x)`` shared by the planes (a copy)."""
        return self._cursor.copy()

    @property
    def cursor_world(self) -> np.ndarray | None:
        """The cursor in patient (world) millimetres, ``None`` with no study."""
        if self._display is None:
            return None
        return self._display.canonical_to_world(self._cursor)

    def set_cursor(self, canonical_zyx: np.ndarray) -> None:
        """Move the point every plane goes through (clamped to the study)."""
        if self._display is None:
            return
        upper = np.array(self._display.shape) - 1
        cursor = np.clip(np.asarray(canonical_zyx, dtype=np.float64), 0, upper)
        self._cursor = cursor
        self._notify("cursor")

    def set_cursor_world(self, world_mm: np.ndarray) -> None:
        """Move the cursor to the voxel nearest a patient point (another grid's point)."""
        if self._display is None:
            return
        canonical = np.linalg.solve(self._display.affine, np.append(world_mm, 1.0))[:3][::-1]
        self.set_cursor(np.rint(canonical))

    def slice_index(self, orientation: Orientation | None = None) -> int:
        """Slice of a plane through the cursor (default: the active plane)."""
        orientation = Orientation(orientation or self.active_orientation)
        return int(np.rint(self._cursor[PLANE_AXES[orientation].slice_axis]))

    def n_slices(self, orientation: Orientation | None = None) -> int:
        """Slices of a plane (0 with no study)."""
        orientation = Orientation(orientation or self.active_orientation)
        return self._display.n_slices(orientation) if self._display is not None else 0

    def set_slice(self, index: int, orientation: Orientation | None = None) -> int:
        """Go to slice ``index`` (clamped) of a plane (default: active); returns it."""
        orientation = Orientation(orientation or self.active_orientation)
        if self._display is None:
            return 0
        cursor = self._cursor.copy()
        n = self._display.n_slices(orientation)
        cursor[PLANE_AXES[orientation].slice_axis] = int(np.clip(index, 0, n - 1))
        self.set_cursor(cursor)
        return self.slice_index(orientation)

    def go_to_end(self, last: bool, orientation: Orientation | None = None) -> int:
        """Go to the first (``last=False``) or last slice of a plane; returns it."""
        return self.set_slice(self.n_slices(orientation) - 1 if last else 0, orientation)

    def step_slice(self, delta: int, orientation: Orientation | None = None) -> int:
        """Move ``delta`` slices in a plane (default: active); returns the new index."""
        orientation = Orientation(orientation or self.active_orientation)
        return self.set_slice(self.slice_index(orientation) + delta, orientation)

    # ---------------------------------------------------------------- window

    @property
    def window(self) -> Window:
        """The display window of every pane."""
        return self._window

    @property
    def default_window(self) -> Window:
        """The window Reset View returns to."""
        return self._default_window

    def set_window(self, window: Window) -> None:
        """Apply a display window to every pane."""
        self._window = window
        self._notify("window")

    @property
    def lut(self) -> LutState:
        """The colour map of every image pane."""
        return self._lut

    def set_lut(self, colormap: str | None = None, invert: bool | None = None) -> None:
        """Colour the levels with ``colormap`` and/or invert them (``None`` keeps that part)."""
        state = LutState(self._lut.colormap if colormap is None else str(colormap),
                         self._lut.invert if invert is None else bool(invert))
        if state != self._lut:
            self._lut = state
            self._notify("lut")

    def drag_window(self, dx: float, dy: float) -> None:
        """Change the window as a right-drag by ``(dx, dy)`` screen pixels does: right widens,
        down lowers the level (brighter), by steps proportional to the study's value range.
        A colour image is shown as it is: no window to change."""
        if self._display is None or self._display.is_colour:
            return
        scale = self._drag_span * WINDOW_DRAG_SENSITIVITY
        self.set_window(self._window.adjusted(d_center=-dy * scale, d_width=dx * scale))

    # ---------------------------------------------------------------- layout

    @property
    def layout(self) -> Layout:
        """Single plane or three planes."""
        return self._layout

    @property
    def orientation(self) -> Orientation:
        """The plane of the single layout."""
        return self._orientation

    @property
    def active_orientation(self) -> Orientation:
        """The plane keyboard navigation acts on."""
        return self._orientation if self._layout == Layout.SINGLE else self._active

    def set_orientation(self, orientation: Orientation) -> None:
        """Single layout showing ``orientation``."""
        self._orientation = self._active = Orientation(orientation)
        self._layout = Layout.SINGLE
        self._notify("layout")

    def set_layout(self, layout: Layout) -> None:
        """Single plane or three planes with crosshair."""
        self._layout = Layout(layout)
        if self._layout == Layout.THREE_PLANE:
            self._active = self._orientation
        self._notify("layout")

    def set_active(self, orientation: Orientation) -> None:
        """The plane the user last used (three-plane layout only)."""
        orientation = Orientation(orientation)
        if self._layout == Layout.THREE_PLANE and orientation != self._active:
            self._active = orientation
            self._notify("layout")

    # ---------------------------------------------------------------- comparison and models

    @property
    def compare(self) -> CompareState:
        """The before/after comparison."""
        return self._compare

    def set_compare(self, **changes: Any) -> None:
        """Change fields of :attr:`compare` (``enabled``, ``mode``, ``interpolation``,
        ``orientation``); values are converted to their enums."""
        converters = {"mode": CompareMode, "interpolation": Interpolation,
                      "orientation": Orientation, "enabled": bool}
        unknown = set(changes) - set(converters)
        if unknown:
            raise ValueError(f"unknown compare setting(s): {', '.join(sorted(unknown))}")
        state = replace(self._compare, **{k: converters[k](v) for k, v in changes.items()})
        if state != self._compare:
            self._compare = state
            self._notify("compare")

    def model(self, pane: str = SR_PANE) -> str:
        """The model file of a pane ("" when none)."""
        return self._models.get(pane, "")

    def set_model(self, path: str, pane: str = SR_PANE) -> None:
        """Choose the model of a pane by its file ("" clears)."""
        if self._models.get(pane, "") != path:
            if path:
                self._models[pane] = path
            else:
                self._models.pop(pane, None)
            self._notify("models")

    # ---------------------------------------------------------------- zoom/pan and tool

    def view_range(self, pane: str) -> tuple[float, float, float, float] | None:
        """``(x, y, width, height)`` in mm a pane shows, ``None`` = fit the image."""
        return self._ranges.get(pane)

    def set_view_range(self, pane: str, rect: tuple[float, float, float, float] | None) -> None:
        """Record a pane's zoom/pan (``None``: back to fitting the image)."""
        old = self._ranges.get(pane)
        if rect is None:
            self._ranges.pop(pane, None)
        else:
            x, y, width, height = (float(v) for v in rect)
            self._ranges[pane] = (x, y, width, height)
        if old != self._ranges.get(pane):
            self._notify("ranges")

    def reset_view(self) -> None:
        """Fit every pane and go back to the default window."""
        self._ranges.clear()
        self._notify("ranges")
        if self._display is not None:
            self.set_window(self._default_window)

    @property
    def tool(self) -> str:
        """The active ROI tool (``"navigate"``, ``"rectangle"`` ...)."""
        return self._tool

    def set_tool(self, tool: str) -> None:
        """Make ``tool`` the active ROI tool."""
        if tool != self._tool:
            self._tool = str(tool)
            self._notify("tool")

    # ---------------------------------------------------------------- label layers

    @property
    def layers(self) -> tuple[LabelLayer, ...]:
        """The label layers over the study, bottom (drawn first) to top."""
        return self._layers

    @property
    def active_layer(self) -> int:
        """Index of the active layer in :attr:`layers` (-1 when there is none)."""
        return self._active_layer

    @property
    def layers_visible(self) -> bool:
        """Whether the label overlay is drawn at all (each layer has its own flag too)."""
        return self._layers_visible

    def set_layers(self, layers: tuple[LabelLayer, ...] | list[LabelLayer],
                   active: int) -> None:
        """Replace the layer list and the active index (clamped to the list)."""
        self._layers = tuple(layers)
        self._active_layer = int(np.clip(active, -1, len(self._layers) - 1))
        if self._layers and self._active_layer < 0:
            self._active_layer = 0
        self._notify("layers")

    def set_active_layer(self, index: int) -> None:
        """Make layer ``index`` the active one."""
        if 0 <= index < len(self._layers) and index != self._active_layer:
            self._active_layer = index
            self._notify("layers")

    def set_layers_visible(self, visible: bool) -> None:
        """Show or hide the whole label overlay without forgetting the layers."""
        self._layers_visible = bool(visible)
        self._notify("layers")

    def layers_changed(self) -> None:
        """Tell the panes a layer was edited in place (labels, names, colours, style)."""
        self._notify("layers")

    # ---------------------------------------------------------------- overlay

    @property
    def overlay(self) -> OverlayState:
        """The overlay switches of every pane."""
        return self._overlay

    def set_overlay(self, **changes: bool) -> None:
        """Change overlay switches (``info``, ``scale_bar``, ``patient_data``, ``crosshair``)."""
        state = replace(self._overlay, **{k: bool(v) for k, v in changes.items()})
        if state != self._overlay:
            self._overlay = state
            self._notify("overlay")

    # ---------------------------------------------------------------- sessions

    def to_dict(self) -> dict[str, Any]:
        """The view as JSON-ready data (session files)."""
        window = self._window
        return {
            "orientation": self._orientation.value,
            "layout": self._layout.value,
            "slices": {o.value: self.slice_index(o) for o in Orientation},
            "window": [window.center, window.width],
            "lut": {"colormap": self._lut.colormap, "invert": self._lut.invert},
            "sr_enabled": self._compare.enabled,
            "compare_mode": self._compare.mode.value,
            "interpolation": self._compare.interpolation.value,
            "tool": self._tool,
            # patient data is not kept: a reopened session shows none until asked again
            "overlay": {"info": self._overlay.info, "scale_bar": self._overlay.scale_bar,
                        "crosshair": self._overlay.crosshair},
        }

    def from_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`to_dict` wrote, except switching the comparison on (the caller
        does that once the model is known to load) and the model (resolved by the caller).

        Raises
        ------
        ValueError, TypeError, KeyError
            A value of ``state`` is not what :meth:`to_dict` writes.
        """
        self.set_orientation(Orientation(state.get("orientation", "axial")))
        if state.get("layout") == Layout.THREE_PLANE.value:
            self.set_layout(Layout.THREE_PLANE)
        for name, index in dict(state.get("slices", {})).items():
            self.set_slice(int(index), Orientation(name))
        if "window" in state:
            center, width = (float(v) for v in state["window"])
            if np.isfinite(center) and width > 0:
                self.set_window(Window(center, width))
        if "lut" in state:
            lut = dict(state["lut"])
            self.set_lut(str(lut.get("colormap", "grey")), bool(lut.get("invert", False)))
        self.set_compare(mode=state.get("compare_mode", self._compare.mode.value),
                         interpolation=state.get("interpolation",
                                                 self._compare.interpolation.value))
        if "tool" in state:
            self.set_tool(str(state["tool"]))
        overlay = dict(state.get("overlay", {}))
        self.set_overlay(**{k: bool(overlay[k]) for k in ("info", "scale_bar", "crosshair")
                            if k in overlay})


def only_plane(display: DisplayVolume | None) -> Orientation | None:
    """The one plane of a one-slice study (a 2-D image), else ``None``: the other planes of
    such a study are one pixel thick, not worth a pane."""
    if display is None:
        return None
    flat = [o for o in Orientation if display.n_slices(o) == 1]
    return flat[0] if len(flat) == 1 else None
