"""PACS test fixtures: one real Orthanc per test process, loaded with shared DICOM data.

The server holds 20 slices of the real MR series ``dicom/vs_seg_001_t1`` (512x512, 16-bit;
a subset keeps the tests fast) and the Philips fMRI series of ``dicom_qa`` (27 files,
another patient). Tests that store add their own new series and never remove any.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orthanc_server import Orthanc

#: Slices of vs_seg_001_t1 uploaded (contiguous: the series opens as one volume).
VS_SLICES = 20


@pytest.fixture(scope="session")
def vs_files(data_dir: Path) -> list[Path]:
    """The first :data:`VS_SLICES` files of the real MR series."""
    files = sorted((data_dir / "dicom" / "vs_seg_001_t1").glob("*.dcm"))[:VS_SLICES]
    assert len(files) == VS_SLICES, "dicom/vs_seg_001_t1 is incomplete in the shared data"
    return files


@pytest.fixture(scope="session")
def qa_files(data_dir: Path) -> list[Path]:
    """The Philips fMRI series of the DICOM conformance corpus (27 files, 3 volumes)."""
    folder = data_dir / "dicom_qa" / "series" / "dcm_qa_philips" / "Magdeburg_2014" / "fmri"
    files = sorted(folder.glob("*.dcm"))
    assert files, f"{folder}: no DICOM files in the shared data"
    return files


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory, vs_files: list[Path],
            qa_files: list[Path]) -> Iterator[Orthanc]:
    """A running Orthanc of this test process, loaded with the two series ("vs", "qa")."""
    server = Orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        server.upload("vs", vs_files)
        server.upload("qa", qa_files)
        yield server
    finally:
        server.stop()


@pytest.fixture
def pacs_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder (servers file) and a PACS cache folder of the test's own."""
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(config))
    monkeypatch.setenv("MEDSR_PACS_CACHE", str(tmp_path / "pacs-cache"))
    return config
