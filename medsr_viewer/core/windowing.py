"""Display windows (window/level): named CT presets and an automatic window for any study.

A window maps a range of voxel values onto the screen's grey scale: ``center`` is the value
shown mid-grey, ``width`` the range from black to white. CT values are in Hounsfield units
so fixed presets make sense there; MR and other modalities have arbitrary units, so their
presets are derived from the study's own intensity distribution (percentiles of the nonzero
voxels: :data:`DATA_PRESETS`). The windows stored with a study (DICOM WindowCenter/Width, with
their explanations; NIfTI cal_min/cal_max) come first: a study opens with its stored window
when that window shows its data (:func:`stored_window_fits`).
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
    return percentile_window(voxels, *AUTO_PERCENTILES, sample_size=sample_size)


#: Windows from the study's own intensities, for any modality: name -> the percentiles of
#: the finite nonzero voxels shown black and white. "full" is the whole dynamic range,
#: "high-contrast" clips more of both tails than ``auto``, "low-contrast" less.
DATA_PRESETS: dict[str, tuple[float, float]] = {
    "full": (0.0, 100.0),
    "high-contrast": (5.0, 95.0),
    "low-contrast": (0.05, 99.95),
}
#: What each preset is, for menus and tooltips.
PRESET_TIPS: dict[str, str] = {
    "auto": "0.5th to 99.5th percentile of the nonzero voxels",
    "full": "The whole range of the study's values",
    "high-contrast": "5th to 95th percentile of the nonzero voxels",
    "low-contrast": "0.05th to 99.95th percentile of the nonzero voxels",
    **{name: f"CT {name}: level {w.center:g} HU, width {w.width:g} HU"
       for name, w in CT_PRESETS.items()},
}

#: Name of the (first) window stored with a study; further ones are ``stored-2`` ...
STORED = "stored"


def stored_windows(volume: Volume) -> dict[str, tuple[Window, str]]:
    """The windows stored with ``volume``, by preset name, with their explanation.

    DICOM volumes list every WindowCenter/Width pair their slices share (or the median of
    per-slice windows) in ``metadata["stored_windows"]``; other volumes have at most the one
    :attr:`Volume.window` (NIfTI cal_min/cal_max).
    """
    listed = volume.metadata.get("stored_windows")
    entries: list[tuple[float, float, str]] = []
    if isinstance(listed, list) and listed:
        for item in listed:
            try:
                center, width, explanation = float(item[0]), float(item[1]), str(item[2])
            except (TypeError, ValueError, IndexError):
                continue
            entries.append((center, width, explanation))
    elif volume.window is not None:
        entries.append((float(volume.window[0]), float(volume.window[1]), ""))
    found: dict[str, tuple[Window, str]] = {}
    for center, width, explanation in entries:
        if np.isfinite(center) and np.isfinite(width) and width > 0:
            name = STORED if not found else f"{STORED}-{len(found) + 1}"
            found[name] = (Window(center, width), explanation)
    return found


def presets_for(volume: Volume) -> list[str]:
    """Names of the windows offered for ``volume``, in menu order: its stored windows,
    ``auto``, for CT the CT presets, then the data presets."""
    ct = list(CT_PRESETS) if volume.modality == "CT" else []
    return [*stored_windows(volume), AUTO, *ct, *DATA_PRESETS]


def percentile_window(voxels: np.ndarray, low: float, high: float,
                      sample_size: int = AUTO_SAMPLE_SIZE) -> Window:
    """The window from the ``low`` to the ``high`` percentile of the finite nonzero voxels
    (all finite voxels when none is nonzero; a sample of a large volume)."""
    sample = _sample(np.asarray(voxels), sample_size).astype(np.float64, copy=False)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return Window(0.5, 1.0)
    nonzero = finite[finite != 0]
    values = nonzero if nonzero.size else finite
    lo, hi = np.percentile(values, (low, high))
    if hi <= lo:
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return Window(float(lo), 1.0)
    return Window.from_levels(float(lo), float(hi))


def preset_window(name: str, volume: Volume) -> Window:
    """The window called ``name`` (see :func:`presets_for`) for ``volume``.

    Raises
    ------
    KeyError
        For an unknown preset name.
    """
    if name == AUTO:
        return auto_window(volume.voxels)
    if name in DATA_PRESETS:
        low, high = DATA_PRESETS[name]
        if (low, high) == (0.0, 100.0):
            return Window.from_levels(*_finite_range(volume.voxels))
        return percentile_window(volume.voxels, low, high)
    if name in CT_PRESETS:
        return CT_PRESETS[name]
    stored = stored_windows(volume)
    if name in stored:
        return stored[name][0]
    raise KeyError(f"unknown window preset {name!r}; expected one of "
                   f"{', '.join(presets_for(volume))}")


def _finite_range(voxels: np.ndarray) -> tuple[float, float]:
    """Exact finite ``(min, max)`` (``(0, 1)`` when none is finite or all are equal)."""
    finite = np.asarray(voxels)[np.isfinite(voxels)]
    if finite.size == 0:
        return (0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    return (low, high) if high > low else (low, low + 1.0)


#: A stored window is used to open a study when at least this fraction of its width lies
#: within the study's 0.5-99.5 percentile range (a narrow CT brain window is fine).
MIN_STORED_OVERLAP = 0.2


def stored_window_fits(window: Window, volume: Volume) -> bool:
    """Whether a stored window shows the study: it overlaps the bulk of its values.

    Guards against windows that do not belong to these values (a window of the
    unrescaled stored values, of another reconstruction, or of one edge slice).
    """
    data = auto_window(volume.voxels)
    overlap = min(window.high, data.high) - max(window.low, data.low)
    return overlap > 0 and overlap >= MIN_STORED_OVERLAP * window.width


def default_preset(volume: Volume) -> tuple[str, Window]:
    """The window a study opens with, and its name (``"stored"`` or ``"auto"``).

    The first stored window was chosen by the scanner or the radiographer for these images,
    so it is used first, for every modality, as long as it shows the data
    (:func:`stored_window_fits`; an MR series' per-slice windows count as their median).
    Otherwise the study opens with ``auto``.
    """
    stored = stored_windows(volume)
    if STORED in stored and stored_window_fits(stored[STORED][0], volume):
        return (STORED, stored[STORED][0])
    return (AUTO, auto_window(volume.voxels))


def default_window(volume: Volume) -> Window:
    """The window a study opens with (see :func:`default_preset`)."""
    return default_preset(volume)[1]
