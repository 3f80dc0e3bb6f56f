"""PSNR/SSIM of model results against a reference volume, inside ROIs and over the slice.

The reference (a loaded high-resolution volume, or the real study in simulate mode) is
resampled in world space onto each result's grid once (cached while the result is kept).
The baseline is the bicubic-upsampled original on the same grid, so the model's gain is
``sr - baseline``.
"""

from __future__ import annotations

from dataclasses import replace
from weakref import WeakKeyDictionary

import numpy as np

from medsr_viewer.core.metrics.export import MetricRecord
from medsr_viewer.core.metrics.reference import roi_quality, slice_quality
from medsr_viewer.core.roi import Roi, rasterize
from medsr_viewer.core.simulate import resample_linear
from medsr_viewer.core.upsampling import original_on_grid, upsample
from medsr_viewer.core.view_model import Interpolation
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.docks.sr_results import SrResults
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.study_viewer import StudyViewer


class ReferenceScorer:
    """Scores the kept model results against a reference.

    Parameters
    ----------
    viewer
        Gives the displayed original (for the bicubic baseline).
    compare
        The before/after panel (its model's scale).
    results
        The kept model results (where each was computed).
    """

    def __init__(self, viewer: StudyViewer, compare: ComparePanel, results: SrResults) -> None:
        self._viewer = viewer
        self._compare = compare
        self._results = results
        #: The reference resampled onto each result's grid (dropped with the result).
        self._cache: WeakKeyDictionary[Volume, np.ndarray] = WeakKeyDictionary()

    def clear(self) -> None:
        """Forget the resampled references (another reference or study)."""
        self._cache.clear()

    def reference_on(self, sr: Volume, reference: Volume) -> np.ndarray:
        """The reference resampled onto the grid of result ``sr``."""
        if sr not in self._cache:
            self._cache[sr] = resample_linear(reference, sr)[0]
        return self._cache[sr]

    def bicubic_on(self, sr: Volume) -> np.ndarray:
        """The original slice of result ``sr``, bicubic-upsampled onto its grid."""
        display = self._viewer.display
        orientation, index = self._results.where(sr)
        assert display is not None
        image = display.slice_array(orientation, index)
        scale = self._compare.scale
        target = (sr.voxels.shape[1], sr.voxels.shape[2])
        if target == (image.shape[0] * scale, image.shape[1] * scale):
            return upsample(image, scale, Interpolation.BICUBIC)
        return original_on_grid(image, target, Interpolation.BICUBIC.value)  # through-plane

    def slice_quality(self, sr: Volume, reference: Volume) -> dict[str, dict[str, float]] | None:
        """Whole-slice PSNR/SSIM of ``sr`` and of the bicubic original against the reference
        (``{"sr": ..., "bicubic": ...}``); ``None`` for a constant reference."""
        ref_values = self.reference_on(sr, reference)
        low, high = reference.value_range()
        if high <= low:
            return None
        border = 2 * self._compare.scale
        return {"sr": slice_quality(ref_values, sr.voxels[0], high - low, border),
                "bicubic": slice_quality(ref_values, self.bicubic_on(sr), high - low, border)}

    def with_reference_quality(self, rows: list[MetricRecord], roi: Roi, sr: Volume,
                               reference: Volume) -> list[MetricRecord]:
        """The ``original`` / ``sr`` / ``delta`` rows of ``roi`` with the PSNR/SSIM of the
        baseline, of the model and the model's gain inside the ROI."""
        low, high = reference.value_range()
        if high <= low:
            return rows
        ref_values = self.reference_on(sr, reference)
        mask = rasterize(roi, sr)[0]
        model = roi_quality(ref_values, sr.voxels[0], mask, high - low)
        baseline = roi_quality(ref_values, self.bicubic_on(sr), mask, high - low)
        gain = {k: model[k] - baseline[k] for k in model}
        return [replace(row, metrics={**row.metrics, **extra})
                for row, extra in zip(rows, (baseline, model, gain), strict=True)]
