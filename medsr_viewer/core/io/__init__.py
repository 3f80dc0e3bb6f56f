"""Study loading: DICOM series, NIfTI/MGH volumes and 2-D images as :class:`Volume` objects.

Public API (used by the GUI, CLI and models)::

    load_volume(path, *, series_uid=None, progress=None, cancelled=None) -> Volume
    load_study(path, *, series_uid=None, progress=None, cancelled=None) -> Study
    discover_series(paths, *, progress=None, cancelled=None) -> list[SeriesInfo]
    is_supported(path) -> bool
    LoadError, LoadCancelled
"""

from medsr_viewer.core.io.dicom_series import SeriesInfo, discover_series
from medsr_viewer.core.io.dicom_study import load_series, load_series_study
from medsr_viewer.core.io.errors import LoadCancelled, LoadError
from medsr_viewer.core.io.loader import is_supported, load_study, load_volume

__all__ = [
    "LoadCancelled",
    "LoadError",
    "SeriesInfo",
    "discover_series",
    "is_supported",
    "load_series",
    "load_series_study",
    "load_study",
    "load_volume",
]
