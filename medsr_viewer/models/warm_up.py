"""Getting a model ready before its first slice: loaded, checked and run once on one tile.

The viewer's first S otherwise pays, before its first tile, for loading the model (read,
rebuild, dry run, execution plan: about 0.1 s) and for the first call at the tile size
(the CPU kernels for that shape are made then: about 0.08 s more than later calls), and for
fitting the normalisation to the study (20-50 ms). The inference worker calls
:func:`prepare_model` in the background once a study is shown, for the model the SR pane
would use; no result is computed or cached.
"""

from __future__ import annotations

import numpy as np

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.slice_engine import SliceEngine
from medsr_viewer.models.volume_processing import SLICE_TASKS, VolumeProcessor


def prepare_model(engine: SliceEngine, spec: str, task: str | None = None,
                  volume: Volume | None = None, prime: bool = True) -> int:
    """Load ``spec`` into ``engine`` (as a request for ``task`` would), run it once on a
    blank slice of one tile (``prime``), through the tile size and execution plan real
    slices use, and make its processor for ``volume`` (the normalisation fitted) when given.

    Returns the tile side run (0 when nothing was run: ``prime`` false, or a model that does
    not process slices, e.g. a through-plane model, which is only loaded).

    Raises
    ------
    ModelRejected
        As a request would: no such model, wrong task, failed checks, needs trust.
    """
    ref = engine.resolve(spec)
    loaded, runner = engine.model(ref, task)
    if loaded.card.task not in SLICE_TASKS:
        return 0
    side = 0
    if prime:
        blank = Volume.from_spacing(np.zeros((1, 1, 1), np.float32))
        side = VolumeProcessor(loaded, blank, runner=runner).tile
        tile = Volume.from_spacing(np.zeros((1, side, side), np.float32))
        run_to_end(VolumeProcessor(loaded, tile, runner=runner).iter_slice(0, 0))
    if volume is not None:
        engine.processor(ref, task, volume)
    return side
