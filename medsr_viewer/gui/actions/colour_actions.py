"""The colour-map actions of the W/L menu: grey, hot, inferno, viridis, next (M), invert.

They write the view model's :attr:`~medsr_viewer.core.view_model.ViewModel.lut` and show its
state (the checked map, Invert checked) whenever it changes, also from a session or a new
series (which starts grey). The panes apply it (:mod:`~medsr_viewer.gui.views.pane_colours`).
"""

from __future__ import annotations

from PySide6.QtGui import QAction

from medsr_viewer.core.view_model import COLORMAPS, ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry


class ColourActions:
    """Binds the ``lut.*`` actions to the view model.

    Parameters
    ----------
    model
        The view state.
    actions
        The window's action registry.
    """

    def __init__(self, model: ViewModel, actions: ActionRegistry) -> None:
        self._model = model
        self.maps: dict[str, QAction] = {
            name: actions.bind(f"lut.{name}", lambda _c=False, n=name: model.set_lut(n))
            for name in COLORMAPS
        }
        actions.exclusive("lut.maps", [f"lut.{name}" for name in COLORMAPS])
        self.next_action = actions.bind("lut.next", self.next_map)
        self.invert_action = actions.bind("lut.invert", lambda checked: model.set_lut(
            invert=bool(checked)))
        model.subscribe("lut", self._show)
        self._show()

    @property
    def all(self) -> list[QAction]:
        """The actions in menu order (maps, then next and invert)."""
        return [*self.maps.values(), self.next_action, self.invert_action]

    def next_map(self) -> None:
        """The colour map after the current one (round to grey)."""
        current = COLORMAPS.index(self._model.lut.colormap)
        self._model.set_lut(COLORMAPS[(current + 1) % len(COLORMAPS)])

    def _show(self) -> None:
        state = self._model.lut
        self.maps[state.colormap].setChecked(True)
        self.invert_action.setChecked(state.invert)
