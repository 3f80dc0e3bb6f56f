"""Display-oriented copies of the volumes a model runs on, kept for a while.

The SR pane runs its model on the study as displayed (canonical orientation), so displayed
slice ``k`` of a plane is array slice ``k`` of the copy. Making the copy costs a pass over
the volume; stepping back and forth through a 4-D study finds the copies of recent volumes
(and the worker's cached results keyed by them) still there, up to a memory budget.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.volume import Volume

#: Bytes of recent volumes kept ready for the model.
MODEL_VOLUMES_BYTES = 512 * 1024 * 1024


def display_volume_for_model(display: DisplayVolume) -> Volume:
    """The study as displayed (canonical orientation) so display slice k is array slice k."""
    voxels = np.ascontiguousarray(display.voxels)
    return display.volume.with_voxels(voxels, display.affine.copy())


class ModelVolumes:
    """The model's copies of recent volumes, least recently used dropped first.

    Parameters
    ----------
    budget_bytes
        Memory kept for copies (the newest is always kept).
    """

    def __init__(self, budget_bytes: int = MODEL_VOLUMES_BYTES) -> None:
        self._budget = budget_bytes
        #: id of the source volume -> (source, its display-oriented copy)
        self._kept: OrderedDict[int, tuple[Volume, Volume]] = OrderedDict()

    def copy_for(self, display: DisplayVolume, keep_others: bool = True) -> Volume:
        """The copy of ``display``'s volume for the model (made now unless kept).

        ``keep_others=False`` (switching on, maybe on another study) drops the copies of
        other volumes unless ``display``'s volume is among them.
        """
        key = id(display.volume)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is display.volume:
            self._kept.move_to_end(key)
            return kept[1]
        if not keep_others:
            self._kept.clear()
        made = display_volume_for_model(display)
        self._kept[key] = (display.volume, made)
        total = sum(copy.voxels.nbytes for _source, copy in self._kept.values())
        while total > self._budget and len(self._kept) > 1:
            _key, (_source, dropped) = self._kept.popitem(last=False)
            total -= dropped.voxels.nbytes
        return made

    def __len__(self) -> int:
        return len(self._kept)
