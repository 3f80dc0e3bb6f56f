"""Label maps: loading (NIfTI/MGZ, DICOM SEG), world-space resampling, label tables, saving.

Public API::

    from medsr_viewer.core.labels import load_label_map, read_dicom_seg, LabelTable
    labels = load_label_map("aseg.mgz").on_grid(image)      # nearest neighbour, world space
    check_label_grid(load_label_map("aseg.mgz"), image).message  # "" when on the same grid

``aseg.mgz`` gets FreeSurfer's built-in names and colours (:mod:`.freesurfer`).
"""

from medsr_viewer.core.labels.dicom_seg import (
    DicomSegError,
    read_dicom_seg,
    series_grid,
    write_dicom_seg,
)
from medsr_viewer.core.labels.edit import PaintLabels
from medsr_viewer.core.labels.freesurfer import (
    FREESURFER_LUT,
    freesurfer_names_for,
    freesurfer_table,
    is_freesurfer_like,
)
from medsr_viewer.core.labels.grid_match import GridCheck, GridRelation, check_label_grid
from medsr_viewer.core.labels.labelmap import (
    LabelMap,
    LabelMapError,
    label_table_path,
    load_label_map,
    resample_labels,
    same_grid,
    save_label_map_nifti,
    write_label_table,
)
from medsr_viewer.core.labels.layer import (
    LabelLayer,
    label_map_digest,
    load_label_file,
    store_label_map,
)
from medsr_viewer.core.labels.render import (
    OverlayStyle,
    composite,
    lut_array,
    outline_mask,
    render_labels,
    upsample_labels,
)
from medsr_viewer.core.labels.study_output import (
    dicom_source_datasets,
    is_dicom_study,
    save_label_layer,
    study_input_files,
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
    "FREESURFER_LUT",
    "DicomSegError",
    "GridCheck",
    "GridRelation",
    "LabelEntry",
    "LabelLayer",
    "LabelMap",
    "LabelMapError",
    "LabelTable",
    "LabelTableError",
    "OverlayStyle",
    "PaintLabels",
    "check_label_grid",
    "composite",
    "default_color",
    "dicom_source_datasets",
    "find_sidecar_table",
    "format_freesurfer_lut",
    "format_itksnap",
    "freesurfer_names_for",
    "freesurfer_table",
    "is_dicom_study",
    "is_freesurfer_like",
    "label_map_digest",
    "label_table_path",
    "load_label_file",
    "load_label_map",
    "lut_array",
    "outline_mask",
    "read_colour_table",
    "read_dicom_seg",
    "render_labels",
    "resample_labels",
    "same_grid",
    "save_label_layer",
    "save_label_map_nifti",
    "series_grid",
    "store_label_map",
    "study_input_files",
    "upsample_labels",
    "write_dicom_seg",
    "write_label_table",
]
