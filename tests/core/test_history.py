"""Undo/redo stack and undoable ROI edits."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.core.history import CallbackCommand, History, HistoryError, MacroCommand
from medsr_viewer.core.roi import (
    BrushRoi,
    BrushStroke,
    EllipseRoi,
    Plane,
    RectangleRoi,
    RoiEditor,
    RoiSet,
    rasterize,
)
from medsr_viewer.core.volume import Volume

AXIAL = Plane((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def _counter_command(state: list[int], step: int) -> CallbackCommand:
    def do() -> None:
        state.append(step)

    def undo() -> None:
        assert state.pop() == step

    return CallbackCommand(f"step {step}", do, undo)


def test_push_undo_redo_and_redo_cleared_by_new_edit() -> None:
    state: list[int] = []
    history = History()
    calls: list[int] = []
    unsubscribe = history.subscribe(lambda: calls.append(len(history)))
    for step in (1, 2, 3):
        history.push(_counter_command(state, step))
    assert state == [1, 2, 3] and history.undo_text == "step 3"
    history.undo()
    history.undo()
    assert state == [1] and history.can_redo and history.redo_text == "step 2"
    history.redo()
    assert state == [1, 2]
    history.push(_counter_command(state, 9))
    assert not history.can_redo and state == [1, 2, 9]
    with pytest.raises(HistoryError):
        history.redo()
    assert calls[-1] == 3
    unsubscribe()
    history.undo()
    assert calls[-1] == 3  # no more notifications


def test_limit_macro_and_clean_state() -> None:
    state: list[int] = []
    history = History(limit=2)
    history.push(MacroCommand("two", [_counter_command(state, 1), _counter_command(state, 2)]))
    history.mark_clean()
    assert history.is_clean
    history.push(_counter_command(state, 3))
    assert not history.is_clean
    history.undo()
    assert history.is_clean
    history.undo()
    assert state == [] and not history.can_undo
    with pytest.raises(HistoryError, match="nothing to undo"):
        history.undo()
    for step in (4, 5, 6):
        history.push(_counter_command(state, step))
    assert len(history) == 2 and not history.is_clean


def test_roi_edits_undo_and_redo_exactly() -> None:
    rois = RoiSet()
    history = History()
    editor = RoiEditor(rois, history)
    changed: list[str] = []
    rois.subscribe(changed.append)
    ellipse = editor.add(EllipseRoi(AXIAL, cu=10, cv=10, ru=4, rv=3))
    rect = editor.add(RectangleRoi(AXIAL, u0=0, v0=0, u1=5, v1=5))
    editor.move(ellipse.roi_id, 2.5, -1.0)
    assert rois[ellipse.roi_id].cu == 12.5 and rois[ellipse.roi_id].cv == 9.0
    editor.rename(rect.roi_id, "muscle")
    editor.remove(ellipse.roi_id)
    assert rois.ids() == [rect.roi_id] and changed[-1] == ellipse.roi_id
    history.undo()  # delete
    assert rois.ids() == [ellipse.roi_id, rect.roi_id]  # back at its position
    history.undo()  # rename
    assert rois[rect.roi_id].name == ""
    history.undo()  # move
    assert rois[ellipse.roi_id] == ellipse
    history.redo()
    history.redo()
    assert rois[rect.roi_id].name == "muscle" and rois[ellipse.roi_id].cu == 12.5
    while history.can_undo:
        history.undo()
    assert len(rois) == 0


def test_brush_strokes_are_single_undo_steps() -> None:
    grid = Volume.from_spacing(np.zeros((1, 40, 40), np.float32), (1.0, 0.5, 0.5))
    rois = RoiSet()
    history = History()
    editor = RoiEditor(rois, history)
    brush = editor.add(BrushRoi(AXIAL))
    editor.add_stroke(brush.roi_id, BrushStroke(((5.0, 5.0), (15.0, 5.0)), 2.0))
    painted = rasterize(rois[brush.roi_id], grid).sum()
    editor.add_stroke(brush.roi_id, BrushStroke(((10.0, 5.0),), 1.0, erase=True))
    assert rasterize(rois[brush.roi_id], grid).sum() < painted
    assert history.undo_text == "Erase"
    history.undo()
    assert rasterize(rois[brush.roi_id], grid).sum() == painted
    with pytest.raises(TypeError):
        rect = editor.add(RectangleRoi(AXIAL, u0=0, v0=0, u1=1, v1=1))
        editor.add_stroke(rect.roi_id, BrushStroke(((0.0, 0.0),), 1.0))


def test_history_survives_other_state_changes() -> None:
    """A model run (new SR grid, new label layer, view change) neither clears nor breaks undo."""
    native = Volume.from_spacing(np.zeros((3, 32, 32), np.float32), (2.0, 1.0, 1.0))
    rois = RoiSet()
    history = History()
    editor = RoiEditor(rois, history)
    roi = editor.add(EllipseRoi(Plane.from_slice(native, 0, 1), cu=10, cv=10, ru=5, rv=5))
    editor.move(roi.roi_id, 3.0, 0.0)
    # "model run": the app now shows an SR grid and a new segmentation layer
    sr = native.with_voxels(np.zeros((3, 64, 64), np.float32),
                            affine=native.affine @ np.diag([0.5, 0.5, 1, 1]))
    layers = {"segmentation": np.zeros(native.shape, np.uint8)}
    mask_sr_moved = rasterize(rois[roi.roi_id], sr)
    assert history.can_undo and len(history) == 2 and layers
    history.undo()
    mask_sr = rasterize(rois[roi.roi_id], sr)
    assert not np.array_equal(mask_sr, mask_sr_moved)
    assert np.array_equal(mask_sr, rasterize(roi, sr))
    history.redo()
    assert np.array_equal(rasterize(rois[roi.roi_id], sr), mask_sr_moved)
