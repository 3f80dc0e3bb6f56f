"""A pane's slice on a finer grid, interpolated off the GUI thread (latest slice wins).

Beside an SR pane the original is drawn on the model's grid (bicubic, the fair comparison);
computing that for a 512² slice costs more than a wheel step may, so the pane shows the
native pixels at once and this job swaps in the interpolated image when it arrives — only if
the pane still shows the slice it was made for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject

from medsr_viewer.core.upsampling import on_grid
from medsr_viewer.gui.workers.map_worker import MapWorker

#: ``(shape, interpolation, through_plane)`` of a finer grid.
FinerGrid = tuple[tuple[int, int], str, bool]


class FinerGridJob:
    """Interpolates one pane's slices onto its finer grid in a background thread.

    Parameters
    ----------
    owner
        The pane (parent of the thread).
    on_ready
        Called on the GUI thread with the interpolated slice that is still wanted.
    on_failed
        Called on the GUI thread with what went wrong interpolating the wanted slice.
    """

    def __init__(self, owner: QObject, on_ready: Callable[[np.ndarray], None],
                 on_failed: Callable[[str], None]) -> None:
        self._owner = owner
        self._on_ready = on_ready
        self._on_failed = on_failed
        self._worker: MapWorker | None = None
        self._job = -1
        self._key: tuple[object, ...] | None = None

    def request(self, finer: FinerGrid | None, image: np.ndarray,
                slice_key: tuple[object, ...]) -> None:
        """Ask for ``image`` (the slice ``slice_key`` names) on ``finer``; nothing is asked
        (and a pending result is dropped) for no grid, nearest or the native shape."""
        if finer is None or finer[1] == "nearest" or image.shape == finer[0]:
            self._key = None
            return
        key = (*slice_key, finer)
        if key == self._key:
            return
        if self._worker is None:
            self._worker = MapWorker(self._owner)
            self._worker.setObjectName("FinerGridJob")
            self._worker.ready.connect(self._on_result)
            self._worker.failed.connect(self._on_failure)
        self._key = key
        shape, mode, through = finer
        self._job = self._worker.submit(lambda: (key, on_grid(image, shape, mode, through)))

    def _on_result(self, job_id: int, result: object) -> None:
        if job_id != self._job or not isinstance(result, tuple):
            return
        key, image = result
        if key == self._key:
            self._on_ready(image)

    def _on_failure(self, job_id: int, message: str) -> None:
        if job_id == self._job and self._key is not None:
            self._key = None  # asked again on the next request of this slice
            self._on_failed(message)
