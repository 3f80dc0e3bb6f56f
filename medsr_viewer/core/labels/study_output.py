"""Saving a label layer of a study: NIfTI for any study, DICOM SEG for a DICOM study.

The study's own input files are never written over: :func:`study_input_files` lists them
(the NIfTI/image file, or every file of the DICOM series) and :func:`save_label_layer` refuses
those targets whatever the format. A DICOM SEG references the source series, so the series'
datasets are read back from the study's folder (:func:`dicom_source_datasets`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from medsr_viewer.core.io import discover_series
from medsr_viewer.core.labels.dicom_seg import DicomSegError, write_dicom_seg
from medsr_viewer.core.labels.labelmap import LabelMap, LabelMapError, save_label_map_nifti
from medsr_viewer.core.volume import Volume

#: Output formats by file-name ending.
NIFTI_ENDINGS = (".nii", ".nii.gz")
SEG_ENDINGS = (".dcm",)


def is_dicom_study(study: Volume) -> bool:
    """Whether the study was read from a DICOM series."""
    return str(study.metadata.get("format", "")).upper() == "DICOM"


def study_input_files(study: Volume) -> list[Path]:
    """The files the study was read from (resolved): its file, or its DICOM series' files."""
    source = study.metadata.get("source")
    if not source:
        return []
    path = Path(str(source))
    if is_dicom_study(study):
        uid = str(study.metadata.get("series_uid", ""))
        series = [s for s in discover_series(path) if not uid or s.uid == uid]
        files = [f for s in series for f in s.files]
        return [f.resolve() for f in files] or [path.resolve()]
    return [path.resolve()]


def dicom_source_datasets(study: Volume) -> list[Dataset]:
    """The datasets (with pixels) of the DICOM series a study was read from.

    Raises :class:`DicomSegError` when the study is not DICOM or its files cannot be read.
    """
    if not is_dicom_study(study):
        raise DicomSegError(f"{study.name or 'the study'} is not a DICOM study, so a DICOM SEG "
                            "cannot reference it; save the labels as NIfTI")
    files = study_input_files(study)
    if not files:
        raise DicomSegError("the study's DICOM files are unknown")
    datasets: list[Dataset] = []
    for file in files:
        try:
            datasets.append(pydicom.dcmread(str(file)))
        except Exception as exc:  # pydicom raises many types for unreadable files
            raise DicomSegError(f"{file}: cannot read the source image ({exc})") from exc
    return datasets


def save_label_layer(
    label_map: LabelMap,
    path: str | os.PathLike[str],
    study: Volume,
    algorithm_name: str | None = None,
) -> Path:
    """Write a layer atomically as NIfTI (``.nii``/``.nii.gz``) or DICOM SEG (``.dcm``).

    An existing file other than the study's inputs and the layer's own source is replaced
    (the caller asked for it, e.g. through a confirming file dialog). ``algorithm_name``
    marks DICOM segments as automatic (model output).

    Raises
    ------
    LabelMapError
        The target is one of the study's input files or the layer's source, has an unknown
        ending, or cannot be written (the message names the file).
    """
    target = Path(path).expanduser()
    resolved = target.resolve()
    if resolved in study_input_files(study):
        raise LabelMapError(f"{target}: is one of the study's input files; not overwriting it")
    if label_map.source is not None and resolved == Path(label_map.source).resolve():
        raise LabelMapError(f"{target}: is the file these labels were loaded from; "
                            "choose another name")
    name = target.name.lower()
    if name.endswith(SEG_ENDINGS):
        try:
            return write_dicom_seg(label_map, dicom_source_datasets(study), target,
                                   algorithm_name=algorithm_name,
                                   series_description=label_map.name or "MedSR labels")
        except DicomSegError as exc:
            message = str(exc)
            raise LabelMapError(message if str(target) in message
                                else f"{target}: {message}") from exc
        except OSError as exc:
            raise LabelMapError(f"{target}: cannot write ({exc})") from exc
    if name.endswith(NIFTI_ENDINGS):
        try:
            return save_label_map_nifti(label_map, target, force=True, write_table=True)
        except OSError as exc:
            raise LabelMapError(f"{target}: cannot write ({exc})") from exc
    raise LabelMapError(f"{target}: unknown label file type; use .nii.gz, .nii or .dcm (SEG)")
