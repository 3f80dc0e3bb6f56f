"""The failures a user meets, against a real Orthanc: server down, wrong AE title, a
connection cut half-way, a cancel, a count mismatch. A partial series is never left where it
could open as a complete study."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from orthanc_server import CLIENT_AET, CuttingProxy, Orthanc, free_port

from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.errors import (
    AssociationRejected,
    PacsConnectionError,
    PacsError,
    RetrieveCancelled,
    RetrieveIncomplete,
)
from medsr_viewer.pacs.records import Query
from medsr_viewer.pacs.retrieve import retrieve_series
from medsr_viewer.pacs.servers import PacsServer


def _nothing_left(parent: Path) -> None:
    """No series folder and no partial folder in ``parent``."""
    assert not parent.exists() or list(parent.iterdir()) == []


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_server_down_names_host_and_port(protocol: str, orthanc: Orthanc) -> None:
    port = free_port()
    server = (orthanc.dicomweb(url=f"http://127.0.0.1:{port}/dicom-web")
              if protocol == "dicomweb" else orthanc.dimse(port=port))
    with pytest.raises(PacsConnectionError) as info:
        connect(server).find_studies(Query(patient_name="VS*"))
    message = str(info.value)
    assert f"cannot reach PACS '{server.name}'" in message
    assert f"127.0.0.1:{port}" in message and "connection refused" in message
    assert "VS" not in message.replace(server.name, "")  # the search is not repeated


def test_wrong_called_ae_title_is_rejected_with_both_titles(orthanc: Orthanc) -> None:
    server = orthanc.dimse(called_aet="NOT_ORTHANC")
    with pytest.raises(AssociationRejected) as info:
        connect(server).find_studies(Query())
    message = str(info.value)
    assert "rejected the association" in message and f"127.0.0.1:{orthanc.dicom_port}" in message
    assert "'NOT_ORTHANC'" in message and f"'{CLIENT_AET}'" in message
    assert "Called AE title not recognised" in message  # the server's reason


def test_unknown_calling_ae_title_is_refused(orthanc: Orthanc) -> None:
    known = orthanc.dimse()
    stranger = PacsServer("stranger", "dimse", host=known.host, port=known.port,
                          called_aet=known.called_aet, calling_aet="STRANGER", timeout=10)
    with pytest.raises(PacsError) as info:
        connect(stranger).find_studies(Query())
    assert "PACS 'stranger' (DIMSE, 127.0.0.1:" in str(info.value)
    assert "'STRANGER'" in str(info.value)


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_connection_cut_half_way_deletes_the_partial_series(protocol: str, orthanc: Orthanc,
                                                             tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    target = orthanc.http_port if protocol == "dicomweb" else orthanc.dicom_port
    proxy = CuttingProxy(target, limit=3_000_000)  # about 5 of the 20 slices of 512 KB
    try:
        server = (orthanc.dicomweb(url=f"http://127.0.0.1:{proxy.port}/dicom-web")
                  if protocol == "dicomweb" else orthanc.dimse(port=proxy.port))
        seen: list[int] = []
        with pytest.raises(RetrieveIncomplete) as info:
            retrieve_series(connect(server), vs.study_uid, vs.series_uid,
                            tmp_path / "cache" / "series", on_instance=seen.append)
    finally:
        proxy.close()
    message = str(info.value)
    assert proxy.cuts >= 1 and 0 < len(seen) < 20
    # DIMSE sees the association drop; a cut WADO-RS stream may just end early: the count
    # check catches it
    assert (f"lost during the C-GET after {len(seen)} of 20 instances" in message
            if protocol == "dimse" else
            f"{len(seen)} of the 20 instances the server lists arrived" in message), message
    assert "partial data was deleted and nothing was opened" in message
    _nothing_left(tmp_path / "cache")


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_cancel_half_way_deletes_the_partial_series(protocol: str, orthanc: Orthanc,
                                                    tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    cancel = threading.Event()
    client = connect(orthanc.dicomweb() if protocol == "dicomweb" else orthanc.dimse())

    def after(count: int) -> None:
        if count == 4:
            cancel.set()

    with pytest.raises(RetrieveCancelled, match="cancelled after 4 of 20 instances; the "
                                                "partial data was deleted"):
        retrieve_series(client, vs.study_uid, vs.series_uid, tmp_path / "c" / "series",
                        cancel=cancel, on_instance=after)
    _nothing_left(tmp_path / "c")


def test_fewer_instances_than_the_server_lists_is_incomplete(orthanc: Orthanc,
                                                             tmp_path: Path) -> None:
    qa = orthanc.series["qa"]
    with pytest.raises(RetrieveIncomplete, match="27 of the 28 instances the server lists "
                                                 "arrived; the partial data was deleted"):
        retrieve_series(connect(orthanc.dicomweb()), qa.study_uid, qa.series_uid,
                        tmp_path / "m" / "series", expected=28)
    _nothing_left(tmp_path / "m")


def test_a_failed_retrieve_keeps_the_complete_copy_it_would_have_replaced(
        orthanc: Orthanc, tmp_path: Path) -> None:
    qa = orthanc.series["qa"]
    client = connect(orthanc.dicomweb())
    dest = tmp_path / "keep" / "series"
    retrieve_series(client, qa.study_uid, qa.series_uid, dest)
    with pytest.raises(RetrieveIncomplete):
        retrieve_series(client, qa.study_uid, qa.series_uid, dest, expected=30)
    assert len(list(dest.glob("*.dcm"))) == 27
    assert [p.name for p in dest.parent.iterdir()] == ["series"]


def test_unknown_series_says_so(orthanc: Orthanc, tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    with pytest.raises(PacsError, match="has no instances of the series asked for"):
        retrieve_series(connect(orthanc.dimse()), vs.study_uid, "1.2.3.4.5.6.7", tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_a_local_write_failure_half_way_deletes_the_partial_series(
        protocol: str, orthanc: Orthanc, tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    client = connect(orthanc.dicomweb() if protocol == "dicomweb" else orthanc.dimse())

    def disk_full(count: int) -> None:
        if count == 3:
            raise OSError(28, "No space left on device")

    with pytest.raises(RetrieveIncomplete, match=r"failed after 3 of 20 instances \(OSError: "
                                                 r".*No space left on device\); the partial"):
        retrieve_series(client, vs.study_uid, vs.series_uid, tmp_path / "d" / "series",
                        on_instance=disk_full)
    _nothing_left(tmp_path / "d")
