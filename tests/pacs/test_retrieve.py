"""Retrieve from a real Orthanc (WADO-RS, C-GET, C-MOVE): the series opens exactly as the
same files loaded directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from orthanc_server import Orthanc

from medsr_viewer.core.io import load_study, load_volume
from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.retrieve import retrieve_series
from medsr_viewer.pacs.servers import PacsServer


def _server(orthanc: Orthanc, how: str) -> PacsServer:
    return {"wado-rs": orthanc.dicomweb(), "c-get": orthanc.dimse(),
            "c-move": orthanc.dimse(move=True)}[how]


@pytest.mark.parametrize("how", ["wado-rs", "c-get", "c-move"])
def test_retrieved_series_opens_as_the_files_do(how: str, orthanc: Orthanc, vs_files: list[Path],
                                                tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    client = connect(_server(orthanc, how))
    reports: list[tuple[int, int]] = []
    dest = tmp_path / "cache" / "series"
    result = retrieve_series(client, vs.study_uid, vs.series_uid, dest,
                             progress=lambda d, t: reports.append((d, t)))
    assert result.folder == dest and result.instances == 20
    assert len(list(dest.glob("*.dcm"))) == 20
    assert reports[-1] == (20, 20) and [d for d, _ in reports] == list(range(1, 21))
    assert [p.name for p in dest.parent.iterdir()] == ["series"]  # no partial folder left
    retrieved, direct = load_volume(dest), load_volume(vs_files)
    assert retrieved.shape == direct.shape == (20, 512, 512)
    np.testing.assert_array_equal(retrieved.voxels, direct.voxels)
    np.testing.assert_allclose(retrieved.affine, direct.affine, atol=1e-6)
    assert retrieved.metadata.get("series_uid") == vs.series_uid


def test_a_4d_series_of_another_vendor_round_trips(orthanc: Orthanc, qa_files: list[Path],
                                                   tmp_path: Path) -> None:
    qa = orthanc.series["qa"]
    client = connect(orthanc.dicomweb())
    result = retrieve_series(client, qa.study_uid, qa.series_uid, tmp_path / "qa")
    assert result.instances == len(qa_files)
    retrieved, direct = load_study(result.folder), load_study(qa_files)
    ours = [v for g in retrieved.groups for v in g.volumes]
    theirs = [v for g in direct.groups for v in g.volumes]
    assert len(ours) == len(theirs) > 1
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.voxels, b.voxels)
        np.testing.assert_allclose(a.affine, b.affine, atol=1e-6)


def test_retrieving_again_replaces_the_folder(orthanc: Orthanc, tmp_path: Path) -> None:
    qa = orthanc.series["qa"]
    client = connect(orthanc.dimse())
    dest = tmp_path / "qa"
    dest.mkdir()
    (dest / "stale.dcm").write_bytes(b"old")
    retrieve_series(client, qa.study_uid, qa.series_uid, dest)
    assert not (dest / "stale.dcm").exists()
    assert len(list(dest.iterdir())) == 27
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa"]
