"""The reviewed labelling of the shared series for the bundled ``series-type`` classifier.

Every series was looked at (a middle slice of each orientation) and its DICOM
SeriesDescription / ProtocolName / ScanningSequence / ImageType, or the BIDS sidecar
dcm2niix wrote for it (``dicom_qa/ref``), or the data README for NIfTI files, was read; the
``reason`` column says what decided the label. ``split`` is by **subject** (all series of one
person or phantom go to the same side), never by slice:

- ``train``: used for training (slices of all three orientations of 3-D volumes);
- ``val``: held out, never seen in training; the card's scores are measured on these;
- ``excluded``: not used, with the reason (phantoms, test patterns, duplicates, field maps).

Paths are relative to the shared data folder (``MEDSR_DATA``), except ``pydicom:NAME``: a
test file shipped inside the installed ``pydicom`` package (real de-identified clinical
slices; the only second subjects available offline for CT and T2-weighted MR).

How few subjects there are (be honest): CT has one training volume (``CT_pitch``, 8-bit,
not HU) and three held-out single slices from pydicom (two head CTs, one chest CT, in HU);
T2/PD has one training volume (``chris_PD``) and one held-out 64x64 slice; FLAIR and MR
angiography have **one series each** and no held-out series at all; T1 and EPI have several
subjects. ``chris_t1``, ``chris_PD`` and ``chris_MRA`` are the same person.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The classes of ``series-type``, in output order.
SERIES_TYPES: tuple[str, ...] = (
    "CT", "T1-weighted", "T2/PD-weighted", "FLAIR", "EPI", "MR angiography",
)
#: Label colours for the viewer's bars and plot (RGB).
SERIES_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (204, 121, 167),
    (213, 94, 0),
)


@dataclass(frozen=True)
class LabelledSeries:
    """One reviewed series.

    Parameters
    ----------
    path
        Relative to the data folder, or ``pydicom:FILE``.
    label
        One of :data:`SERIES_TYPES` (``""`` when excluded).
    subject
        Who (or what) was scanned; the split keeps each subject on one side.
    split
        ``train``, ``val`` or ``excluded``.
    reason
        What decided the label (or the exclusion).
    """

    path: str
    label: str
    subject: str
    split: str
    reason: str

    @property
    def name(self) -> str:
        """A short display name (never a patient identifier)."""
        return self.path.removeprefix("pydicom:").replace("dicom_qa/series/", "")


_ORIENT = "dicom_qa/series/dcm_qa/Orientation/"
_EPI_ORIENT_REASON = ("BIDS sidecar: ScanningSequence EP, ImageType ORIGINAL/PRIMARY/M/MOSAIC, "
                      "TR 3 s, TE 30 ms: Siemens gradient-echo EPI (fMRI)")
_MOSAIC_REASON = ("BIDS sidecar: ScanningSequence EP (ep2d/CMRR multiband BOLD), MOSAIC, "
                  "TR 3.2 s, TE 30-34 ms")

SERIES: tuple[LabelledSeries, ...] = (
    # --- CT ---------------------------------------------------------------------------------
    LabelledSeries("mri_ct/CT_pitch.nii.gz", "CT", "ct-pitch", "train",
                   "data README: CT head (tilted gantry); skull bright, 8-bit windowed values"),
    LabelledSeries("pydicom:693_J2KI.dcm", "CT", "pydicom-ct-693", "val",
                   "Modality CT, SeriesDescription '5/5mm Plain': non-contrast head CT slice"),
    LabelledSeries("pydicom:J2K_pixelrep_mismatch.dcm", "CT", "pydicom-ct-j2k", "val",
                   "Modality CT: head CT slice at the skull base (petrous bones visible)"),
    LabelledSeries("pydicom:CT_small.dcm", "CT", "pydicom-ct-small", "val",
                   "Modality CT: 128x128 chest CT slice (vertebra, lung); not a head"),
    # --- T1-weighted ------------------------------------------------------------------------
    LabelledSeries("mri_ct/chris_t1.nii.gz", "T1-weighted", "chris", "train",
                   "data README: MRI T1 head, 0.88 mm isotropic; dark CSF, bright fat"),
    LabelledSeries("mri_ct/spm152.nii.gz", "T1-weighted", "icbm152-template", "train",
                   "data README: ICBM 152 2009 T1 template (an average of 152 subjects)"),
    LabelledSeries("labelled/freesurfer_subject/norm.mgz", "T1-weighted", "freesurfer-subject",
                   "train", "FreeSurfer norm.mgz: intensity-normalised, skull-stripped T1"),
    LabelledSeries("dicom/vs_seg_001_t1", "T1-weighted", "vs-seg-001", "train",
                   "data README and SeriesDescription: Siemens T1 MPRAGE, 16-bit"),
    LabelledSeries("dicom_qa/series/dcm_qa_decubitus/HFS/3_t1_fl2d_sag", "T1-weighted",
                   "decubitus-volunteer", "val",
                   "SeriesDescription t1_fl2d_sag, ScanningSequence GR, TR 300 ms, TE 2.5 ms: "
                   "2-D T1 FLASH, supine"),
    LabelledSeries("dicom_qa/series/dcm_qa_decubitus/HFDL/2_t1_fl2d_sag", "T1-weighted",
                   "decubitus-volunteer", "val",
                   "same protocol, decubitus-left position (same volunteer)"),
    LabelledSeries("pydicom:examples_overlay.dcm", "T1-weighted", "pydicom-abdomen", "val",
                   "ProtocolName t1_vibe_fs_tra_bh_dyn, GR, TR 5.5 ms, TE 2.8 ms: fat-saturated "
                   "T1 VIBE of the abdomen (post-contrast); not a head"),
    # --- T2/PD-weighted -----------------------------------------------------------------------
    LabelledSeries("mri_ct/chris_PD.nii.gz", "T2/PD-weighted", "chris", "train",
                   "data README: MRI proton density; CSF and grey matter bright"),
    LabelledSeries("pydicom:MR_small.dcm", "T2/PD-weighted", "pydicom-mr-small", "val",
                   "ScanningSequence SE, TR 4000 ms, TE 240 ms: heavily T2-weighted spin echo "
                   "(64x64 slice)"),
    # --- FLAIR --------------------------------------------------------------------------------
    LabelledSeries("labelled/flair_lesion/FLAIR.nii.gz", "FLAIR", "flair-lesion", "train",
                   "data README: brain FLAIR with lesions; dark CSF, bright lesions, no skull"),
    # --- EPI ----------------------------------------------------------------------------------
    *(LabelledSeries(_ORIENT + p, "EPI", "orientation-volunteer", "train", _EPI_ORIENT_REASON)
      for p in ("ax/axasc35/series_6", "ax/axasc36", "ax/axasc36b", "ax/axdesc35",
                "ax/axdesc36", "ax/axint35", "ax/axint36", "axmb/AxAsc36mb2a", "axmb/AxInt36mb",
                "cor/corasc35", "cor/corasc36", "cor/cordesc35", "cor/cordesc36", "cor/corint35",
                "cor/corint36", "sag/sagasc35", "sag/sagasc36", "sag/sagdesc35", "sag/sagdesc36",
                "sag/sagint35", "sag/sagint36")),
    *(LabelledSeries("dicom_qa/series/dcm_qa_mosaic/" + p, "EPI", "mosaic-volunteer", "train",
                     _MOSAIC_REASON)
      for p in ("cmrr_Asc_6", "cmrr_Asc_HF_7", "cmrr_Int_8", "cmrr_Int_HF_9", "ep2d_Asc_2",
                "ep2d_Asc_HF_10/series_10", "ep2d_Int_4", "ep2d_Int_HF_5")),
    *(LabelledSeries("dicom_qa/series/dcm_qa_12bit/" + p, "EPI", "12bit-volunteer", "val",
                     "BIDS sidecar: FMRI_AX_ASC, ScanningSequence SE\\EP, MOSAIC, TR 2.2 s: "
                     "spin-echo EPI (fMRI), 12-bit")
      for p in ("series_2", "series_3", "series_4")),
    LabelledSeries("dicom_qa/series/dcm_qa_decubitus/HFS/4_ep2d_diff_mddw_20_p2", "EPI",
                   "decubitus-volunteer", "val",
                   "ep2d_diff_mddw_20_p2, ImageType DIFFUSION/MOSAIC, TE 69 ms: diffusion EPI"),
    # --- MR angiography -----------------------------------------------------------------------
    LabelledSeries("mri_ct/chris_MRA.nii.gz", "MR angiography", "chris", "train",
                   "data README: MR angiography (time of flight); bright vessels, dark tissue"),
    # --- not used -----------------------------------------------------------------------------
    *(LabelledSeries("dicom_qa/series/dcm_qa_ts/series_" + n, "", "orientation-volunteer",
                     "excluded", "the axasc35 mosaic again in another transfer syntax (duplicate)")
      for n in ("1", "2", "3", "4", "5", "6", "7", "8", "9")),
    LabelledSeries("dicom_qa/series/dcm_qa_enh/Philips", "", "phantom", "excluded",
                   "ImageType FIELDMAPHZ: B0 field map (magnitude + Hz) of a spherical phantom; "
                   "none of the classes"),
    LabelledSeries("dicom_qa/series/dcm_qa_enh/Siemens/XA10", "", "phantom", "excluded",
                   "EPI (REST1 w SMS) of a phantom: no anatomy"),
    LabelledSeries("dicom_qa/series/dcm_qa_philips/Magdeburg_2014/fmri", "", "phantom",
                   "excluded", "EPI_asc of a bottle phantom, 9 slices of 8 mm: no anatomy"),
    LabelledSeries("dicom_qa/series/dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", "", "ge-test-pattern",
                   "excluded", "pixel data is a test pattern (stripes, no anatomy), also in "
                   "dcm2niix's reference"),
    LabelledSeries("dicom_qa/series/dcm_qa_ge/01_Ax_DWI_TENSOR_R2", "", "ge-test-pattern",
                   "excluded", "test pattern, no anatomy"),
    LabelledSeries("dicom_qa/series/dcm_qa_ge/SliceTimingMPh/2_fMRI_Multiphase_Des", "",
                   "ge-test-pattern", "excluded", "test pattern, no anatomy"),
)


def series_for(split: str) -> list[LabelledSeries]:
    """The reviewed series of one split (``train``, ``val`` or ``excluded``)."""
    return [s for s in SERIES if s.split == split]


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder: ``root``, else ``$MEDSR_DATA``.

    Raises
    ------
    FileNotFoundError
        When neither names an existing folder.
    """
    text = os.fspath(root) if root is not None else os.environ.get("MEDSR_DATA", "")
    if not text or not Path(text).is_dir():
        raise FileNotFoundError("the shared data folder is not set: pass --data-root or set "
                                "MEDSR_DATA")
    return Path(text)


def resolve(series: LabelledSeries, root: Path) -> Path:
    """The file or folder of ``series`` (``pydicom:`` files from the installed package)."""
    if series.path.startswith("pydicom:"):
        from pydicom.data import get_testdata_file

        found = get_testdata_file(series.path.removeprefix("pydicom:"))
        if found is None:
            raise FileNotFoundError(f"{series.path}: not in the installed pydicom package")
        return Path(str(found))
    return root / series.path


def check_split() -> None:
    """Assert the split's invariants: known labels, no subject on both sides.

    Raises
    ------
    ValueError
        Naming the first broken rule.
    """
    sides: dict[str, set[str]] = {}
    for s in SERIES:
        if s.split not in ("train", "val", "excluded"):
            raise ValueError(f"{s.path}: unknown split {s.split!r}")
        if s.split != "excluded" and s.label not in SERIES_TYPES:
            raise ValueError(f"{s.path}: unknown label {s.label!r}")
        if s.split != "excluded":
            sides.setdefault(s.subject, set()).add(s.split)
    both = sorted(k for k, v in sides.items() if len(v) > 1)
    if both:
        raise ValueError(f"subjects on both sides of the split: {', '.join(both)}")
