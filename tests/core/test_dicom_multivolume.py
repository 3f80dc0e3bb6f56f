"""Multi-volume DICOM series: mosaic untiling, grouping into volumes and kinds, labels, RGB.

Synthetic classic series (one file per slice and volume) with known values and geometry, and
the real Siemens mosaics of the ``dicom_qa`` corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from medsr_viewer.core.io import load_study, load_volume
from medsr_viewer.core.io.dicom_mosaic import MosaicLayout, untile
from medsr_viewer.core.study_writer import save_study

#: Slice positions (LPS mm, along +z) and in-plane size of the synthetic series.
SLICES = (10.0, 12.5, 15.0)
ROWS, COLS = 4, 5


def _write(folder: Path, planes: list[dict[str, Any]], value: Callable[[dict[str, Any]], Any],
           *, rgb: bool = False) -> None:
    """One MR file per entry of ``planes`` (keys: z, instance and DICOM attributes)."""
    folder.mkdir(parents=True, exist_ok=True)
    series, frame = generate_uid(), generate_uid()
    for n, spec in enumerate(planes):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = frame
        ds.Modality = "MR"
        ds.SeriesDescription = "multi"
        ds.PatientName = "Hidden^Patient"
        ds.InstanceNumber = spec.get("instance", n + 1)
        ds.ImagePositionPatient = [0.0, 0.0, spec["z"]]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.5, 0.75]
        ds.Rows, ds.Columns = ROWS, COLS
        ds.BitsAllocated = 8 if rgb else 16
        ds.BitsStored = ds.BitsAllocated
        ds.HighBit = ds.BitsAllocated - 1
        ds.PixelRepresentation = 0
        for keyword, item in spec.items():
            if keyword not in ("z", "instance"):
                setattr(ds, keyword, item)
        pixels = np.asarray(value(spec))
        if rgb:
            ds.SamplesPerPixel = 3
            ds.PhotometricInterpretation = "RGB"
            ds.PlanarConfiguration = 0
            ds.PixelData = pixels.astype(np.uint8).tobytes()
        else:
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.PixelData = np.full((ROWS, COLS), pixels, dtype=np.uint16).tobytes()
        ds.save_as(folder / f"im{n:03d}.dcm", enforce_file_format=True)


def _assert_grid(affine: np.ndarray) -> None:
    """The synthetic series' geometry: 0.75 x 0.5 mm pixels, 2.5 mm slices from z = 10."""
    expected = np.diag([0.75, 0.5, 2.5, 1.0])
    expected[2, 3] = SLICES[0]
    np.testing.assert_allclose(affine, expected, atol=1e-6)


def test_untile_reads_tiles_row_by_row_and_drops_blank_ones() -> None:
    """Three 2 x 3 slices in a 2 x 2 mosaic: tiles top-left, top-right, bottom-left."""
    frame = np.zeros((4, 6), dtype=np.int16)
    frame[:2, :3], frame[:2, 3:], frame[2:, :3] = 1, 2, 3
    slices = untile(frame, MosaicLayout(3, 2, 2, 3, None, None))
    assert slices.shape == (3, 2, 3)
    assert [int(s.mean()) for s in slices] == [1, 2, 3]


def test_time_points_become_volumes_in_acquisition_order(tmp_path: Path) -> None:
    """3 slices x 4 time points (AcquisitionNumber), files in scrambled order."""
    planes = [{"z": z, "AcquisitionNumber": t, "instance": t * 10 + k, "time": t}
              for k, z in enumerate(SLICES) for t in (3, 1, 4, 2)]
    for spec in planes:
        spec["AcquisitionTime"] = f"1200{spec.pop('time'):02d}"
    _write(tmp_path / "fmri", planes, lambda s: 100 * s["AcquisitionNumber"] + int(s["z"]))
    study = load_study(tmp_path / "fmri")
    assert len(study.groups) == 1 and study.n_volumes == 4
    for t, volume in enumerate(study.group.volumes, start=1):
        assert volume.shape == (3, ROWS, COLS)
        _assert_grid(volume.affine)
        np.testing.assert_array_equal(volume.voxels[:, 0, 0], [100 * t + int(z) for z in SLICES])
        assert not any("duplicate" in w or "same slice position" in w for w in volume.warnings)
    assert [label["AcquisitionNumber"] for label in study.group.labels] == [1, 2, 3, 4]
    assert load_volume(tmp_path / "fmri").voxels[0, 0, 0] == 110  # the first, for 3-D callers


def test_unlabelled_repeats_are_ranked_by_instance_number(tmp_path: Path) -> None:
    """Nothing but InstanceNumber tells two volumes apart (GE-like): still two volumes."""
    planes = [{"z": z, "instance": v * 3 + k + 1, "vol": v}
              for v in (1, 0) for k, z in enumerate(SLICES)]
    _write(tmp_path / "ge", planes, lambda s: 7 + s["vol"])
    study = load_study(tmp_path / "ge")
    assert study.n_volumes == 2
    assert [float(v.voxels.mean()) for v in study.group.volumes] == [7.0, 8.0]


def test_diffusion_labels_and_text(tmp_path: Path) -> None:
    """b=0 plus two directions (standard attributes): labels, direction numbers, text."""
    directions = [None, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]
    planes = []
    for v, direction in enumerate(directions):
        for k, z in enumerate(SLICES):
            spec: dict[str, Any] = {"z": z, "instance": v * 3 + k + 1,
                                    "DiffusionBValue": 0.0 if direction is None else 1000.0}
            if direction is not None:
                spec["DiffusionGradientOrientation"] = list(direction)
            planes.append(spec)
    _write(tmp_path / "dwi", planes, lambda s: 50 if s["DiffusionBValue"] else 90)
    study = load_study(tmp_path / "dwi")
    labels = study.group.labels
    assert [label["DiffusionBValue"] for label in labels] == [0.0, 1000.0, 1000.0]
    assert labels[2]["DiffusionGradientOrientation"] == [0.0, 1.0, 0.0]
    assert study.group.label_text(2) == "b=1000 dir 2 3/3"
    assert study.pick(2).shown.voxels.max() == 50


def test_echoes_are_volumes_and_phase_is_a_separate_group(tmp_path: Path) -> None:
    """Two echoes of magnitude plus their phase images: magnitude 2 volumes, phase 2 volumes."""
    planes = []
    n = 0
    for kind in ("M", "P"):
        for echo, te in ((1, 5.0), (2, 10.0)):
            for z in SLICES:
                n += 1
                planes.append({"z": z, "instance": n, "EchoNumbers": echo, "EchoTime": te,
                               "ImageType": ["ORIGINAL", "PRIMARY", kind, "ND"]})
    _write(tmp_path / "me", planes,
           lambda s: (1000 if s["ImageType"][2] == "P" else 0) + s["EchoNumbers"])
    study = load_study(tmp_path / "me")
    assert [(g.kind, g.n_volumes) for g in study.groups] == [("magnitude", 2), ("phase", 2)]
    for group, base in zip(study.groups, (0, 1000), strict=True):
        for echo, volume in enumerate(group.volumes, start=1):
            assert np.all(volume.voxels == base + echo)  # never mixed
            _assert_grid(volume.affine)
        assert [label["EchoTime"] for label in group.labels] == [0.005, 0.01]
    assert study.group.label_text(1) == "echo 2 (TE 10 ms) 2/2"
    assert any("2 kinds of image" in w for w in study.shown.warnings)


def test_rgb_is_kept_for_export_and_shown_as_luminance(tmp_path: Path) -> None:
    """Colour FA-like RGB: luminance in the volume, RGB24 samples in the written NIfTI."""
    colour = np.zeros((ROWS, COLS, 3), dtype=np.uint8)
    colour[..., 0], colour[1, 2] = 200, (10, 250, 30)
    _write(tmp_path / "rgb", [{"z": z} for z in SLICES], lambda s: colour, rgb=True)
    study = load_study(tmp_path / "rgb")
    assert study.group.rgb is not None and study.group.rgb.shape == (1, 3, ROWS, COLS, 3)
    assert study.shown.voxels[0, 1, 2] == pytest.approx(0.299 * 10 + 0.587 * 250 + 0.114 * 30,
                                                        rel=1e-5)
    (written, *_) = save_study(study, tmp_path / "fa.nii.gz")
    image = nib.load(str(written))
    assert image.get_data_dtype().names == ("R", "G", "B")
    samples = np.asarray(image.dataobj)
    assert samples.shape == (COLS, ROWS, 3)
    assert tuple(samples[2, 1, 0]) == (10, 250, 30)  # (x=2, y=1, z=0)


def test_siemens_mosaic_slices_follow_the_csa_slice_normal(data_dir: Path) -> None:
    """H>>F numbering: the mosaic's first tile is the top slice; F>>H: the bottom one."""
    root = data_dir / "dicom_qa" / "series" / "dcm_qa_mosaic"
    for name, first_is_top in (("ep2d_Asc_HF_10", True), ("ep2d_Asc_2", False)):
        first_file = min(p for p in (root / name).rglob("*") if p.is_file())
        volume = load_study(first_file).shown  # one mosaic file = one volume of 36 slices
        assert volume.shape == (36, 64, 64)
        ds = pydicom.dcmread(first_file)
        assert int(ds[0x0019, 0x100A].value) == 36
        tile0 = untile(ds.pixel_array, MosaicLayout(36, 6, 64, 64, None, None))[0]
        heights = [volume.index_to_world((k, 32, 32))[2] for k in range(36)]
        top = int(np.argmax(heights)) if first_is_top else int(np.argmin(heights))
        np.testing.assert_array_equal(volume.voxels[top], tile0)
        normal = volume.affine[:3, 2]
        cross = np.cross(volume.affine[:3, 0], volume.affine[:3, 1])
        assert np.dot(normal, cross) > 0  # the grid is right-handed whatever the numbering
