"""Undo/redo command stack, Qt-free.

Every user edit (add/move/resize/delete an ROI, paint a label map ...) is a :class:`Command`
that knows how to apply and revert itself against a document object it holds a reference to
(an :class:`~medsr_viewer.core.roi.collection.RoiSet`, a label array ...). Commands refer to
what they edit by identity (ROI ids, voxel indices), never by view state, so the history stays
valid when other state changes: a model run replacing the SR volume, a new label layer, a
changed window or slice do not touch it and do not clear it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class HistoryError(RuntimeError):
    """Undo/redo was asked for with nothing to undo/redo, or a command could not apply."""


class Command(Protocol):
    """One undoable edit."""

    @property
    def description(self) -> str:
        """Short text for menus ("Undo Move ROI")."""
        ...

    def apply(self) -> None:
        """Perform (or re-perform) the edit."""
        ...

    def revert(self) -> None:
        """Undo the edit, restoring the exact previous state."""
        ...


@dataclass
class CallbackCommand:
    """A command made of two callables, for simple edits."""

    description: str
    do: Callable[[], None]
    undo: Callable[[], None]

    def apply(self) -> None:
        """Call ``do``."""
        self.do()

    def revert(self) -> None:
        """Call ``undo``."""
        self.undo()


@dataclass
class MacroCommand:
    """Several commands applied in order and reverted in reverse order, as one undo step."""

    description: str
    commands: list[Command] = field(default_factory=list)

    def apply(self) -> None:
        """Apply every sub-command in order."""
        for command in self.commands:
            command.apply()

    def revert(self) -> None:
        """Revert every sub-command in reverse order."""
        for command in reversed(self.commands):
            command.revert()


class History:
    """Linear undo/redo stack.

    Parameters
    ----------
    limit
        Most undo steps kept (oldest dropped first); ``None`` keeps all.

    Listeners registered with :meth:`subscribe` are called with no arguments after every
    change (push, undo, redo, clear), so a GUI can refresh its menus and panels.
    """

    def __init__(self, limit: int | None = 200) -> None:
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._limit = limit
        self._listeners: list[Callable[[], None]] = []
        self._clean_index: int | None = 0

    def push(self, command: Command, already_applied: bool = False) -> None:
        """Apply ``command`` (unless ``already_applied``) and record it; clears the redo stack."""
        if not already_applied:
            command.apply()
        if self._clean_index is not None and self._clean_index > len(self._undo):
            self._clean_index = None  # the saved state was in the redo stack: now unreachable
        self._undo.append(command)
        self._redo.clear()
        if self._limit is not None and len(self._undo) > self._limit:
            del self._undo[0]
            if self._clean_index is not None:
                self._clean_index -= 1
                if self._clean_index < 0:
                    self._clean_index = None
        self._notify()

    def undo(self) -> Command:
        """Revert the last command; raises :class:`HistoryError` if there is none."""
        if not self._undo:
            raise HistoryError("nothing to undo")
        command = self._undo.pop()
        command.revert()
        self._redo.append(command)
        self._notify()
        return command

    def redo(self) -> Command:
        """Re-apply the last undone command; raises :class:`HistoryError` if there is none."""
        if not self._redo:
            raise HistoryError("nothing to redo")
        command = self._redo.pop()
        command.apply()
        self._undo.append(command)
        self._notify()
        return command

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` would do something."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether :meth:`redo` would do something."""
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        """Description of the command :meth:`undo` would revert (empty if none)."""
        return self._undo[-1].description if self._undo else ""

    @property
    def redo_text(self) -> str:
        """Description of the command :meth:`redo` would apply (empty if none)."""
        return self._redo[-1].description if self._redo else ""

    def __len__(self) -> int:
        return len(self._undo)

    def clear(self) -> None:
        """Forget all steps (e.g. when a different study is opened)."""
        self._undo.clear()
        self._redo.clear()
        self._clean_index = 0
        self._notify()

    def mark_clean(self) -> None:
        """Record the current state as saved (see :attr:`is_clean`)."""
        self._clean_index = len(self._undo)
        self._notify()

    @property
    def is_clean(self) -> bool:
        """Whether the document is in the state last marked clean (nothing unsaved)."""
        return self._clean_index == len(self._undo)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change; returns a function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
