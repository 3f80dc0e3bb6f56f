"""ROI JSON export re-imports exactly; bad files give clear errors naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.roi import (
    BrushRoi,
    BrushStroke,
    EllipseRoi,
    FreehandRoi,
    Plane,
    PolygonRoi,
    RectangleRoi,
    RoiFormatError,
    load_rois,
    rasterize,
    rois_from_json,
    rois_to_json,
    save_rois,
)
from medsr_viewer.core.volume import Volume


def _rois() -> list:
    angle = 0.3
    plane = Plane((1.1, -2.2, 33.3), (math.cos(angle), math.sin(angle), 0.0),
                  (0.0, 0.0, 1.0))
    axial = Plane((0.0, 0.0, 0.1), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    return [
        RectangleRoi(axial, u0=1.0 / 3, v0=2.0, u1=7.7, v1=9.9, name="rect"),
        EllipseRoi(plane, cu=0.1, cv=0.2, ru=math.pi, rv=math.e, color=(1, 2, 3)),
        PolygonRoi(axial, vertices=((0.1, 0.2), (5.5, 0.3), (2.2, 4.4))),
        FreehandRoi(plane, vertices=tuple((math.cos(t) * 4, math.sin(t) * 3)
                                          for t in np.linspace(0, 6, 40))),
        BrushRoi(axial, strokes=(BrushStroke(((1.0, 1.0), (4.0, 2.5)), 1.5),
                                 BrushStroke(((2.0, 2.0),), 0.7, erase=True))),
    ]


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    rois = _rois()
    again = rois_from_json(rois_to_json(rois))
    assert again == rois
    assert [r.roi_id for r in again] == [r.roi_id for r in rois]
    path = save_rois(rois, tmp_path / "rois.json")
    assert load_rois(path) == rois
    doc = json.loads(path.read_text())
    assert doc["format"] == "medsr-rois" and len(doc["rois"]) == 5
    assert np.allclose(doc["rois"][1]["world_outline"][0], rois[1].outline_world(64)[0])
    # the re-imported ROI rasterises identically
    grid = Volume.from_spacing(np.zeros((3, 30, 30), np.float32), (0.1, 0.5, 0.5))
    for a, b in zip(rois, again, strict=True):
        assert np.array_equal(rasterize(a, grid), rasterize(b, grid))


def test_bad_roi_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(RoiFormatError, match="none.json"):
        load_rois(missing)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RoiFormatError, match="bad.json.*JSON"):
        load_rois(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"rois": [{"kind": "star", "id": "x"}]}))
    with pytest.raises(RoiFormatError, match="star"):
        load_rois(wrong)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"rois": [{"kind": "ellipse", "id": "x",
                                            "plane": {"origin": [0, 0, 0], "u": [2, 0, 0],
                                                      "v": [0, 1, 0]},
                                            "params": {"cu": 0, "cv": 0, "ru": 1, "rv": 1}}]}))
    with pytest.raises(RoiFormatError, match="unit"):
        load_rois(broken)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "rois.json"
    save_rois(_rois()[:1], path)
    save_rois(_rois()[:2], path)
    assert len(load_rois(path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["rois.json"]
