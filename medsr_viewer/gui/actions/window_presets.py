"""Window/level presets of the open study: the W/L menu, Ctrl+0 … and the toolbar box.

Which presets a study has depends on it (its stored windows first: ``stored``, ``stored-2``
…, with the file's explanation in the tooltip; ``auto`` and the data presets; the CT presets
for CT: :func:`~medsr_viewer.core.windowing.presets_for`), so their actions are made when a
study opens, through the action registry (ids ``window.preset.<name>``). The colour maps and
Invert (:class:`~medsr_viewer.gui.actions.colour_actions.ColourActions`) follow in the menu.
The combo box names the window shown, or "custom" after a right-drag.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QMenu, QWidget

from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import (
    CT_PRESETS,
    PRESET_TIPS,
    Window,
    preset_window,
    presets_for,
    stored_windows,
)
from medsr_viewer.gui.actions.colour_actions import ColourActions
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.actions.table import PRESET_PREFIX, ActionSpec

#: Combo-box entry shown when the window matches no named preset (after a right-drag).
CUSTOM_WINDOW = "custom"


class WindowPresets:
    """The presets of the open study, applied to the view model.

    Parameters
    ----------
    model
        The view state (its study and window).
    actions
        The window's action registry.
    parent
        Parent of the combo box and the menu.
    """

    def __init__(self, model: ViewModel, actions: ActionRegistry, parent: QWidget) -> None:
        self._model = model
        self._actions = actions
        self.preset_actions: dict[str, QAction] = {}
        #: Windows with a name (presets applied so far, the default), to label the combo box.
        self.named: dict[str, Window] = {}
        self.menu = QMenu("&W/L", parent)
        #: Colour maps and Invert, listed after the presets.
        self.colours = ColourActions(model, actions)
        self.combo = QComboBox(parent)
        self.combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.combo.setToolTip("Window/level preset (right-drag on the image to adjust)")
        self.combo.textActivated.connect(self.apply)
        model.subscribe("window", self._show_name)
        model.subscribe("study", lambda: self.set_enabled(
            model.display is not None and not model.display.is_colour))
        self.rebuild(None)

    def rebuild(self, volume: Volume | None) -> None:
        """Offer the presets of ``volume`` (``None``: no study, ``auto`` only)."""
        for name in list(self.preset_actions):
            self._actions.remove(PRESET_PREFIX + name)
        self.preset_actions.clear()
        self.menu.clear()
        self.combo.clear()
        self.combo.addItem(CUSTOM_WINDOW)
        stored = stored_windows(volume) if volume is not None else {}
        names = presets_for(volume) if volume is not None else ["auto"]
        for number, name in enumerate(names):
            tip = PRESET_TIPS.get(name, "")
            if name in stored:
                window, explanation = stored[name]
                tip = (f"Stored with the study ({explanation}): " if explanation
                       else "Stored with the study: ") + f"L {window.center:g} W {window.width:g}"
            keys = (f"Ctrl+{number}",) if number < 10 else ()
            text = f"{name.capitalize()}  ({stored[name][1]})" if stored.get(
                name, (None, ""))[1] else name.capitalize()
            spec = ActionSpec(PRESET_PREFIX + name, text, keys, tip or f"Window preset {name}",
                              "W/L")
            action = self._actions.add(spec, lambda _c=False, n=name: self.apply(n))
            self.menu.addAction(action)
            self.preset_actions[name] = action
            self.combo.addItem(name)
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.menu.addSeparator()
        for action in self.colours.all:
            self.menu.addAction(action)
        self.named = {n: w for n, w in CT_PRESETS.items() if n in self.preset_actions}
        self.named.update({n: w for n, (w, _e) in stored.items()})

    def apply(self, name: str) -> None:
        """Apply a preset by name (``auto``, ``stored`` or a CT preset)."""
        display = self._model.display
        if display is None or name not in self.preset_actions:
            return
        self.named[name] = preset_window(name, display.volume)
        self._model.set_window(self.named[name])

    def set_enabled(self, enabled: bool) -> None:
        """Presets apply to windowed images (not colour ones)."""
        for action in self.preset_actions.values():
            action.setEnabled(enabled)
        self.combo.setEnabled(enabled)

    def _show_name(self) -> None:
        window = self._model.window
        name = next((n for n, w in self.named.items() if w == window), CUSTOM_WINDOW)
        self.combo.setCurrentIndex(max(self.combo.findText(name), 0))
