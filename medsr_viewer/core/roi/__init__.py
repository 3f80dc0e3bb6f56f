"""ROIs in world coordinates: shapes, their planes, rasterisation onto any grid, JSON, editing.

Public API::

    from medsr_viewer.core.roi import Plane, EllipseRoi, rasterize, save_rois, load_rois
"""

from medsr_viewer.core.roi.collection import RoiEditor, RoiSet
from medsr_viewer.core.roi.measurements import (
    AngleRoi,
    Measurement,
    RulerRoi,
    area_rois,
    is_measurement,
)
from medsr_viewer.core.roi.plane import Grid, GridSpec, Plane
from medsr_viewer.core.roi.rasterize import plane_slab_mask, plane_slice_index, rasterize
from medsr_viewer.core.roi.serialize import (
    RoiFormatError,
    load_rois,
    rois_from_json,
    rois_to_json,
    save_rois,
)
from medsr_viewer.core.roi.shapes import (
    ROI_KINDS,
    BrushRoi,
    BrushStroke,
    EllipseRoi,
    FreehandRoi,
    PolygonRoi,
    RectangleRoi,
    Roi,
)

__all__ = [
    "ROI_KINDS",
    "AngleRoi",
    "BrushRoi",
    "BrushStroke",
    "EllipseRoi",
    "FreehandRoi",
    "Grid",
    "GridSpec",
    "Measurement",
    "Plane",
    "PolygonRoi",
    "RectangleRoi",
    "Roi",
    "RoiEditor",
    "RoiFormatError",
    "RoiSet",
    "RulerRoi",
    "area_rois",
    "is_measurement",
    "load_rois",
    "plane_slab_mask",
    "plane_slice_index",
    "rasterize",
    "rois_from_json",
    "rois_to_json",
    "save_rois",
]
