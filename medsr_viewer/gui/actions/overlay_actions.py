"""The View menu's overlay and zoom actions: Information Overlay (I), Scale Bar, Crosshair
(C), Show Patient Data (off by default), Zoom to Fit (Z), Zoom 1:1 (Shift+Z), Zoom 2:1
(Alt+Z).

The switches are :class:`~medsr_viewer.core.pane_info.OverlayOptions` (checked states
follow it, whoever changed it); the zoom actions call ``zoom(factor)`` (``None``: fit), which
acts on the active pane and writes its view rectangle into the view model.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction

from medsr_viewer.core.pane_info import OverlayOptions
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry

#: Action id and the overlay switch it toggles.
SWITCHES = {"view.info_overlay": "info", "view.scale_bar": "scale_bar",
            "view.crosshair": "crosshair", "view.patient_data": "patient_data"}
#: Action id and the zoom factor it sets (``None``: fit the slice).
ZOOMS: dict[str, float | None] = {"view.zoom_fit": None, "view.zoom_1_1": 1.0,
                                  "view.zoom_2_1": 2.0}


class OverlayActions:
    """Binds the overlay switches and the zoom actions.

    Parameters
    ----------
    actions
        The window's action registry.
    model
        The view state (the zoom actions are enabled with a study).
    options
        The overlay switches the toggles change and show.
    zoom
        Sets the active pane's zoom in screen pixels per image pixel (``None``: fit).
    """

    def __init__(self, actions: ActionRegistry, model: ViewModel, options: OverlayOptions,
                 zoom: Callable[[float | None], None]) -> None:
        self._model = model
        self._options = options
        self.switches: dict[str, QAction] = {}
        for action_id, name in SWITCHES.items():
            action = actions.action(action_id)
            action.setChecked(bool(getattr(options.state, name)))
            action.toggled.connect(lambda checked, n=name: options.set(**{n: checked}))
            self.switches[action_id] = action
        self.zoom_actions = [actions.bind(i, lambda _c=False, f=f: zoom(f))
                             for i, f in ZOOMS.items()]
        self._unsubscribe = [options.subscribe(self._show_options),
                             model.subscribe("study", self._show_enabled)]
        self._show_enabled()

    def close(self) -> None:
        """Stop following the switches and the view model."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _show_options(self) -> None:
        for action_id, name in SWITCHES.items():
            self.switches[action_id].setChecked(bool(getattr(self._options.state, name)))

    def _show_enabled(self) -> None:
        for action in self.zoom_actions:
            action.setEnabled(self._model.display is not None)
