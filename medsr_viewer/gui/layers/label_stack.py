"""The label layers over a study: which layers, which is active, and how each is shown.

:class:`LabelStack` is the state of the label overlay without the drawing: the layers
(:class:`~medsr_viewer.core.labels.LabelLayer`, each resampled once onto the study's grid and
kept as a :class:`~medsr_viewer.core.geometry.DisplayVolume` for its slices), the active one,
and every edit of them (visibility, opacity, style, names and colours of labels, new label
arrays). Each change emits ``changed``;
:class:`~medsr_viewer.gui.layers.label_overlay.LabelOverlay` draws the layers on the panes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelLayer, LabelMap, LabelTable, OverlayStyle
from medsr_viewer.core.labels.layer import DEFAULT_OPACITY
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer


class LabelStack(QObject):
    """The label layers of a :class:`StudyViewer`'s study, bottom (first) to top (last).

    One layer is *active*: the one the label list shows, the opacity slider and style act on,
    and :meth:`active_label_map` returns (for metrics, export and sessions).

    Parameters
    ----------
    viewer
        The study viewer whose study gives the grid the layers are put on.

    Signals
    -------
    changed()
        Layers were added or removed, the active layer changed, or a layer's labels, names,
        colours, visibility, opacity or style changed.
    """

    changed = Signal()

    def __init__(self, viewer: StudyViewer) -> None:
        super().__init__(viewer)
        self._viewer = viewer
        #: The layer list, the active layer and the overlay switch live in the view model.
        self._model = viewer.model
        self._displays: dict[LabelLayer, DisplayVolume] = {}
        #: Each layer's labels on their own grid (as loaded or last edited), for :meth:`regrid`.
        self._natives: dict[LabelLayer, LabelMap] = {}
        #: Increased whenever a label table is edited or replaced (for views of the table).
        self.table_revision = 0
        self._model.subscribe("layers", self._on_layers)

    # ---------------------------------------------------------------- state

    @property
    def viewer(self) -> StudyViewer:
        """The study viewer the layers belong to."""
        return self._viewer

    @property
    def layers(self) -> tuple[LabelLayer, ...]:
        """All layers, bottom (drawn first) to top."""
        return self._model.layers

    @property
    def active_index(self) -> int:
        """Index of the active layer in :attr:`layers` (-1 when there is none)."""
        return self._model.active_layer

    @property
    def active_layer(self) -> LabelLayer | None:
        """The active layer, or ``None``."""
        layers, active = self._model.layers, self._model.active_layer
        return layers[active] if 0 <= active < len(layers) else None

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
        return self._model.layers_visible

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
        instances: bool | None = None,
    ) -> LabelLayer:
        """Resample ``label_map`` onto the study's grid and add it on top as a new layer.

        ``source`` is the file it came from (default ``label_map.source``; ``None`` for model
        output), ``model`` the model that made it, ``instances`` whether it is an instance map
        (one id per object; default: what ``label_map.instances`` says). The new layer becomes active unless ``activate`` is false.

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
            instances=label_map.instances if instances is None else instances,
        )
        self._displays[layer] = DisplayVolume(on_grid.volume)
        self._natives[layer] = label_map
        layers, active = self._model.layers, self._model.active_layer
        self._model.set_layers([*layers, layer],
                               len(layers) if activate or active < 0 else active)
        return layer

    def remove_layer(self, index: int) -> None:
        """Remove layer ``index``; the active layer stays active if it is another one."""
        layers, active = list(self._model.layers), self._model.active_layer
        if not 0 <= index < len(layers):
            return
        layer = layers.pop(index)
        self._displays.pop(layer, None)
        self._natives.pop(layer, None)
        if active >= len(layers) or index < active:
            active -= 1
        self._model.set_layers(layers, active)

    def set_active(self, index: int) -> None:
        """Make layer ``index`` the active one."""
        self._model.set_active_layer(index)

    def clear(self) -> None:
        """Remove every layer (e.g. when another study is opened)."""
        if self._model.layers:
            self._drop_all()

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
        self._drop_all()
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
        for layer in self._model.layers:
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

    def _drop_all(self) -> None:
        """Forget every layer (the view model tells the panes)."""
        self._displays.clear()
        self._natives.clear()
        self._model.set_layers([], -1)

    def _layer(self, index: int | None) -> LabelLayer | None:
        if index is None:
            return self.active_layer
        layers = self._model.layers
        return layers[index] if 0 <= index < len(layers) else None

    # ---------------------------------------------------------------- how layers are shown

    def set_visible(self, visible: bool) -> None:
        """Show or hide the whole overlay without forgetting the layers."""
        self._model.set_layers_visible(visible)

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

    def update_label(self, value: int, index: int | None = None, *, name: str | None = None,
                     color: Iterable[int] | None = None, visible: bool | None = None,
                     opacity: float | None = None) -> None:
        """Change the name, colour (r, g, b), visibility or opacity of one label value of a
        layer (default: the active one); the panes are redrawn at once."""
        layer = self._layer(index)
        if layer is None:
            return
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = name
        if color is not None:
            r, g, b = (int(c) for c in color)
            changes["color"] = (r, g, b)
        if visible is not None:
            changes["visible"] = visible
        if opacity is not None:
            changes["opacity"] = opacity
        layer.update_label(int(value), **changes)
        self.table_revision += 1
        self._changed()

    def apply_colour_table(self, table: LabelTable, index: int | None = None) -> int:
        """Give a layer (default: the active one) the names, colours and visibility of a
        colour table file's entries for the values the layer holds (the file wins over what
        the layer had; values it does not list keep theirs). Returns how many values it named.
        """
        layer = self._layer(index)
        if layer is None:
            return 0
        wanted = set(layer.present_values()) | set(layer.table.values())
        chosen = LabelTable(table.entry(v) for v in table.values() if v in wanted)
        layer.set_table(layer.table.merged(chosen))
        self.table_revision += 1
        self._changed()
        return len(chosen)

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

    def _changed(self) -> None:
        self._model.layers_changed()

    def _on_layers(self) -> None:
        """The view model's layers changed (here or elsewhere): tell the views."""
        self.changed.emit()
