"""The images of a blinded reader study: each method's image of a slice, on one grid.

A method (:class:`~medsr_viewer.core.reader_study.Method`) is a model file or a baseline:

- a model (``super_resolution`` or ``enhance``) runs through a
  :class:`~medsr_viewer.models.slice_engine.SliceEngine` on the study as displayed, as the
  viewer's SR pane runs it (intensity normalisation fitted on the whole volume, tiles,
  cache), so displayed slice ``k`` of a plane is array slice ``k`` of the model's volume;
  coronal and sagittal results are flipped upside down like the pane draws them;
- ``bicubic`` is :func:`medsr_viewer.core.upsampling.upsample` of the displayed slice (the
  SR evaluation protocol's baseline), ``original`` the slice's pixels repeated
  (nearest).

Every image is on the same grid, ``scale`` times finer than the original in the plane (the
models' common scale; 2 when only baselines are compared), in the study's value units, so
one display window shows them alike. Nothing here knows Qt: the viewer runs
:meth:`ReaderImages.iter_image` as a job of its model worker, scripts call
:meth:`ReaderImages.image`. torch is imported only when a model runs (the engine is made
on first use unless one is given).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.model_volumes import display_volume_for_model
from medsr_viewer.core.reader_study import BASELINES, BICUBIC, Method
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.models.registry import ModelRejected

if TYPE_CHECKING:  # importing the engine imports torch: it is made on first use
    from medsr_viewer.models.slice_engine import SliceEngine

#: Model tasks a reader study compares (their output is an image on a finer or the same grid).
READER_TASKS = ("super_resolution", "enhance")
#: Scale of a study comparing baselines only.
DEFAULT_SCALE = 2


def baseline_image(display: DisplayVolume, orientation: Orientation | str, index: int,
                   scale: int, baseline: str = BICUBIC) -> np.ndarray:
    """The ``bicubic`` or ``original`` (nearest) image of a displayed slice on the grid
    ``scale`` times finer, float32 in the study's units."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")
    plane = np.asarray(display.slice_array(Orientation(orientation), index), dtype=np.float32)
    return upsample(plane, scale, "bicubic" if baseline == BICUBIC else "nearest")


class ReaderImages:
    """Makes the methods' images of slices of one displayed study and plane.

    Parameters
    ----------
    display
        The study as displayed.
    orientation
        The plane.
    engine
        The engine models run on, or a function returning it (called where a model runs:
        the viewer passes its worker's, made on the worker thread); default: a new engine
        on ``device``, made on first use.
    device
        Device of a new engine (``auto``, ``cpu``, ``cuda``).
    """

    def __init__(self, display: DisplayVolume, orientation: Orientation | str,
                 engine: SliceEngine | Callable[[], SliceEngine] | None = None,
                 device: str = "auto") -> None:
        self.display = display
        self.orientation = Orientation(orientation)
        #: The study as displayed, as the model sees it (a view; kept for the engine's cache).
        self.volume = display_volume_for_model(display)
        self._own: SliceEngine | None = None
        self._device = device
        self._engine: Callable[[], SliceEngine]
        if engine is None:
            self._engine = self._own_engine
        elif callable(engine):
            self._engine = engine
        else:
            self._engine = lambda: engine

    def _own_engine(self) -> SliceEngine:
        if self._own is None:
            from medsr_viewer.models.slice_engine import SliceEngine

            self._own = SliceEngine(device=self._device)
        return self._own

    @property
    def engine(self) -> SliceEngine:
        """The engine (made on first use when none was given)."""
        return self._engine()

    @property
    def axis(self) -> int:
        """The canonical voxel axis the plane's slices are taken along."""
        return PLANE_AXES[self.orientation].slice_axis

    @property
    def n_slices(self) -> int:
        """Number of slices of the plane."""
        return self.display.n_slices(self.orientation)

    # ---------------------------------------------------------------- methods

    def method(self, spec: str) -> tuple[Method, int]:
        """The method named by ``spec`` (``bicubic``, ``original``, a model name or path) and
        its scale (0 for a baseline, which follows the models).

        Raises
        ------
        ModelRejected
            An unknown model, or one whose task is not in :data:`READER_TASKS`.
        """
        if spec in BASELINES:
            return Method.baseline(spec), 0
        ref = self.engine.resolve(spec)
        if ref.card.task not in READER_TASKS:
            raise ModelRejected(f"{ref.path}: model {ref.card.name!r} is a {ref.card.task!r} "
                                f"model; a reader study compares {' or '.join(READER_TASKS)} "
                                "models")
        scale = max(int(ref.card.scale), 1) if ref.card.task == "super_resolution" else 1
        return Method(ref.card.name, ref.sha256, str(ref.path)), scale

    def methods(self, specs: Sequence[str]) -> tuple[tuple[Method, ...], int]:
        """The methods named by ``specs`` and the grid scale they share.

        Raises
        ------
        ModelRejected
            A model is refused, or the models' scales differ (their images would not be on
            one grid).
        """
        found = [self.method(spec) for spec in specs]
        scales = {scale for _method, scale in found if scale}
        if len(scales) > 1:
            raise ModelRejected("the models have different scales (" + ", ".join(
                f"x{s}" for s in sorted(scales)) + "): their images are not on one grid")
        return tuple(m for m, _s in found), scales.pop() if scales else DEFAULT_SCALE

    # ---------------------------------------------------------------- images

    def iter_image(self, method: Method, index: int, scale: int
                   ) -> Generator[object, None, np.ndarray]:
        """Progress of making ``method``'s image of slice ``index`` (the engine's tile updates;
        nothing for a baseline); returns the image (float32, ``scale`` times the slice).

        Raises
        ------
        ModelRejected
            The model file is not the one the method names any more (its sha256 changed),
            or its result is not on the grid.
        """
        rows, cols = self.display.slice_shape(self.orientation)
        if method.is_baseline:
            return baseline_image(self.display, self.orientation, index, scale, method.identity)
        engine = self.engine
        ref = engine.resolve(method.source)
        if ref.sha256 != method.identity:
            raise ModelRejected(f"{method.source}: the model file changed since the study "
                                "was planned")
        result = yield from engine.iter_slice(ref, self.volume, self.axis, index, ref.card.task)
        image = np.asarray(result, dtype=np.float32)
        if PLANE_AXES[self.orientation].row_flip:  # drawn upside down relative to the array
            image = image[::-1]
        if image.shape != (rows * scale, cols * scale):
            raise ModelRejected(f"{method.name}: result {image.shape} is not on the study's "
                                f"x{scale} grid {(rows * scale, cols * scale)}")
        return np.ascontiguousarray(image)

    def image(self, method: Method, index: int, scale: int) -> np.ndarray:
        """``method``'s image of slice ``index`` (see :meth:`iter_image`)."""
        return run_to_end(self.iter_image(method, index, scale))
