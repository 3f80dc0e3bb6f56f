"""What tells the volumes of a series apart: image type, echo, time point, diffusion weighting.

Each image plane gets an :class:`AcquisitionLabel` read from the standard attributes (per-frame
functional groups of enhanced files first: FrameContent, MRImageFrameType, MREcho,
MRDiffusion, CardiacSynchronization), with the vendor private diffusion elements dcm2niix
also reads where the standard ones are missing (Siemens CSA ``B_value`` /
``DiffusionGradientDirection`` via nibabel's ``csareader``, GE ``(0043,1039)`` and
``(0019,10BB-BD)``, Philips ``(2001,1003)`` and ``(2005,10B0-B2)``). Every value is parsed
defensively (a malformed element is treated as absent) and kept as a plain Python number or
string, so sorting and grouping never mix types. No patient identifier is read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from medsr_viewer.core.io.dicom_mosaic import CSA_ERRORS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from nibabel.nicom import csareader

#: ImageType values that say how the pixels are stored, not what they show (never split on).
LAYOUT_IMAGE_TYPES = frozenset({"MOSAIC", "NORM", "ND", "DIS2D", "DIS3D", "FM", "FIL", "SH",
                                "MFSPLIT", "NONE", "OTHER", "1", "2"})
#: ImageType / FrameType / ComplexImageComponent values naming the kind of image.
KIND_NAMES = {
    "P": "phase", "PHASE": "phase", "R": "real", "REAL": "real", "I": "imaginary",
    "IMAGINARY": "imaginary", "M": "magnitude", "MAGNITUDE": "magnitude",
    "FIELD_MAP": "field map", "B0": "field map", "ADC": "ADC", "FA": "FA", "TRACEW": "trace",
    "TRACE": "trace", "ISOTROPIC": "trace", "EADC": "eADC", "EXP": "exponential ADC",
    "COLFA": "colour FA", "T1_MAP": "T1 map", "T2_MAP": "T2 map", "CBF": "CBF",
    "PERFUSION": "perfusion", "MIXED": "mixed", "DIFFUSION": "diffusion",
}
#: GE stores the b-value in (0043,1039) offset by this much on some software versions.
GE_BVALUE_OFFSET = 1_000_000_000


def _float(value: Any) -> float | None:
    """First numeric value as a finite float, else ``None``."""
    try:
        if isinstance(value, (bytes, bytearray)):
            return None
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            value = value[0] if len(value) else None
        if value is None or value == "":
            return None
        number = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return number if np.isfinite(number) else None


def _int(value: Any) -> int | None:
    """First numeric value as an int, else ``None``."""
    number = _float(value)
    return None if number is None else round(number)


def _vector3(value: Any) -> tuple[float, float, float] | None:
    """Three finite floats, else ``None``."""
    try:
        values = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(values) != 3 or not all(np.isfinite(values)):
        return None
    return (values[0], values[1], values[2])


def _strings(value: Any) -> tuple[str, ...]:
    """A multi-valued string attribute as an upper-case tuple (``()`` when absent)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split("\\")
    else:
        try:
            items = [str(v) for v in value]
        except TypeError:
            items = [str(value)]
    return tuple(item.strip().upper() for item in items if item.strip())


def _private(ds: Dataset, group: int, element: int) -> Any:
    """Value of a private element, ``None`` when absent or unreadable."""
    try:
        item = ds.get((group, element))
        return None if item is None else item.value
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class AcquisitionLabel:
    """The facts that distinguish one volume of a series from another (per image plane).

    ``image_type`` is ImageType (or the frame's FrameType), upper case; ``component`` the
    enhanced ComplexImageComponent; times are in ms as in DICOM; ``gradient`` is the unit
    diffusion gradient direction in the DICOM patient (LPS) frame.
    """

    image_type: tuple[str, ...] = ()
    component: str = ""
    echo_number: int | None = None
    echo_time: float | None = None
    temporal_position: int | None = None
    b_value: float | None = None
    gradient: tuple[float, float, float] | None = None
    trigger_time: float | None = None
    acquisition_number: int | None = None
    acquisition_time: str = ""
    stack_id: str = ""

    @property
    def kind(self) -> tuple[str, ...]:
        """Planes of different kinds (magnitude, phase, ADC ...) never share a volume."""
        kept = tuple(v for v in self.image_type if v not in LAYOUT_IMAGE_TYPES)
        return kept + ((self.component,) if self.component else ())

    @property
    def kind_name(self) -> str:
        """Readable name of :attr:`kind` ("magnitude", "phase", "ADC" ...)."""
        named = [KIND_NAMES[v] for v in (self.component,) + self.image_type[2:]
                 if v in KIND_NAMES]
        derived = [KIND_NAMES[v] for v in self.image_type[2:] if v in KIND_NAMES
                   and v not in ("M", "MAGNITUDE", "MIXED")]
        if derived:
            return derived[-1]
        if named:
            return named[0]
        return "image"

    @property
    def volume_key(self) -> tuple[Any, ...]:
        """Facts that differ between the volumes of a multi-volume series (None-safe order)."""
        gradient = None if self.gradient is None else tuple(round(g, 4) for g in self.gradient)
        values: tuple[Any, ...] = (self.temporal_position, self.echo_number,
                                   None if self.echo_time is None else round(self.echo_time, 3),
                                   None if self.b_value is None else round(self.b_value, 1),
                                   gradient,
                                   None if self.trigger_time is None
                                   else round(self.trigger_time, 2),
                                   self.acquisition_number)
        return tuple((v is None, v if v is not None else 0) for v in values)


def functional_item(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """First item of functional-group macro ``sequence`` for ``frame`` (per-frame, else shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame),
                          ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items is None or len(items) <= index:
            continue
        macro = items[index].get(sequence)
        if macro is not None and len(macro) > 0:
            item: Dataset = macro[0]
            return item
    return None


def _functional(ds: Dataset, frame: int | None, sequence: str) -> Dataset | None:
    """:func:`functional_item`, or ``None`` for a file without frames (``frame`` None)."""
    return None if frame is None else functional_item(ds, frame, sequence)


def _ge_to_patient(
    ds: Dataset, gradient: tuple[float, float, float] | None
) -> tuple[float, float, float] | None:
    """A GE gradient (image frame: -row, -column, +normal) in the DICOM patient frame.

    The frame is the one dcm2niix's GE handling implies (checked against its bvec files).
    """
    if gradient is None:
        return None
    six = _vector3((ds.get("ImageOrientationPatient") or [])[:3])
    col = _vector3((ds.get("ImageOrientationPatient") or [])[3:])
    if six is None or col is None:
        return None
    row, column = np.asarray(six), np.asarray(col)
    normal = np.cross(row, column)
    world = -gradient[0] * row - gradient[1] * column + gradient[2] * normal
    return _vector3(world)


def _vendor_diffusion(ds: Dataset) -> tuple[float | None, tuple[float, float, float] | None]:
    """b-value and gradient from the vendor private elements of a classic file."""
    maker = str(ds.get("Manufacturer", "")).upper()
    if "SIEMENS" in maker:
        b_value = _float(_private(ds, 0x0019, 0x100C))
        gradient = _vector3(_private(ds, 0x0019, 0x100E) or ())
        if b_value is None:
            try:
                csa = csareader.get_csa_header(ds, "image")
                if csa is not None:
                    b_value = _float(csareader.get_scalar(csa, "B_value"))
                    direction = csareader.get_vector(csa, "DiffusionGradientDirection", 3)
                    gradient = gradient or _vector3(direction)
            except CSA_ERRORS:  # damaged CSA: no diffusion facts
                b_value = None
        return b_value, gradient
    if "GE" in maker:
        raw = _private(ds, 0x0043, 0x1039)
        b_value = _float(raw)
        if b_value is not None and b_value >= GE_BVALUE_OFFSET:
            b_value = b_value % GE_BVALUE_OFFSET
        parts = [_float(_private(ds, 0x0019, element)) for element in (0x10BB, 0x10BC, 0x10BD)]
        gradient = None if any(p is None for p in parts) else _vector3(parts)
        return b_value, _ge_to_patient(ds, gradient)
    if "PHILIPS" in maker:
        b_value = _float(_private(ds, 0x2001, 0x1003))
        parts = [_float(_private(ds, 0x2005, element)) for element in (0x10B0, 0x10B1, 0x10B2)]
        gradient = None if any(p is None for p in parts) else _vector3(parts)
        return b_value, gradient
    return None, None


def read_label(ds: Dataset, frame: int | None, vendor: tuple[Any, Any] | None) -> AcquisitionLabel:
    """The :class:`AcquisitionLabel` of one plane (``frame`` of an enhanced file, or ``None``).

    ``vendor`` is the file's ``(b_value, gradient)`` from :func:`vendor_diffusion`, read once
    per file.
    """
    image_type = _strings(ds.get("ImageType"))
    component = ""
    echo_number = _int(ds.get("EchoNumbers"))
    echo_time = _float(ds.get("EchoTime"))
    temporal = _int(ds.get("TemporalPositionIdentifier"))
    b_value = _float(ds.get("DiffusionBValue"))
    gradient = _vector3(ds.get("DiffusionGradientOrientation") or ())
    trigger = _float(ds.get("TriggerTime"))
    stack = ""
    acquisition_time = str(ds.get("AcquisitionTime", "") or "").strip()
    item = _functional(ds, frame, "FrameContentSequence")
    if item is not None:
        temporal = _int(item.get("TemporalPositionIndex")) or temporal
        stack = str(item.get("StackID", "") or "").strip()
        stamp = str(item.get("FrameAcquisitionDateTime", "") or "").strip()
        acquisition_time = stamp[8:] if len(stamp) > 8 else acquisition_time  # time, no date
    for macro in ("MRImageFrameTypeSequence", "CTImageFrameTypeSequence",
                  "PETFrameTypeSequence"):
        item = _functional(ds, frame, macro)
        if item is not None:
            image_type = _strings(item.get("FrameType")) or image_type
            component = str(item.get("ComplexImageComponent", "") or "").strip().upper()
            break
    item = _functional(ds, frame, "MREchoSequence")
    if item is not None:
        echo_time = _float(item.get("EffectiveEchoTime"))
    item = _functional(ds, frame, "MRDiffusionSequence")
    if item is not None:
        b_value = _float(item.get("DiffusionBValue"))
        directions = item.get("DiffusionGradientDirectionSequence")
        if directions:
            gradient = _vector3(directions[0].get("DiffusionGradientOrientation") or ())
    item = _functional(ds, frame, "CardiacSynchronizationSequence")
    if item is not None:
        trigger = _float(item.get("NominalCardiacTriggerDelayTime")) or trigger
    if vendor is not None:
        b_value = vendor[0] if b_value is None else b_value
        gradient = vendor[1] if gradient is None else gradient
    if gradient is not None and float(np.linalg.norm(gradient)) < 1e-6:
        gradient = None  # a b=0 image has no direction
    return AcquisitionLabel(
        image_type=image_type,
        component=component,
        echo_number=echo_number,
        echo_time=echo_time,
        temporal_position=temporal,
        b_value=b_value,
        gradient=gradient,
        trigger_time=trigger,
        acquisition_number=_int(ds.get("AcquisitionNumber")) if frame is None else None,
        acquisition_time=acquisition_time,
        stack_id=stack,
    )


def read_label_safely(
    ds: Dataset, frame: int | None, vendor: tuple[Any, Any] | None
) -> AcquisitionLabel:
    """:func:`read_label`, or an empty label when the elements are too malformed to parse.

    A label only tells volumes apart; a damaged one must not cost the file its pixels.
    """
    try:
        return read_label(ds, frame, vendor)
    except (*CSA_ERRORS, ArithmeticError):
        return AcquisitionLabel()


def vendor_diffusion(ds: Dataset) -> tuple[Any, Any] | None:
    """The file's private diffusion facts ``(b_value, gradient)``, ``None`` when it has none.

    Used where the standard DiffusionBValue / DiffusionGradientOrientation are missing (GE
    writes the b-value but keeps the direction in private elements).
    """
    if "DiffusionBValue" in ds and "DiffusionGradientOrientation" in ds:
        return None
    try:
        b_value, gradient = _vendor_diffusion(ds)
    except (*CSA_ERRORS, ArithmeticError):  # malformed private elements are ignored
        return None
    return None if b_value is None and gradient is None else (b_value, gradient)
