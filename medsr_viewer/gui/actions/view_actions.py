"""The View menu's actions, bound to the view model and showing its state.

Planes (1/2/3), three planes (4), Reset View, Super-Resolution (S), the slice keys and the
ROI Metrics dock. Their checked and enabled states follow the view model (layout,
comparison, study), whoever changed it — a key, a menu, a session restore or a script.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDockWidget

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.view_model import Layout, ViewModel, only_plane
from medsr_viewer.gui.actions.registry import ActionRegistry

PLANE_ACTIONS = {Orientation.AXIAL: "view.axial", Orientation.CORONAL: "view.coronal",
                 Orientation.SAGITTAL: "view.sagittal"}


class ViewActions:
    """Binds the View menu's actions.

    Parameters
    ----------
    actions
        The window's action registry.
    model
        The view state the actions change and show.
    reset_view
        Fits every pane and restores the default window (Reset View).
    set_sr_enabled
        Switches the comparison on or off (the window's intent, which reports problems).
    metrics_dock
        The ROI Metrics dock (shown and hidden by its action).
    """

    def __init__(self, actions: ActionRegistry, model: ViewModel, reset_view: Callable[[], None],
                 set_sr_enabled: Callable[[bool], None], metrics_dock: QDockWidget) -> None:
        self._model = model
        self.orientation_actions = {
            o: actions.bind(i, lambda _c=False, o=o: model.set_orientation(o))
            for o, i in PLANE_ACTIONS.items()}
        self.three_plane_action = actions.bind("view.three_plane", lambda checked: model.set_layout(
            Layout.THREE_PLANE if checked else Layout.SINGLE))
        actions.exclusive("layout", [*PLANE_ACTIONS.values(), "view.three_plane"], optional=True)
        self.sr_action = actions.bind("view.sr", set_sr_enabled)
        self.reset_action = actions.bind("view.reset", reset_view)
        steps = {"slice.next": 1, "slice.previous": -1, "slice.forward10": 10,
                 "slice.back10": -10}
        self.slice_actions = [actions.bind(i, lambda _c=False, n=n: model.step_slice(n))
                              for i, n in steps.items()]
        self.slice_actions += [
            actions.bind("slice.first", lambda: model.go_to_end(last=False)),
            actions.bind("slice.last", lambda: model.go_to_end(last=True))]
        metrics = actions.bind("view.metrics_dock", metrics_dock.setVisible, "toggled")
        metrics_dock.visibilityChanged.connect(metrics.setChecked)
        model.subscribe("study", self._show_enabled)
        model.subscribe("layout", self._show_layout)
        model.subscribe("compare", lambda: self.sr_action.setChecked(model.compare.enabled))
        self._show_enabled()

    def _show_enabled(self) -> None:
        display = self._model.display
        for action in [*self.slice_actions, self.reset_action]:
            action.setEnabled(display is not None)
        only = only_plane(display)  # a 2-D image: one plane to show
        for orientation, action in self.orientation_actions.items():
            action.setEnabled(only is None or orientation == only)
        self.three_plane_action.setEnabled(only is None)

    def _show_layout(self) -> None:
        if self._model.layout == Layout.THREE_PLANE:
            self.three_plane_action.setChecked(True)  # the group unchecks the plane
        else:
            self.orientation_actions[self._model.orientation].setChecked(True)
