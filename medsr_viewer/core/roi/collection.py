"""The ROI document of a session and the undoable commands that edit it.

A :class:`RoiSet` holds the ROIs in drawing order keyed by ``roi_id``. Edits go through
:class:`RoiEditor`, which wraps each one in a command on a
:class:`~medsr_viewer.core.history.History` so that every edit (add, move, resize, restyle,
delete) is undoable. Commands store whole immutable ROI values, so undo restores exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from medsr_viewer.core.history import History, HistoryError
from medsr_viewer.core.roi.shapes import BrushRoi, BrushStroke, Roi


class RoiSet:
    """Ordered collection of ROIs keyed by id, with change listeners.

    Listeners get the id of the ROI that changed (added, replaced or removed) so a metrics
    panel can recompute just that ROI.
    """

    def __init__(self, rois: Iterable[Roi] = ()) -> None:
        self._rois: dict[str, Roi] = {}
        self._listeners: list[Callable[[str], None]] = []
        for roi in rois:
            self.insert(roi)

    def __len__(self) -> int:
        return len(self._rois)

    def __iter__(self) -> Iterator[Roi]:
        return iter(list(self._rois.values()))

    def __contains__(self, roi_id: object) -> bool:
        return roi_id in self._rois

    def __getitem__(self, roi_id: str) -> Roi:
        return self._rois[roi_id]

    def ids(self) -> list[str]:
        """ROI ids in drawing order."""
        return list(self._rois)

    def index_of(self, roi_id: str) -> int:
        """Position of an ROI in drawing order."""
        return self.ids().index(roi_id)

    def insert(self, roi: Roi, index: int | None = None) -> None:
        """Add a new ROI (at ``index`` in drawing order, default last)."""
        if roi.roi_id in self._rois:
            raise ValueError(f"an ROI with id {roi.roi_id} already exists")
        items = list(self._rois.items())
        position = len(items) if index is None else index
        items.insert(position, (roi.roi_id, roi))
        self._rois = dict(items)
        self._notify(roi.roi_id)

    def replace(self, roi: Roi) -> Roi:
        """Swap in an edited ROI with an existing id; returns the previous value."""
        if roi.roi_id not in self._rois:
            raise KeyError(f"no ROI with id {roi.roi_id}")
        previous = self._rois[roi.roi_id]
        self._rois[roi.roi_id] = roi
        self._notify(roi.roi_id)
        return previous

    def remove(self, roi_id: str) -> Roi:
        """Delete an ROI; returns it."""
        roi = self._rois.pop(roi_id)
        self._notify(roi_id)
        return roi

    def subscribe(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener(roi_id)`` after every change; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, roi_id: str) -> None:
        for listener in list(self._listeners):
            listener(roi_id)


@dataclass
class AddRoi:
    """Command: add an ROI."""

    rois: RoiSet
    roi: Roi
    index: int | None = None

    @property
    def description(self) -> str:
        """Menu text."""
        return f"Add {self.roi.kind} ROI"

    def apply(self) -> None:
        """Insert the ROI."""
        self.rois.insert(self.roi, self.index)

    def revert(self) -> None:
        """Remove it again."""
        self.rois.remove(self.roi.roi_id)


@dataclass
class RemoveRoi:
    """Command: delete an ROI (undo puts it back at the same position)."""

    rois: RoiSet
    roi_id: str
    _removed: Roi | None = None
    _index: int = 0

    @property
    def description(self) -> str:
        """Menu text."""
        return "Delete ROI"

    def apply(self) -> None:
        """Remove the ROI, remembering value and position."""
        self._index = self.rois.index_of(self.roi_id)
        self._removed = self.rois.remove(self.roi_id)

    def revert(self) -> None:
        """Reinsert the removed ROI where it was."""
        if self._removed is None:
            raise HistoryError("delete was never applied")
        self.rois.insert(self._removed, self._index)


@dataclass
class ReplaceRoi:
    """Command: replace an ROI by an edited version (move, resize, rename, recolour, paint)."""

    rois: RoiSet
    new: Roi
    label: str = "Edit ROI"
    _old: Roi | None = None

    @property
    def description(self) -> str:
        """Menu text."""
        return self.label

    def apply(self) -> None:
        """Swap in the new value."""
        self._old = self.rois.replace(self.new)

    def revert(self) -> None:
        """Swap the old value back."""
        if self._old is None:
            raise HistoryError("edit was never applied")
        self.rois.replace(self._old)


class RoiEditor:
    """Undoable editing operations on a :class:`RoiSet`, recorded on a :class:`History`."""

    def __init__(self, rois: RoiSet, history: History) -> None:
        self.rois = rois
        self.history = history

    def add(self, roi: Roi) -> Roi:
        """Add an ROI (undoable)."""
        self.history.push(AddRoi(self.rois, roi))
        return roi

    def remove(self, roi_id: str) -> None:
        """Delete an ROI (undoable)."""
        self.history.push(RemoveRoi(self.rois, roi_id))

    def replace(self, roi: Roi, label: str = "Edit ROI") -> Roi:
        """Replace an ROI by an edited copy with the same id (undoable)."""
        if roi.roi_id not in self.rois:
            raise KeyError(f"no ROI with id {roi.roi_id}")
        self.history.push(ReplaceRoi(self.rois, roi, label))
        return roi

    def move(self, roi_id: str, du: float, dv: float) -> Roi:
        """Move an ROI within its plane by ``(du, dv)`` mm (undoable)."""
        return self.replace(self.rois[roi_id].translated(du, dv), "Move ROI")

    def rename(self, roi_id: str, name: str) -> Roi:
        """Rename an ROI (undoable)."""
        return self.replace(replace(self.rois[roi_id], name=name), "Rename ROI")

    def recolor(self, roi_id: str, color: tuple[int, int, int]) -> Roi:
        """Change an ROI's display colour (undoable)."""
        return self.replace(replace(self.rois[roi_id], color=color), "Change ROI colour")

    def add_stroke(self, roi_id: str, stroke: BrushStroke) -> Roi:
        """Add a brush or eraser stroke to a brush ROI (undoable, one step per stroke)."""
        roi = self.rois[roi_id]
        if not isinstance(roi, BrushRoi):
            raise TypeError(f"ROI {roi_id} is a {roi.kind} ROI, not a brush mask")
        label = "Erase" if stroke.erase else "Paint"
        return self.replace(roi.with_stroke(stroke), label)
