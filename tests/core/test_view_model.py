"""The view model: one place for the view state, with change events and session round trip."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.study import Study
from medsr_viewer.core.view_model import CompareMode, Interpolation, Layout, ViewModel
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import Window


def _model() -> tuple[ViewModel, DisplayVolume, list[str]]:
    voxels = np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8)
    display = DisplayVolume(Volume.from_spacing(voxels, (3.0, 1.0, 1.0)))
    model = ViewModel()
    events: list[str] = []
    for name in ("study", "cursor", "window", "layout", "compare", "models", "ranges", "tool"):
        model.subscribe(name, lambda n=name: events.append(n))
    model.set_study(display)
    return model, display, events


def test_a_study_opens_at_its_centre_and_slices_clamp() -> None:
    model, display, events = _model()
    assert events[:3] == ["study", "cursor", "window"]
    assert np.array_equal(model.cursor, display.center())
    axial = Orientation.AXIAL
    n = display.n_slices(axial)
    assert model.set_slice(n + 10, axial) == n - 1
    assert model.step_slice(-100, axial) == 0
    assert model.cursor[PLANE_AXES[axial].slice_axis] == 0
    world = model.cursor_world
    assert world is not None
    model.set_slice(3, axial)
    model.set_cursor_world(world)  # back to the same patient point
    assert model.slice_index(axial) == 0


def test_layout_and_active_plane() -> None:
    model, _display, events = _model()
    events.clear()
    model.set_orientation(Orientation.CORONAL)
    assert model.layout == Layout.SINGLE and model.active_orientation == Orientation.CORONAL
    model.set_active(Orientation.SAGITTAL)  # ignored in the single layout
    assert model.active_orientation == Orientation.CORONAL
    model.set_layout(Layout.THREE_PLANE)
    model.set_active(Orientation.SAGITTAL)
    assert model.active_orientation == Orientation.SAGITTAL
    assert events == ["layout", "layout", "layout"]


def test_compare_changes_notify_once_and_validate() -> None:
    model, _display, events = _model()
    events.clear()
    model.set_compare(mode="swipe", interpolation="nearest")
    model.set_compare(mode=CompareMode.SWIPE)  # no change: no event
    assert events == ["compare"]
    assert model.compare.mode == CompareMode.SWIPE
    assert model.compare.interpolation == Interpolation.NEAREST
    with pytest.raises(ValueError, match="unknown compare setting"):
        model.set_compare(zoom=2)
    with pytest.raises(ValueError):
        model.set_compare(mode="sideways")
    with pytest.raises(ValueError, match="unknown view event"):
        model.subscribe("colour", lambda: None)


def test_drag_window_and_reset() -> None:
    model, _display, _events = _model()
    start = model.window
    model.drag_window(10.0, 0.0)
    assert model.window.width > start.width
    model.set_view_range("axial", (1.0, 2.0, 3.0, 4.0))
    assert model.view_range("axial") == (1.0, 2.0, 3.0, 4.0)
    model.reset_view()
    assert model.window == start and model.view_range("axial") is None


def test_session_round_trip() -> None:
    model, display, _events = _model()
    model.set_orientation(Orientation.SAGITTAL)
    model.set_layout(Layout.THREE_PLANE)
    model.set_slice(2, Orientation.AXIAL)
    model.set_window(Window(100.0, 50.0))
    model.set_compare(mode="difference", interpolation="bilinear")
    model.set_tool("ellipse")
    model.set_overlay(info=False, scale_bar=False, patient_data=True)
    state = model.to_dict()
    other = ViewModel()
    other.set_study(display)
    other.from_dict(state)
    assert other.to_dict() == state
    assert not other.overlay.info and not other.overlay.scale_bar
    assert not other.overlay.patient_data  # never kept: shown again only when asked
    with pytest.raises(ValueError):
        other.from_dict({"orientation": "oblique"})


def test_unsubscribe_stops_events() -> None:
    model, _display, _events = _model()
    seen: list[int] = []
    stop = model.subscribe("cursor", lambda: seen.append(1))
    model.step_slice(1)
    stop()
    model.step_slice(1)
    assert seen == [1]


def test_label_layers_and_their_events() -> None:
    from medsr_viewer.core.labels import LabelLayer, LabelMap, LabelTable

    model, display, _events = _model()
    seen: list[int] = []
    model.subscribe("layers", lambda: seen.append(model.active_layer))
    labels = LabelMap(Volume(np.zeros(display.volume.shape, np.int16), display.volume.affine),
                      LabelTable(), "zeros")
    first, second = LabelLayer(labels, "a"), LabelLayer(labels, "b")
    model.set_layers([first, second], 5)  # clamped to the list
    assert model.layers == (first, second) and model.active_layer == 1
    model.set_active_layer(0)
    model.set_active_layer(7)  # out of range: ignored
    model.set_layers_visible(False)
    model.layers_changed()
    assert not model.layers_visible
    assert seen == [1, 0, 0, 0]
    model.set_layers([], 3)
    assert model.active_layer == -1


def test_colour_map_state_is_kept_by_sessions_and_reset_by_a_new_series() -> None:
    from medsr_viewer.core.view_model import LutState

    model = ViewModel()
    heard: list[LutState] = []
    model.subscribe("lut", lambda: heard.append(model.lut))
    model.set_lut("inferno")
    model.set_lut(invert=True)
    model.set_lut("inferno")  # no change: no event
    assert heard == [LutState("inferno"), LutState("inferno", True)]
    with pytest.raises(ValueError, match="unknown colour map"):
        model.set_lut("rainbow")
    state = model.to_dict()
    other = ViewModel()
    other.from_dict(state)
    assert other.lut == LutState("inferno", True)
    volume = Volume.from_spacing(np.zeros((4, 5, 6), np.float32))
    display = DisplayVolume(volume)
    model.set_study(display)  # the same series again (simulate mode): kept
    assert model.lut == LutState("inferno", True)
    model.set_study(display, series=Study.of(volume))  # another series: grey
    assert model.lut.plain and heard[-1] == LutState()
