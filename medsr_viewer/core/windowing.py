"""Display windows (window/level): named CT presets and an automatic window for any study.

A window maps a range of voxel values onto the screen's grey scale: ``center`` is the value
shown mid-grey, ``width`` the range from black to white. CT values are in Hounsfield units
so fixed presets make sense there; MR and other modalities have arbitrary units, so their
window is derived from the study's own intensity distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr_viewer.core.volume import Volume

#: Name of the data-derived window available for every modality.
AUTO = "auto"
#: Percentiles of the finite nonzero voxels spanned by the automatic window.
AUTO_PERCENTILES = (0.5, 99.5)
#: At most this many voxels are sampled to compute the automatic window.
AUTO_SAMPLE_SIZE = 1_000_000
#: The narrowest window allowed (a zero width would divide by zero).
MIN_WIDTH = 1e-6


@dataclass(frozen=True)
class Window:
    """A display window: ``center`` (level) and ``width`` in the volume's value units."""

    center: float
    width: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", float(self.center))
        object.__setattr__(self, "width", max(float(self.width), MIN_WIDTH))

    @property
    def low(self) -> float:
        """Value shown black."""
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """Value shown white."""
        return self.center + self.width / 2.0

    @property
    def levels(self) -> tuple[float, float]:
        """``(low, high)``, the form image widgets take."""
        return (self.low, self.high)

    @classmethod
    def from_levels(cls, low: float, high: float) -> Window:
        """The window spanning ``low`` (black) to ``high`` (white)."""
        return cls(center=(low + high) / 2.0, width=high - low)

    def adjusted(self, d_center: float, d_width: float) -> Window:
        """A copy moved by ``d_center`` and widened by ``d_width`` (width stays positive)."""
        return Window(self.center + d_center, self.width + d_width)


#: CT presets in HU, ``(center, width)``, in menu order.
CT_PRESETS: dict[str, Window] = {
    "brain": Window(40, 80),
    "subdural": Window(75, 215),
    "abdomen": Window(50, 400),
    "mediastinum": Window(50, 350),
    "lung": Window(-600, 1500),
    "bone": Window(400, 1800),
}


def _sample(voxels: np.ndarray, size: int) -> np.ndarray:
    """A deterministic, evenly strided sample of at most about ``size`` voxels."""
    flat = voxels.reshape(-1)
    step = max(1, flat.size // max(size, 1))
    return flat[::step]


def sampled_range(voxels: np.ndarray, sample_size: int = AUTO_SAMPLE_SIZE) -> tuple[float, float]:
    """Approximate finite ``(min, max)`` of the voxels from a sample (``(0, 1)`` if none).

    Used to scale interactive window changes, where an exact range is not needed but a
    full pass over a large volume on every mouse move would be too slow.
    """
    sample = _sample(np.asarray(voxels), sample_size)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return (0.0, 1.0)
    return (float(finite.min()), float(finite.max()))


def auto_window(voxels: np.ndarray, sample_size: int = AUTO_SAMPLE_SIZE) -> Window:
    """The window spanning the 0.5-99.5 percentiles of the finite nonzero voxels.

    Background zeros (air outside the head, padding) are left out so they do not drag the
    window down. Falls back to all finite voxels when none is nonzero, and to ``(0, 1)``
    when none is finite. A sample of the voxels is used on large volumes for speed.
    """
    sample = _sample(np.asarray(voxels), sample_size).astype(np.float64, copy=False)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return Window(0.5, 1.0)
    nonzero = finite[finite != 0]
    values = nonzero if nonzero.size else finite
    low, high = np.percentile(values, AUTO_PERCENTILES)
    if high <= low:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        return Window(float(low), 1.0)
    return Window.from_levels(float(low), float(high))


def presets_for(modality: str, has_stored: bool = False) -> list[str]:
    """Names of the windows offered: ``auto``, then for CT the stored window (when the
    study has one) and the CT presets."""
    if modality != "CT":
        return [AUTO]
    return [AUTO, *([STORED] if has_stored else []), *CT_PRESETS]


def preset_window(name: str, volume: Volume) -> Window:
    """The window called ``name`` (``"auto"``, ``"stored"`` or a CT preset) for ``volume``.

    Raises
    ------
    KeyError
        For an unknown preset name.
    """
    if name == AUTO:
        return auto_window(volume.voxels)
    if name in CT_PRESETS:
        return CT_PRESETS[name]
    if name == STORED and volume.window is not None:
        return Window(*volume.window)
    raise KeyError(f"unknown window preset {name!r}; expected auto or {', '.join(CT_PRESETS)}")


#: Name of the window stored with a study (DICOM WindowCenter/Width of a CT).
STORED = "stored"


def default_preset(volume: Volume) -> tuple[str, Window]:
    """The window a study opens with, and its name (``"stored"`` or ``"auto"``).

    A CT's stored window (DICOM WindowCenter/Width) was chosen for HU by the scanner or the
    radiographer, so it is used. Other modalities' stored windows are often per-slice
    values copied from one (edge) slice, or absent, so they open with ``auto``.
    """
    if volume.modality == "CT" and volume.window is not None:
        center, width = volume.window
        if np.isfinite(center) and np.isfinite(width) and width > 0:
            return (STORED, Window(center, width))
    return (AUTO, auto_window(volume.voxels))


def default_window(volume: Volume) -> Window:
    """The window a study opens with (see :func:`default_preset`)."""
    return default_preset(volume)[1]
