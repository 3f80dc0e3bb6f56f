"""Window/level presets of the open study: the W/L menu, Ctrl+0 … and the toolbar box.

Which presets a study has depends on it (``auto``; ``stored`` when the file carries a
window; the CT presets for CT), so their actions are made when a study opens, through the
action registry (ids ``window.preset.<name>``). The combo box names the window shown, or
"custom" after a right-drag.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QMenu, QWidget

from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.core.windowing import CT_PRESETS, Window, preset_window, presets_for
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
        self.combo = QComboBox(parent)
        self.combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.combo.setToolTip("Window/level preset (right-drag on the image to adjust)")
        self.combo.textActivated.connect(self.apply)
        model.subscribe("window", self._show_name)
        model.subscribe("study", lambda: self.set_enabled(
            model.display is not None and not model.display.is_colour))
        self.rebuild("OT", False)

    def rebuild(self, modality: str, has_stored: bool) -> None:
        """Offer the presets of a study of ``modality`` (``stored`` if it carries a window)."""
        for name in list(self.preset_actions):
            self._actions.remove(PRESET_PREFIX + name)
        self.preset_actions.clear()
        self.menu.clear()
        self.combo.clear()
        self.combo.addItem(CUSTOM_WINDOW)
        for number, name in enumerate(presets_for(modality, has_stored)):
            spec = ActionSpec(PRESET_PREFIX + name, name.capitalize(), (f"Ctrl+{number}",),
                              f"Window preset {name}", "W/L")
            action = self._actions.add(spec, lambda _c=False, n=name: self.apply(n))
            self.menu.addAction(action)
            self.preset_actions[name] = action
            self.combo.addItem(name)
        self.named = {n: w for n, w in CT_PRESETS.items() if n in self.preset_actions}

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
