"""Rulers and angles (issue #15): world lengths and angles, JSON, editing, no region."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.roi import (
    AngleRoi,
    EllipseRoi,
    GridSpec,
    Plane,
    RulerRoi,
    area_rois,
    is_measurement,
    load_rois,
    rasterize,
    rois_from_json,
    rois_to_json,
    save_rois,
)
from medsr_viewer.core.roi.drawing import next_roi_style, resize_handles, resized
from medsr_viewer.core.roi.measurements import measurement_from_points

#: An oblique plane: lengths must not depend on the orientation.
OBLIQUE = Plane((10.0, -5.0, 3.0), (math.cos(0.3), math.sin(0.3), 0.0),
                (0.0, 0.0, 1.0))


def test_ruler_length_is_the_world_distance_of_its_ends() -> None:
    ruler = RulerRoi(OBLIQUE, start=(1.0, 2.0), end=(4.0, 6.0))
    assert ruler.value == 5.0 and ruler.text == "5.00 mm"
    world = ruler.plane.to_world(np.asarray(ruler.points))
    assert math.isclose(float(np.linalg.norm(world[1] - world[0])), 5.0)
    assert RulerRoi(OBLIQUE, start=(0, 0), end=(0, 23.45)).text == "23.4 mm"


@pytest.mark.parametrize(("second", "degrees"), [((0.0, 5.0), 90.0), ((-3.0, 0.0), 180.0),
                                                 ((2.0, 2.0), 45.0), ((4.0, 0.0), 0.0)])
def test_angle_is_measured_at_the_vertex(second: tuple[float, float], degrees: float) -> None:
    angle = AngleRoi(OBLIQUE, first=(11.0, 7.0), vertex=(1.0, 7.0),
                     second=(1.0 + second[0], 7.0 + second[1]))
    assert math.isclose(angle.value, degrees, abs_tol=1e-9)
    assert angle.text == f"{degrees:.1f}°" and angle.label_uv() == angle.vertex
    assert math.isnan(AngleRoi(OBLIQUE, first=(0, 0), vertex=(0, 0), second=(1, 1)).value)


def test_degenerate_gestures_make_no_measurement() -> None:
    assert measurement_from_points("ruler", OBLIQUE, [(0, 0), (0.1, 0)], 0.5) is None
    assert measurement_from_points("angle", OBLIQUE, [(0, 0), (5, 0), (5.2, 0)], 0.5) is None
    assert isinstance(measurement_from_points("angle", OBLIQUE, [(0, 0), (5, 0), (5, 5)], 0.5),
                      AngleRoi)
    with pytest.raises(ValueError, match="cannot be made"):
        measurement_from_points("ruler", OBLIQUE, [(0, 0)], 0.5)
    with pytest.raises(ValueError, match="finite"):
        RulerRoi(OBLIQUE, start=(0, math.nan), end=(1, 1))


def test_measurements_enclose_nothing_and_are_left_out_of_region_metrics() -> None:
    ruler = RulerRoi(OBLIQUE, start=(0, 0), end=(10, 0))
    ellipse = EllipseRoi(OBLIQUE, cu=0, cv=0, ru=3, rv=3)
    grid = GridSpec((1, 20, 20), np.eye(4))
    assert not rasterize(RulerRoi(Plane((0, 0, 0), (1, 0, 0), (0, 1, 0)), start=(0, 5),
                                  end=(19, 5)), grid).any()
    assert area_rois([ruler, ellipse]) == [ellipse]
    assert is_measurement(ruler) and not is_measurement(ellipse)
    # Picking: distance to the line, not "inside".
    assert float(ruler.distance_uv(np.asarray(5.0), np.asarray(1.5))) == 1.5
    assert float(ruler.distance_uv(np.asarray(13.0), np.asarray(4.0))) == 5.0


def test_handles_are_the_points_and_dragging_one_moves_it_alone() -> None:
    angle = AngleRoi(OBLIQUE, first=(10, 0), vertex=(0, 0), second=(0, 10), name="Angle 1")
    np.testing.assert_array_equal(resize_handles(angle), [(10, 0), (0, 0), (0, 10)])
    moved = resized(angle, 2, (-10.0, 0.0), 0.5)
    assert isinstance(moved, AngleRoi) and moved.value == 180.0
    assert moved.roi_id == angle.roi_id and moved.first == angle.first
    assert resized(angle, 2, (0.1, 0.1), 0.5) is None  # an arm too short
    shifted = angle.translated(1.0, 2.0)
    assert shifted.points == ((11, 2), (1, 2), (1, 12)) and shifted.value == angle.value


def test_json_round_trip_is_exact_and_carries_the_value(tmp_path: Path) -> None:
    rois = [RulerRoi(OBLIQUE, start=(0.1, 0.2), end=(30.3, -4.7), name="Ruler 1"),
            AngleRoi(OBLIQUE, first=(1, 1), vertex=(0, 0), second=(1, 0), name="Angle 1",
                     color=(1, 2, 3))]
    text = rois_to_json(rois)
    assert rois_from_json(text) == rois
    doc = json.loads(text)
    assert doc["rois"][0]["measurement"] == {"value": rois[0].value, "unit": "mm"}
    assert doc["rois"][1]["measurement"]["unit"] == "deg"
    assert math.isclose(doc["rois"][1]["measurement"]["value"], 45.0)
    path = save_rois(rois, tmp_path / "m.json")
    assert load_rois(path) == rois


def test_names_count_per_kind() -> None:
    rois = [RulerRoi(OBLIQUE, start=(0, 0), end=(1, 1), name="Ruler 3"),
            EllipseRoi(OBLIQUE, cu=0, cv=0, ru=1, rv=1, name="ROI 1")]
    assert next_roi_style(rois, "Ruler")[0] == "Ruler 4"
    assert next_roi_style(rois, "Angle")[0] == "Angle 1"
    assert next_roi_style(rois)[0] == "ROI 2"
