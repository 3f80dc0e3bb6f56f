"""Display-oriented volumes a model runs on, kept for a while.

The SR pane runs its model on the study as displayed (canonical orientation), so displayed
slice ``k`` of a plane is array slice ``k`` of the model's volume. That volume is a *view*
of the loaded voxels (the display's flips and transposes), never a copy: the model reads
only the slice it runs on, so switching SR on costs nothing per voxel (a copy took
0.25–0.4 s on a 120-slice 512² study). Stepping back and forth through a 4-D study finds the
model volumes of recent volumes (and the worker's cached results keyed by them) still
there, up to a memory budget counted in the bytes they keep alive.
"""

from __future__ import annotations

from collections import OrderedDict

from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.volume import Volume

#: Bytes of recent volumes kept ready for the model.
MODEL_VOLUMES_BYTES = 512 * 1024 * 1024


def display_volume_for_model(display: DisplayVolume) -> Volume:
    """The study as displayed (canonical orientation) so display slice k is array slice k.

    Its voxels are ``display.voxels``, a read-only view of the loaded array (no copy).
    """
    voxels = display.voxels.view()
    voxels.flags.writeable = False  # a view of the study: nobody writes through it
    return display.volume.with_voxels(voxels, display.affine.copy())


class ModelVolumes:
    """The model's volumes of recent studies, least recently used dropped first.

    Parameters
    ----------
    budget_bytes
        Memory the kept volumes may hold alive (the newest is always kept).
    """

    def __init__(self, budget_bytes: int = MODEL_VOLUMES_BYTES) -> None:
        self._budget = budget_bytes
        #: id of the source volume -> (source, its display-oriented volume)
        self._kept: OrderedDict[int, tuple[Volume, Volume]] = OrderedDict()

    def copy_for(self, display: DisplayVolume, keep_others: bool = True) -> Volume:
        """The volume of ``display`` for the model (made now unless kept).

        ``keep_others=False`` (switching on, maybe on another study) drops the volumes of
        other studies unless ``display``'s volume is among them.
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
