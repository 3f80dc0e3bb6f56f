"""The colour map of every image pane, applied from the view model (``lut`` event).

:class:`PaneColours` gives each attached pane the lookup table of
:attr:`~medsr_viewer.core.view_model.ViewModel.lut` on its image items and a
:class:`~medsr_viewer.gui.views.colour_bar.ColourBar` labelled with the window, shown while
the image is coloured (not plain grey). The SR pane attaches with its own items and a test of
whether it shows the SR image (a difference or uncertainty map has its own colours and bar).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyqtgraph as pg

from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.views.colour_bar import ColourBar
from medsr_viewer.gui.views.image_luts import lookup_table
from medsr_viewer.gui.views.slice_view import SliceView


@dataclass
class _Pane:
    view: SliceView
    items: Sequence[pg.ImageItem]
    bar: ColourBar
    shows_image: Callable[[], bool]


class PaneColours:
    """Applies the view model's colour map to the panes attached.

    Parameters
    ----------
    model
        The view state (its ``lut`` and ``window``).
    """

    def __init__(self, model: ViewModel) -> None:
        self.model = model
        self._panes: list[_Pane] = []
        self._unsubscribe = [model.subscribe("lut", self.refresh),
                             model.subscribe("window", self.refresh),
                             model.subscribe("study", self.refresh)]

    def attach(self, view: SliceView, items: Sequence[pg.ImageItem] | None = None,
               shows_image: Callable[[], bool] | None = None) -> ColourBar:
        """Colour ``items`` (default: the pane's image) of ``view`` and give it a colour bar;
        ``shows_image`` says whether the pane shows the image now (default: always)."""
        pane = _Pane(view, list(items) if items is not None else [view.image_item],
                     ColourBar(view.view_box), shows_image or (lambda: True))
        self._panes.append(pane)
        view.view_box.sigResized.connect(lambda *_a, p=pane: self._refresh_pane(p))
        view.displayChanged.connect(lambda p=pane: self._refresh_pane(p))
        view.destroyed.connect(lambda *_a, p=pane: self._panes.remove(p)
                               if p in self._panes else None)
        self._refresh_pane(pane)
        return pane.bar

    def bar(self, view: SliceView) -> ColourBar:
        """The colour bar of an attached pane (``KeyError`` when not attached)."""
        for pane in self._panes:
            if pane.view is view:
                return pane.bar
        raise KeyError("pane not attached")

    def refresh(self) -> None:
        """Apply the colour map and window to every attached pane."""
        for pane in self._panes:
            self._refresh_pane(pane)

    def close(self) -> None:
        """Stop following the view model."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _refresh_pane(self, pane: _Pane) -> None:
        state = self.model.lut
        display = pane.view.display
        coloured_study = display is not None and display.is_colour
        image = pane.shows_image()
        if image:
            table = None if coloured_study else lookup_table(state)
            for item in pane.items:
                item.setLookupTable(table)
        pane.bar.set_state(state, self.model.window)
        pane.bar.set_shown(image and display is not None and not coloured_study
                           and not state.plain)
