"""A combo box of the models that can run beside the original (super-resolution, enhance)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from medsr_viewer.models.registry import ModelEntry, ModelRegistry

#: Tasks the compare view runs: their output is an image on the original's (or a finer) grid.
COMPARE_TASKS = ("super_resolution", "enhance", "through_plane_sr")


#: Score lines shown in a tooltip at most (the card may hold many).
MAX_SCORE_LINES = 12
#: Longest text value shown in a tooltip line.
MAX_TEXT = 80


def _flatten(scores: object, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, short text)`` for every leaf of a nested scores mapping."""
    if isinstance(scores, dict):
        for key, value in scores.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(scores, float):
        yield prefix, f"{scores:.4g}"
    else:
        text = str(scores)
        yield prefix, text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def card_tooltip(entry: ModelEntry) -> str:
    """Task, scale, description and scores of a model, for a tooltip."""
    card = entry.card
    if card is None:
        return f"{entry.path.name}: {entry.error}"
    lines = [f"{card.name} ({entry.source})", f"task: {card.task}", f"scale: x{card.scale}"]
    if card.description:
        lines.append(card.description)
    # The model's own numbers first, baselines (bicubic, ...) after.
    scores = sorted(_flatten(card.scores), key=lambda kv: "model" not in kv[0].split("."))
    if scores:
        lines.append("scores:")
        lines.extend(f"  {key}: {value}" for key, value in scores[:MAX_SCORE_LINES])
        if len(scores) > MAX_SCORE_LINES:
            lines.append(f"  … {len(scores) - MAX_SCORE_LINES} more (medsr models --json)")
    lines.append(str(entry.path))
    return "\n".join(lines)


#: Characters of a model name the picker shows without eliding.
PICKER_NAME_CHARS = 14


class ModelPicker(QComboBox):
    """Lists the registry's super-resolution and enhancement models; data = file path.

    Parameters
    ----------
    registry
        Where models are found (default: bundled and user folders).
    parent
        Qt parent.
    """

    def __init__(self, registry: ModelRegistry | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.registry = registry if registry is not None else ModelRegistry()
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # a fixed width (names longer than this are elided; the tooltip has the card): a long
        # model name must not push the SR controls off the toolbar
        self.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(PICKER_NAME_CHARS)
        self._entries: list[ModelEntry] = []
        self.currentIndexChanged.connect(self._update_tooltip)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the registry's folders (keeps explicitly added paths)."""
        extra = [e for e in self._entries if e.source == "path"]
        self.clear()
        self._entries = []
        for entry in [*self.registry.entries(), *extra]:
            if entry.card is not None and entry.card.task in COMPARE_TASKS:
                self._append(entry)
        # The toggle is "Super-Resolution": start on an SR model, not the first name in order.
        for index, entry in enumerate(self._entries):
            if entry.card is not None and entry.card.task == "super_resolution":
                self.setCurrentIndex(index)
                break
        self._update_tooltip()

    def _append(self, entry: ModelEntry) -> None:
        self._entries.append(entry)
        perceptual = entry.card is not None and entry.card.perceptual
        self.addItem(f"{entry.name} (perceptual)" if perceptual else entry.name, str(entry.path))
        self.setItemData(self.count() - 1, card_tooltip(entry), Qt.ItemDataRole.ToolTipRole)

    def add_path(self, path: str | Path) -> ModelEntry:
        """Add a model file by path (any task is listed only if it is an image task) and select it.

        Raises
        ------
        medsr_viewer.models.registry.ModelRejected
            When the path is not a model file.
        """
        from medsr_viewer.models.registry import describe

        entry = describe(Path(self.registry.resolve(path)), "path")
        self._append(entry)
        self.setCurrentIndex(self.count() - 1)
        return entry

    def entry_at(self, index: int) -> ModelEntry | None:
        """The model listed at ``index``, or ``None`` out of range."""
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def current_entry(self) -> ModelEntry | None:
        """The selected model, or ``None`` when the list is empty."""
        index = self.currentIndex()
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def _update_tooltip(self, *_args: object) -> None:
        entry = self.current_entry()
        self.setToolTip(card_tooltip(entry) if entry else "No super-resolution model installed")
