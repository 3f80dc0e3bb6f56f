"""Series-level acquisition facts for sidecars, by an allowlist that holds no patient identifier.

Only the attributes named in :data:`FACT_KEYWORDS` are ever read (never PatientName, IDs,
dates, institution or operator names), under their BIDS names where BIDS has one. DICOM
times in ms (RepetitionTime, EchoTime, InversionTime) become seconds as BIDS wants; enhanced
files keep these in their shared functional groups, which are read too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset

#: DICOM keyword -> BIDS sidecar name (no patient-identifying attribute may ever be added).
FACT_KEYWORDS: dict[str, str] = {
    "Modality": "Modality",
    "Manufacturer": "Manufacturer",
    "ManufacturerModelName": "ManufacturersModelName",
    "SoftwareVersions": "SoftwareVersions",
    "MagneticFieldStrength": "MagneticFieldStrength",
    "SeriesDescription": "SeriesDescription",
    "ProtocolName": "ProtocolName",
    "SeriesNumber": "SeriesNumber",
    "BodyPartExamined": "BodyPartExamined",
    "PatientPosition": "PatientPosition",
    "MRAcquisitionType": "MRAcquisitionType",
    "ScanningSequence": "ScanningSequence",
    "SequenceVariant": "SequenceVariant",
    "SequenceName": "SequenceName",
    "FlipAngle": "FlipAngle",
    "SliceThickness": "SliceThickness",
    "SpacingBetweenSlices": "SpacingBetweenSlices",
    "RepetitionTime": "RepetitionTime",
    "InversionTime": "InversionTime",
    "PixelBandwidth": "PixelBandwidth",
    "ImagingFrequency": "ImagingFrequency",
    "KVP": "KVP",
    "ConvolutionKernel": "ConvolutionKernel",
}
#: Facts given in ms by DICOM and in s by BIDS.
MS_TO_S = frozenset({"RepetitionTime", "InversionTime"})
#: Shared functional-group macros of enhanced files that hold some of the facts.
SHARED_MACROS = ("MRTimingAndRelatedParametersSequence", "MRModifierSequence",
                 "MRFOVGeometrySequence", "PixelMeasuresSequence", "CTAcquisitionDetailsSequence")


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a DICOM value (numbers, strings, lists of them), else ``None``."""
    if value is None or isinstance(value, (bytes, bytearray)):
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        items = [_plain(v) for v in value]
        return items if all(i is not None for i in items) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if not np.isfinite(number):
            return None
        return int(value) if isinstance(value, int) else number
    if type(value).__name__ in ("DSfloat", "DSdecimal"):
        return float(value)
    if type(value).__name__ == "IS":
        return int(value)
    text = str(value).strip()
    return text or None


def read_series_facts(ds: Dataset) -> dict[str, Any]:
    """The allowlisted acquisition facts of one file, BIDS-named and in BIDS units."""
    sources = [ds]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        for macro in SHARED_MACROS:
            items = shared[0].get(macro)
            if items:
                sources.append(items[0])
    facts: dict[str, Any] = {}
    for keyword, name in FACT_KEYWORDS.items():
        for source in sources:
            try:
                value = _plain(source.get(keyword))
            except (TypeError, ValueError, AttributeError):
                value = None
            if value is not None:
                if name in MS_TO_S and isinstance(value, (int, float)):
                    value = round(float(value) / 1000.0, 9)
                facts[name] = value
                break
    return facts
