"""The one place QActions are made: from the action table, bound by id.

Every feature asks the registry for its actions (:meth:`ActionRegistry.bind`) instead of
creating its own, so text, shortcuts and tips come from
:data:`~medsr_viewer.gui.actions.table.ACTIONS` and the menus
(:meth:`ActionRegistry.fill_menu`) and the shortcut help (:meth:`ActionRegistry.rows`) list
the same actions. Each action is added to the window, so its shortcut works with menus and
toolbars hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from medsr_viewer.gui.actions.table import ACTIONS, ActionSpec

STANDARD_PREFIX = "std:"
#: Object name of a window's registry (see :meth:`ActionRegistry.of`).
REGISTRY_NAME = "actionRegistry"


def key_sequence(text: str) -> QKeySequence:
    """``"Ctrl+O"`` or a standard key (``"std:Open"``) as a key sequence."""
    if text.startswith(STANDARD_PREFIX):
        return QKeySequence(getattr(QKeySequence.StandardKey, text[len(STANDARD_PREFIX):]))
    return QKeySequence(text)


def shortcut_text(spec: ActionSpec) -> str:
    """The shortcuts of ``spec`` as the user reads them ("Ctrl+Z, Ctrl+Y"; "" if none)."""
    return ", ".join(key_sequence(s).toString() for s in spec.shortcuts)


class ActionRegistry(QObject):
    """Makes, keeps and lists the window's actions.

    Parameters
    ----------
    window
        The window every action belongs to (and is added to, for its shortcut).
    specs
        The action table (default: :data:`~medsr_viewer.gui.actions.table.ACTIONS`).
    """

    def __init__(self, window: QWidget, specs: Iterable[ActionSpec] = ACTIONS) -> None:
        super().__init__(window)
        self.setObjectName(REGISTRY_NAME)
        self._window = window
        self._specs: dict[str, ActionSpec] = {}
        self._actions: dict[str, QAction] = {}
        self._groups: dict[str, QActionGroup] = {}
        for spec in specs:
            if spec.id in self._specs:
                raise ValueError(f"action {spec.id!r} is defined twice")
            self._specs[spec.id] = spec

    @classmethod
    def of(cls, window: QWidget) -> ActionRegistry:
        """The registry of ``window`` (made on first use): features built with the window
        bind their actions here without being handed the registry."""
        found = window.findChild(ActionRegistry, REGISTRY_NAME)
        if found is None:
            found = cls(window)
        return found

    # ---------------------------------------------------------------- actions

    def spec(self, action_id: str) -> ActionSpec:
        """The table entry of ``action_id`` (``KeyError`` names an unknown id)."""
        try:
            return self._specs[action_id]
        except KeyError:
            raise KeyError(f"no action {action_id!r} in the action table") from None

    def action(self, action_id: str) -> QAction:
        """The action ``action_id``, made from its table entry on first use."""
        action = self._actions.get(action_id)
        if action is None:
            action = self._make(self.spec(action_id))
            self._actions[action_id] = action
        return action

    def bind(self, action_id: str, slot: Callable[..., object],
             signal: str = "triggered") -> QAction:
        """Connect ``slot`` to the action's ``triggered`` (or ``toggled``) signal; returns it."""
        action = self.action(action_id)
        getattr(action, signal).connect(slot)
        return action

    def add(self, spec: ActionSpec, slot: Callable[..., object] | None = None) -> QAction:
        """Add an action made at run time (a window preset of the open study) and bind it."""
        if spec.id in self._actions:
            self.remove(spec.id)
        self._specs[spec.id] = spec
        action = self.action(spec.id)
        if slot is not None:
            action.triggered.connect(slot)
        return action

    def remove(self, action_id: str) -> None:
        """Forget a run-time action and delete its QAction."""
        action = self._actions.pop(action_id, None)
        self._specs.pop(action_id, None)
        if action is not None:
            self._window.removeAction(action)
            action.deleteLater()

    def exclusive(self, name: str, action_ids: Iterable[str],
                  optional: bool = False) -> QActionGroup:
        """Put actions in an exclusive group (one checked; ``optional``: maybe none)."""
        group = QActionGroup(self)
        group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional if optional
                                 else QActionGroup.ExclusionPolicy.Exclusive)
        for action_id in action_ids:
            group.addAction(self.action(action_id))
        self._groups[name] = group
        return group

    def _make(self, spec: ActionSpec) -> QAction:
        action = QAction(spec.text, self._window)
        keys = [key_sequence(s) for s in spec.shortcuts]
        if keys:
            action.setShortcuts(keys)
        action.setCheckable(spec.checkable)
        if spec.icon_text:
            action.setIconText(spec.icon_text)
        shown = shortcut_text(spec)
        if spec.tip:
            action.setStatusTip(spec.tip)
        tip = spec.tip or spec.text.replace("&", "")
        action.setToolTip(f"{tip} ({shown})" if shown else tip)
        self._window.addAction(action)  # the shortcut works with menus and toolbars hidden
        return action

    # ---------------------------------------------------------------- listing

    def ids(self, menu: str | None = None) -> list[str]:
        """Action ids in table order (those of one ``menu`` when given)."""
        return [i for i, s in self._specs.items() if menu is None or s.menu == menu]

    def fill_menu(self, menu: QMenu, name: str, skip: Iterable[str] = ()) -> None:
        """Add the actions of menu ``name`` to ``menu``, separators between sections."""
        skipped = set(skip)
        section: int | None = None
        for action_id in self.ids(name):
            if action_id in skipped:
                continue
            spec = self._specs[action_id]
            if section is not None and spec.section != section:
                menu.addSeparator()
            section = spec.section
            menu.addAction(self.action(action_id))

    def rows(self) -> list[tuple[str, str, str, str]]:
        """``(menu, action, shortcuts, tip)`` of every action with a shortcut, for the help."""
        return [(s.menu or "Keyboard", s.text.replace("&", ""), shortcut_text(s), s.tip)
                for s in self._specs.values() if s.shortcuts]

    def with_shortcuts(self, action_id: str, shortcuts: tuple[str, ...]) -> None:
        """Give an action other shortcuts (a user setting); the table entry follows."""
        spec = replace(self.spec(action_id), shortcuts=shortcuts)
        self._specs[action_id] = spec
        action = self._actions.get(action_id)
        if action is not None:
            action.setShortcuts([key_sequence(s) for s in shortcuts])
