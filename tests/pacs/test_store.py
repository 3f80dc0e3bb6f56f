"""Store back to a real Orthanc (STOW-RS, C-STORE): a derived series of the study, written
by ``core.io.derived_series``, is found again in its study and retrieves as written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from orthanc_server import Orthanc

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.io.derived_series import Derivation, write_derived_series
from medsr_viewer.core.volume import Volume
from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.errors import PacsError
from medsr_viewer.pacs.records import Query
from medsr_viewer.pacs.retrieve import retrieve_series
from medsr_viewer.pacs.send import send_folder

DERIVATION = Derivation("sr-test", "1.0.0", "cd" * 32, "0.1.0", what="enhancement")


@pytest.fixture(scope="module")
def source(vs_files: list[Path]) -> Volume:
    return load_volume(vs_files)


def _derived(source: Volume, folder: Path) -> tuple[Path, str]:
    """A 6-slice derived series of the source's study (values halved, same grid)."""
    result = Volume(source.voxels[:6].astype(np.float32) * 0.5, source.affine,
                    modality=source.modality, name="derived")
    files = write_derived_series(result, source, folder, DERIVATION, "PACS round trip")
    return folder, str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)


@pytest.mark.parametrize("protocol", ["stow-rs", "c-store"])
def test_derived_series_is_stored_found_and_retrieved(protocol: str, orthanc: Orthanc,
                                                      source: Volume, tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    folder, series_uid = _derived(source, tmp_path / "derived")
    (folder / "notes.txt").write_text("not DICOM")
    server = orthanc.dicomweb() if protocol == "stow-rs" else orthanc.dimse()
    client = connect(server)
    progress: list[tuple[int, int]] = []
    report = send_folder(client, folder, progress=lambda d, t: progress.append((d, t)))
    assert (report.sent, report.failed, report.skipped) == (6, [], 1)
    assert progress[-1] == (6, 6)
    assert "6 instances stored on PACS" in report.summary(server.label)
    # found again, in the source's study, by both protocols
    for finder in (connect(orthanc.dicomweb()), connect(orthanc.dimse())):
        found = finder.find_series(vs.study_uid, Query(series_uid=series_uid))
        assert [(s.series_uid, s.n_instances) for s in found] == [(series_uid, 6)]
        assert found[0].description == "PACS round trip"
    back = retrieve_series(client, vs.study_uid, series_uid, tmp_path / "back")
    original, retrieved = load_volume(folder), load_volume(back.folder)
    np.testing.assert_array_equal(retrieved.voxels, original.voxels)
    np.testing.assert_allclose(retrieved.affine, original.affine, atol=1e-6)
    first = pydicom.dcmread(next(back.folder.glob("*.dcm")), stop_before_pixels=True)
    assert "sr-test" in first.DerivationDescription
    assert list(first.ImageType) == ["DERIVED", "SECONDARY"]


def test_sending_a_folder_without_dicom_names_it(orthanc: Orthanc, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(PacsError, match=f"{tmp_path}: no DICOM files to send"):
        send_folder(connect(orthanc.dicomweb()), tmp_path)
    with pytest.raises(PacsError, match="no such file or folder"):
        send_folder(connect(orthanc.dimse()), tmp_path / "missing")
