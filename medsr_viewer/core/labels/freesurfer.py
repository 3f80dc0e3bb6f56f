"""FreeSurfer's colour table, built in, and which label maps get it.

FreeSurfer numbers its segmentations (``aseg``, ``aparc+aseg``, ``aparc.a2009s+aseg``,
``wmparc`` ...) by one look-up table, ``FreeSurferColorLUT.txt``, which its ``.mgz`` files do
not carry. The viewer ships that table (``resources/freesurfer/``, see ``resources/README.md``)
and gives its names and colours to a label map that has no table of its own when the map is
*FreeSurfer-like* (:func:`is_freesurfer_like`):

1. every non-zero value in it is a value of FreeSurfer's table, and
2. its file name names a FreeSurfer segmentation (:data:`FREESURFER_NAME_HINTS`: ``aseg``,
   ``aparc``, ``wmparc``, ``ribbon``, ``synthseg``), or it holds more than
   :data:`MIN_DISTINCT_VALUES` distinct non-zero values.

The file format (``.mgz``/``.mgh``) alone is not enough: FreeSurfer's tools write binary
masks as ``.mgz`` too (``mri_binarize``), and a mask of 1s named "Left-Cerebral-Exterior", or
a lesion map's 1, 2, 3 named "Left-Cerebral-Exterior", "Left-Cerebral-White-Matter",
"Left-Cerebral-Cortex", would be wrong names, worse than "label 1". A table the user opens
(File ▸ Open Colour Table…) always replaces these names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from medsr_viewer.core.labels.table import LabelTable, LabelTableError, read_colour_table
from medsr_viewer.core.resources import freesurfer_dir

#: The vendored FreeSurfer look-up table (in the resources, like the bundled models).
FREESURFER_LUT = freesurfer_dir() / "FreeSurferColorLUT.txt"
#: Parts of a file name that name a FreeSurfer segmentation (case-insensitive).
FREESURFER_NAME_HINTS = ("aseg", "aparc", "wmparc", "ribbon", "synthseg")
#: More distinct non-zero values than this, all in FreeSurfer's table: FreeSurfer-like.
MIN_DISTINCT_VALUES = 10


@lru_cache(maxsize=1)
def _builtin_table() -> LabelTable | None:
    try:
        return read_colour_table(FREESURFER_LUT)
    except LabelTableError:
        return None  # a source tree without resources/: labels load without the names


def freesurfer_table() -> LabelTable:
    """FreeSurfer's whole colour table (a copy: edit it freely).

    Raises
    ------
    LabelTableError
        The vendored table is missing or unreadable (message names the file).
    """
    table = _builtin_table()
    if table is None:
        read_colour_table(FREESURFER_LUT)  # raises, naming the file and the problem
        raise LabelTableError(f"{FREESURFER_LUT}: cannot read FreeSurfer's colour table")
    return table.copy()


def is_freesurfer_like(path: str | os.PathLike[str] | None, values: Iterable[int]) -> bool:
    """Whether a label map with these non-zero ``values`` is numbered by FreeSurfer's table.

    ``path`` is the map's file (``None`` for maps without one: only the values count). See
    the module docstring for the rule.
    """
    table = _builtin_table()
    present = {int(v) for v in values if int(v) != 0}
    if table is None or not present or not all(v in table for v in present):
        return False
    name = Path(path).name.lower() if path is not None else ""
    named = any(hint in name for hint in FREESURFER_NAME_HINTS)
    return named or len(present) > MIN_DISTINCT_VALUES


def freesurfer_names_for(path: str | os.PathLike[str] | None,
                         values: Iterable[int]) -> LabelTable | None:
    """FreeSurfer's entries for ``values`` when the map is FreeSurfer-like, else ``None``.

    Only the values present are kept (a session or ``.label`` sidecar then lists the map's
    labels, not FreeSurfer's 1266); value 0 keeps the name "background".
    """
    present = sorted({int(v) for v in values if int(v) != 0})
    table = _builtin_table()
    if table is None or not is_freesurfer_like(path, present):
        return None
    return LabelTable(table.entry(v) for v in present)
