"""What a PACS search asks and answers, the same for DICOMweb and DIMSE.

A :class:`Query` holds the user's filters (DICOM matching: ``*`` and ``?`` wildcards,
date ranges ``20200101-20201231``); the answers are :class:`PatientMatch`,
:class:`StudyMatch` and :class:`SeriesMatch`, read from the DICOM attributes that QIDO-RS
(as DICOM JSON) and C-FIND (as identifiers) return. These hold patient data for display;
never log them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

#: Query levels (C-FIND QueryRetrieveLevel values).
PATIENT, STUDY, SERIES, IMAGE = "PATIENT", "STUDY", "SERIES", "IMAGE"

#: Attributes asked for (returned) at each level, beside the filters.
PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                "NumberOfPatientRelatedStudies")
STUDY_KEYS = ("StudyInstanceUID", "PatientName", "PatientID", "PatientBirthDate",
              "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber",
              "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
              "NumberOfStudyRelatedInstances")
SERIES_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber",
               "SeriesDescription", "NumberOfSeriesRelatedInstances")
INSTANCE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")


@dataclass(frozen=True)
class Query:
    """Search filters; empty ones match everything.

    Parameters
    ----------
    patient_name, patient_id, birth_date
        Patient filters (wildcards allowed in the name and ID).
    study_date
        ``YYYYMMDD`` or a range ``YYYYMMDD-YYYYMMDD`` (either end may be left open).
    modality
        A study's modalities (``MR``) or a series' modality.
    accession_number, study_description
        Study filters (wildcards allowed).
    study_uid, series_uid
        Exact UIDs.
    """

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    study_date: str = ""
    modality: str = ""
    accession_number: str = ""
    study_description: str = ""
    study_uid: str = ""
    series_uid: str = ""

    def filters(self, level: str) -> dict[str, str]:
        """The non-empty filters at ``level``, by DICOM keyword."""
        by_level: dict[str, dict[str, str]] = {
            PATIENT: {"PatientName": self.patient_name, "PatientID": self.patient_id,
                      "PatientBirthDate": self.birth_date},
            STUDY: {"PatientName": self.patient_name, "PatientID": self.patient_id,
                    "PatientBirthDate": self.birth_date, "StudyDate": self.study_date,
                    "ModalitiesInStudy": self.modality,
                    "AccessionNumber": self.accession_number,
                    "StudyDescription": self.study_description,
                    "StudyInstanceUID": self.study_uid},
            SERIES: {"StudyInstanceUID": self.study_uid, "Modality": self.modality,
                     "SeriesInstanceUID": self.series_uid},
        }
        return {k: v.strip() for k, v in by_level[level].items() if v and v.strip()}


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _count(ds: Dataset, keyword: str) -> int | None:
    text = _text(ds, keyword)
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class PatientMatch:
    """One patient found (patient data: display only, never log)."""

    patient_id: str
    patient_name: str = ""
    birth_date: str = ""
    sex: str = ""
    n_studies: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> PatientMatch:
        """From a C-FIND identifier or a QIDO-RS answer (as a dataset)."""
        return cls(patient_id=_text(ds, "PatientID"), patient_name=_text(ds, "PatientName"),
                   birth_date=_text(ds, "PatientBirthDate"), sex=_text(ds, "PatientSex"),
                   n_studies=_count(ds, "NumberOfPatientRelatedStudies"))


@dataclass(frozen=True)
class StudyMatch:
    """One study found (patient data: display only, never log)."""

    study_uid: str
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    study_date: str = ""
    study_time: str = ""
    description: str = ""
    accession_number: str = ""
    modalities: tuple[str, ...] = field(default_factory=tuple)
    n_series: int | None = None
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyMatch:
        """From a C-FIND identifier or a QIDO-RS answer (as a dataset)."""
        modalities = tuple(m for m in _text(ds, "ModalitiesInStudy").split("\\") if m)
        return cls(study_uid=_text(ds, "StudyInstanceUID"),
                   patient_name=_text(ds, "PatientName"), patient_id=_text(ds, "PatientID"),
                   birth_date=_text(ds, "PatientBirthDate"), study_date=_text(ds, "StudyDate"),
                   study_time=_text(ds, "StudyTime"),
                   description=_text(ds, "StudyDescription"),
                   accession_number=_text(ds, "AccessionNumber"), modalities=modalities,
                   n_series=_count(ds, "NumberOfStudyRelatedSeries"),
                   n_instances=_count(ds, "NumberOfStudyRelatedInstances"))


@dataclass(frozen=True)
class SeriesMatch:
    """One series found."""

    study_uid: str
    series_uid: str
    modality: str = ""
    number: int | None = None
    description: str = ""
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset, study_uid: str = "") -> SeriesMatch:
        """From a C-FIND identifier or a QIDO-RS answer (as a dataset)."""
        return cls(study_uid=_text(ds, "StudyInstanceUID") or study_uid,
                   series_uid=_text(ds, "SeriesInstanceUID"), modality=_text(ds, "Modality"),
                   number=_count(ds, "SeriesNumber"),
                   description=_text(ds, "SeriesDescription"),
                   n_instances=_count(ds, "NumberOfSeriesRelatedInstances"))


@dataclass(frozen=True)
class InstanceMatch:
    """One instance (image) of a series: what a retrieve must deliver."""

    sop_instance_uid: str
    sop_class_uid: str = ""
    number: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> InstanceMatch:
        """From a C-FIND identifier or a QIDO-RS answer (as a dataset)."""
        return cls(sop_instance_uid=_text(ds, "SOPInstanceUID"),
                   sop_class_uid=_text(ds, "SOPClassUID"), number=_count(ds, "InstanceNumber"))


@dataclass
class StoreReport:
    """What a send (STOW-RS or C-STORE) did.

    Attributes
    ----------
    sent
        Instances the server accepted (warnings included).
    failed
        ``(file name, reason)`` of the instances it refused or that could not be sent.
    skipped
        Files of the folder that are not DICOM instances (not sent).
    """

    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0

    @property
    def ok(self) -> bool:
        """Whether every instance was accepted."""
        return not self.failed

    def summary(self, server_label: str) -> str:
        """One line for the user: how many were stored, failed, skipped, and the first
        failure's reason."""
        text = f"{self.sent} instance{'s' if self.sent != 1 else ''} stored on {server_label}"
        if self.failed:
            name, reason = self.failed[0]
            text += f"; {len(self.failed)} failed (first: {name}: {reason})"
        if self.skipped:
            text += f"; {self.skipped} non-DICOM file{'s' if self.skipped != 1 else ''} skipped"
        return text
