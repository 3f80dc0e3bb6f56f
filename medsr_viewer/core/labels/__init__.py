"""Label maps: loading (NIfTI/MGZ, DICOM SEG), world-space resampling, label tables, saving.

Public API::

    from medsr_viewer.core.labels import load_label_map, read_dicom_seg, LabelTable
    labels = load_label_map("aseg.mgz").on_grid(image)      # nearest neighbour, world space
"""

from medsr_viewer.core.labels.dicom_seg import (
    DicomSegError,
    read_dicom_seg,
    series_grid,
    write_dicom_seg,
)
from medsr_viewer.core.labels.edit import PaintLabels
from medsr_viewer.core.labels.labelmap import (
    LabelMap,
    LabelMapError,
    load_label_map,
    resample_labels,
    same_grid,
    save_label_map_nifti,
)
from medsr_viewer.core.labels.table import (
    LabelEntry,
    LabelTable,
    LabelTableError,
    default_color,
    find_sidecar_table,
    format_freesurfer_lut,
    format_itksnap,
    read_colour_table,
)

__all__ = [
    "DicomSegError",
    "LabelEntry",
    "LabelMap",
    "LabelMapError",
    "LabelTable",
    "LabelTableError",
    "PaintLabels",
    "default_color",
    "find_sidecar_table",
    "format_freesurfer_lut",
    "format_itksnap",
    "load_label_map",
    "read_colour_table",
    "read_dicom_seg",
    "resample_labels",
    "same_grid",
    "save_label_map_nifti",
    "series_grid",
    "write_dicom_seg",
]
