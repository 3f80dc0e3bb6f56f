"""Switching the comparison on and off and choosing its model (a ComparePanel part).

The panel follows the view model: ``compare`` (on/off, plane, mode, interpolation),
``layout`` (three planes switch it off; another single plane is compared instead) and
``models["sr"]`` (the model picker writes it, a session restore too).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.view_model import SR_PANE, Layout
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.views.compare_base import ComparePanelBase
from medsr_viewer.gui.views.compare_controls import pane_title
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.through_plane_pane import THROUGH_PLANE_TASK
from medsr_viewer.models.registry import ModelEntry


class CompareSwitching(ComparePanelBase):
    """On/off, plane and model of :class:`~medsr_viewer.gui.views.compare_panel.ComparePanel`
    (a part of the panel: its state is declared in :class:`ComparePanelBase`)."""

    # ---------------------------------------------------------------- on / off

    def set_enabled(self, enabled: bool) -> str:
        """Switch the comparison on (the viewer must show a study; on its single-layout
        plane) or off. Returns an empty string, or why it could not be switched on."""
        if enabled:
            if self.viewer.display is None:
                return "Open a study before switching super-resolution on"
            entry = self.model_picker.current_entry()
            if entry is None or entry.card is None:
                return "No super-resolution model: add one to the models folder"
            self.model.set_model(str(entry.path), SR_PANE)
        self.model.set_compare(enabled=enabled, orientation=self.viewer.orientation
                               if enabled else self.orientation)
        return ""

    def _on_layout(self) -> None:
        """The comparison follows the single layout's plane; three planes switch it off."""
        if not self.enabled:
            return
        if self.model.layout != Layout.SINGLE:
            self.model.set_compare(enabled=False)
        elif self.model.orientation != self.orientation:
            self.model.set_compare(orientation=self.model.orientation)

    def _on_compare(self) -> None:
        """Follow the view model's compare state."""
        old, new = self._applied, self.model.compare
        self._applied = new
        if not new.enabled:
            if old.enabled:
                self._switch_off()
            return
        if not old.enabled or old.orientation != new.orientation:
            self._switch_on()
            return
        if old.mode != new.mode:
            self._apply_mode()
        if old.interpolation != new.interpolation:
            self._update_original_label()
            self._update_title()
            self._update_original_grid()
            self.refresh_image()

    def _switch_off(self) -> None:
        self.worker.cancel(SR_PANE)
        self.maps.cancel()
        self.parent_widget().hide()
        self.original_label.hide()
        self.original_column.show()
        self._release_original()
        self.progress_bar.setValue(0)

    def _release_original(self) -> None:
        """The pane compared so far goes back to the viewer (its crosshair as the layout
        wants it: on in three planes)."""
        if self._original is not None:
            self._original.set_crosshair_enabled(self.model.layout == Layout.THREE_PLANE)
            self._original.set_finer_grid(None)
            self._original = None

    def _switch_on(self) -> None:
        display = self.viewer.display
        entry = self._entry_for(self.model.model(SR_PANE)) or self.model_picker.current_entry()
        if display is None or entry is None or entry.card is None:
            self.model.set_compare(enabled=False)
            return
        if self._original is not self.original_view:
            self._release_original()
            self.sr_view.set_orientation(self.orientation)
            self._slice = -1
        self._original = self.original_view
        self._set_display(display)
        self._set_entry(entry)
        self.parent_widget().show()
        self.original_label.show()
        self.fit_views()
        QTimer.singleShot(0, self.parent_widget(), self.fit_views)  # again once the panes have their sizes
        self.original_view.set_crosshair_enabled(True)
        self.sr_view.set_crosshair_enabled(True)
        self._apply_mode()
        self._on_cursor()

    def _sync_range(self, source: SliceView, target: SliceView) -> None:
        if self._syncing or not self.enabled:
            return
        self._syncing = True
        try:
            target.view_box.setRange(rect=source.view_box.viewRect(), padding=0.0)
        finally:
            self._syncing = False

    def fit_views(self) -> None:
        """Fit the slice in both panes with one shared range (they are linked)."""
        if not self.enabled:
            return
        self.original_view.reset_view()
        self.sr_view.view_box.setRange(rect=self.original_view.view_box.viewRect(), padding=0.0)

    def _set_display(self, display: DisplayVolume) -> None:
        self._use_display(display, keep_others=False)
        self.sr_view.set_display(display, self.model.window, self.model.slice_index(
            self.orientation))
        self.sr_view.set_volume_caption(self.model.caption)
        self.sr_view.image_item.setVisible(False)

    def volume_for(self, display: DisplayVolume) -> Volume:
        """The volume the model runs on for ``display`` (a view, made now and kept: switching
        on finds it, and the worker's warm-up fits its normalisation before the first S)."""
        return self._model_volumes.copy_for(display, keep_others=False)

    def _use_display(self, display: DisplayVolume, keep_others: bool = True) -> None:
        """Run the model on ``display`` from now on (its copy for the model kept a while
        with those of the volumes shown before it, see :class:`ModelVolumes`)."""
        if display is self._display:
            return
        self._display = display
        self._slice = -1
        self._model_volume = self._model_volumes.copy_for(display, keep_others)

    def _on_display_replaced(self, display: DisplayVolume) -> None:
        """Another volume of the 4-D study is shown: the SR pane follows it, in place."""
        if not self.enabled or self._display is None:
            return
        self._use_display(display)
        self.sr_view.replace_display(display)
        self.sr_view.image_item.setVisible(False)
        self.sr_view.set_volume_caption(self.model.caption)
        self._on_cursor()

    def _entry_for(self, path: str) -> ModelEntry | None:
        """The picker's entry of the model file ``path`` (``None`` when not listed)."""
        picker = self.model_picker
        for index in range(picker.count()):
            if path and str(picker.itemData(index)) == path:
                entry = picker.entry_at(index)
                if entry is not None:
                    return entry
        return None

    def _on_picked(self, _index: int) -> None:
        entry = self.model_picker.current_entry()
        if entry is not None:
            self.model.set_model(str(entry.path), SR_PANE)
        self._update_width_item()

    def _on_model_changed(self) -> None:
        path = self.model.model(SR_PANE)
        entry = self._entry_for(path)
        picker = self.model_picker
        if entry is not None and picker.current_entry() is not entry:
            picker.setCurrentIndex(next(i for i in range(picker.count())
                                        if str(picker.itemData(i)) == path))
        if self.enabled and entry is not None and entry.card is not None \
                and entry is not self._entry:
            self._set_entry(entry)
            self._on_cursor()

    def _set_entry(self, entry: ModelEntry) -> None:
        assert entry.card is not None
        self._entry = entry
        self._scale = max(int(entry.card.scale), 1)
        self._through = entry.card.task == THROUGH_PLANE_TASK
        self.through_controls.setVisible(self._through)
        self._slice = -1
        self._update_width_item()
        self._update_title()
        self._update_original_grid()

    def _update_width_item(self) -> None:
        """Offer the maps for in-plane models, "interval width" for calibrated ones."""
        self.controls.offer_maps(self._through, self.interval_level())

    def _update_title(self) -> None:
        entry = self._entry
        if entry is None or entry.card is None:
            return
        self.title.setText(pane_title(
            entry.name, entry.card, self._scale, self._through,
            None if self._buffer is None else (self._buffer.shape[0], self._buffer.shape[1]),
            self.mode, self.interpolation, self.interval_level()))
