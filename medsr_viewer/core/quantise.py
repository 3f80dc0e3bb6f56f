"""Storing a model's float output in the input's integer type, with NIfTI scaling.

A super-resolved int16 study written as float32 is twice the size it needs to be. The rule
(:func:`output_quantisation`):

- **Float input**, or a ``--dtype float32`` request: float32 (``None`` here).
- **Integer input** of type *T* (``uint8``, ``int16``, ``uint16`` ... as stored in the file:
  ``metadata["source_dtype"]`` of NIfTI and DICOM, ``source_mode`` of images): the output is
  *T* too, stored as ``value = stored * scl_slope + scl_inter``, planned *before* the run from
  the input's range widened by :data:`HEADROOM` of its span at each end (room for the over-
  and undershoot of SR at edges; the result's range is only known at the end):

  1. values that are whole numbers, range fits *T*: slope 1, intercept 0 (rounding only,
     error at most 0.5);
  2. whole numbers, span fits *T*: slope 1 and the smallest integer intercept that shifts the
     range into *T* (a ``uint16`` MR whose SR undershoots below 0);
  3. otherwise (the span exceeds *T*, e.g. ``uint8``, or the values are not whole numbers,
     e.g. rescaled PET): the slope that maps the widened range onto all of *T*.

  Every stored value is then within half a step (``scl_slope / 2``) of the float result. A
  slice outside the planned range is never clipped: the output becomes float32
  (:class:`~medsr_viewer.core.output_buffer.OutputBuffer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medsr_viewer.core.volume import Volume

#: Share of the input's value span added below and above it when planning the stored range.
HEADROOM = 0.25
#: ``--dtype`` choices: follow the input, or force float32.
DTYPE_CHOICES = ("auto", "float32")
#: Integer types an output may be stored in.
INTEGER_TYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32")
#: PIL image modes with an integer sample type.
_IMAGE_MODES = {"L": "uint8", "I;16": "uint16", "I;16L": "uint16", "I;16B": "uint16",
                "I": "int32"}


@dataclass(frozen=True)
class Quantisation:
    """Integer storage of real values: ``value = stored * slope + inter``.

    Parameters
    ----------
    dtype
        The stored integer type (a name from :data:`INTEGER_TYPES`).
    slope, inter
        The NIfTI ``scl_slope`` and ``scl_inter`` (float32-exact, as the header keeps them).
    """

    dtype: str
    slope: float = 1.0
    inter: float = 0.0

    @property
    def limits(self) -> tuple[int, int]:
        """Smallest and largest stored value of :attr:`dtype`."""
        info = np.iinfo(self.dtype)
        return int(info.min), int(info.max)

    @property
    def step(self) -> float:
        """Distance between two representable values (the largest rounding error is half)."""
        return self.slope

    @property
    def value_range(self) -> tuple[float, float]:
        """The real values of the smallest and largest stored value."""
        low, high = self.limits
        return low * self.slope + self.inter, high * self.slope + self.inter

    def fits(self, low: float, high: float) -> bool:
        """Whether real values from ``low`` to ``high`` round into the stored type."""
        lo, hi = self.limits
        return (math.isfinite(low) and math.isfinite(high)
                and np.rint((low - self.inter) / self.slope) >= lo
                and np.rint((high - self.inter) / self.slope) <= hi)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Real values -> stored integers (rounded to nearest, clipped to the type)."""
        scaled = np.array(values, dtype=np.float64)  # one temporary, worked on in place
        if self.inter != 0.0:
            scaled -= self.inter
        if self.slope != 1.0:
            scaled /= self.slope
        lo, hi = self.limits
        np.rint(scaled, out=scaled)
        np.clip(scaled, lo, hi, out=scaled)
        return scaled.astype(self.dtype)

    def decode(self, stored: np.ndarray) -> np.ndarray:
        """Stored integers -> real values (float32)."""
        out = np.asarray(stored, dtype=np.float32)
        if self.slope != 1.0:
            out = out * np.float32(self.slope)
        if self.inter != 0.0:
            out = out + np.float32(self.inter)
        return out

    def describe(self) -> dict[str, object]:
        """JSON-ready record for provenance: type, slope, intercept."""
        return {"dtype": self.dtype, "scl_slope": self.slope, "scl_inter": self.inter}


def source_integer_dtype(volume: Volume) -> str | None:
    """The integer type the volume's voxels were stored in, or ``None`` (float, colour, unknown).

    Read from ``metadata["source_dtype"]`` (NIfTI, DICOM) or ``metadata["source_mode"]``
    (PIL images: ``L`` is ``uint8``, ``I;16`` ``uint16``, ``I`` ``int32``).
    """
    if volume.is_colour:
        return None
    name = str(volume.metadata.get("source_dtype") or "")
    if not name:
        name = _IMAGE_MODES.get(str(volume.metadata.get("source_mode") or ""), "")
    return name if name in INTEGER_TYPES else None


def whole_numbers(voxels: np.ndarray) -> bool:
    """Whether every voxel is a whole number (checked slice by slice: no full-size copy)."""
    data = np.asarray(voxels)
    if np.issubdtype(data.dtype, np.integer):
        return True
    return all(np.array_equal(plane, np.rint(plane)) for plane in data)


def plan_quantisation(
    dtype: str, low: float, high: float, whole: bool = True, headroom: float = HEADROOM
) -> Quantisation:
    """The :class:`Quantisation` of values expected between ``low`` and ``high`` (module rule).

    Parameters
    ----------
    dtype
        The stored integer type.
    low, high
        The expected range (the input's; widened here by ``headroom`` of its span each side).
    whole
        Whether the values are whole numbers (slope 1 is allowed only then).
    headroom
        Share of the span added below and above.
    """
    if dtype not in INTEGER_TYPES:
        raise ValueError(f"not an integer output type: {dtype!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        low, high = 0.0, 0.0
    margin = headroom * (high - low)
    low, high = low - margin, high + margin
    tmin, tmax = (int(v) for v in (np.iinfo(dtype).min, np.iinfo(dtype).max))
    if whole:
        first, last = math.floor(low), math.ceil(high)
        if first >= tmin and last <= tmax:
            return Quantisation(dtype)
        shift = first - tmin if first < tmin else last - tmax
        if last - first <= tmax - tmin and abs(shift) < 2**24:  # float32-exact intercept
            return Quantisation(dtype, 1.0, float(shift))
    span = max(high - low, 1e-30)
    slope = float(np.nextafter(np.float32(span / (tmax - tmin)), np.float32(np.inf)))
    inter = float(np.float32(low - tmin * slope))
    return Quantisation(dtype, slope, inter)


def output_quantisation(volume: Volume, requested: str = "auto") -> Quantisation | None:
    """How a model output for ``volume`` is stored: a :class:`Quantisation`, or ``None`` for
    float32 (float input, unknown type, or ``requested == "float32"``)."""
    if requested not in DTYPE_CHOICES:
        raise ValueError(f"unknown output type {requested!r}; choose from {DTYPE_CHOICES}")
    dtype = source_integer_dtype(volume)
    if requested == "float32" or dtype is None or volume.voxels.size == 0:
        return None
    voxels = volume.voxels
    low, high = float(np.min(voxels)), float(np.max(voxels))
    return plan_quantisation(dtype, low, high, whole_numbers(voxels))
