"""PACS server settings (no server needed): validation messages and the settings file."""

from __future__ import annotations

import logging
from pathlib import Path

import orthanc_server
import pytest

from medsr_viewer.pacs.errors import PacsConfigError
from medsr_viewer.pacs.privacy import protect_logs, scrub
from medsr_viewer.pacs.servers import DICOMWEB, DIMSE, PacsServer, ServerStore


def test_valid_servers_are_cleaned_and_named_by_host_and_port() -> None:
    web = PacsServer(" web ", "DICOMweb", url="http://pacs.local:8042/dicom-web/").validated()
    assert (web.name, web.protocol, web.url) == ("web", DICOMWEB, "http://pacs.local:8042/dicom-web")
    assert web.label == "PACS 'web' (DICOMweb, pacs.local:8042)"
    dimse = PacsServer("d", DIMSE, host="10.0.0.5", port=11112, called_aet=" ORTHANC ")
    assert dimse.validated().called_aet == "ORTHANC"
    assert dimse.label == "PACS 'd' (DIMSE, 10.0.0.5:11112)"


@pytest.mark.parametrize(("server", "words"), [
    (PacsServer("", DICOMWEB, url="http://x/dicom-web"), ["needs a name"]),
    (PacsServer("a", "hl7"), ["'a'", "protocol 'hl7'"]),
    (PacsServer("a", DICOMWEB, url="ftp://x"), ["'a'", "not an http(s) URL"]),
    (PacsServer("a", DIMSE, host="h", port=0, called_aet="X"), ["'a'", "port 0"]),
    (PacsServer("a", DIMSE, host="h", port=104, called_aet="A" * 17), ["longer than 16"]),
    (PacsServer("a", DIMSE, host="h", port=104, called_aet=""), ["called AE title"]),
    (PacsServer("a", DIMSE, host="h", called_aet="X", calling_aet="BAD\\AE"), ["backslash"]),
    (PacsServer("a", DIMSE, host="h", called_aet="X", retrieve="move"), ["move_port"]),
    (PacsServer("a", DIMSE, called_aet="X"), ["needs a host"]),
])
def test_invalid_settings_say_which_server_and_field(server: PacsServer,
                                                     words: list[str]) -> None:
    with pytest.raises(PacsConfigError) as info:
        server.validated()
    for word in words:
        assert word in str(info.value)


def test_store_round_trip_replace_remove_and_bad_files(tmp_path: Path) -> None:
    store = ServerStore(tmp_path / "pacs_servers.json")
    assert store.servers() == []
    store.put(PacsServer("web", DICOMWEB, url="http://h:8042/dicom-web"))
    store.put(PacsServer("dimse", DIMSE, host="h", port=4242, called_aet="ORTHANC"))
    store.put(PacsServer("web", DICOMWEB, url="http://other:80/dicom-web"))
    assert [s.name for s in store.servers()] == ["dimse", "web"]
    assert store.get("web").url == "http://other:80/dicom-web"
    with pytest.raises(PacsConfigError, match="no PACS server 'nope'.*'dimse', 'web'"):
        store.get("nope")
    store.remove("dimse")
    assert [s.name for s in store.servers()] == ["web"]
    store.path.write_text("{not json")
    with pytest.raises(PacsConfigError, match="pacs_servers.json: not valid JSON"):
        store.servers()
    store.path.write_text('{"format": "medsr-pacs-servers", "servers": [{"name": "x", '
                          '"protocol": "dicomweb", "url": "http://h/dw", "colour": 1}]}')
    with pytest.raises(PacsConfigError, match="unknown setting.*colour"):
        store.servers()


def test_log_scrubbing_removes_queries_values_and_uids(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    protect_logs()
    text = ('GET http://h:80/dicom-web/studies?PatientName=DOE%5EJOHN&StudyDate=2020 '
            '"1.2.840.113619.2.55.3" (0010,0010) PN [DOE^JOHN]')
    cleaned = scrub(text)
    assert "DOE" not in cleaned and "2020" not in cleaned and "113619" not in cleaned
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug("GET /studies?PatientID=%s", "X123")
    assert "X123" not in caplog.text and "?<query>" in caplog.text


def test_missing_orthanc_fails_unless_skipping_is_asked(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    monkeypatch.setattr(orthanc_server, "ORTHANC_CANDIDATES", ("/nonexistent/Orthanc",))
    monkeypatch.setattr(orthanc_server.shutil, "which", lambda _name: None)
    monkeypatch.delenv(orthanc_server.SKIP_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y orthanc "
                                                    "orthanc-dicomweb"):
        orthanc_server.require_orthanc()
    monkeypatch.setenv(orthanc_server.SKIP_ENV, "1")
    with pytest.raises(pytest.skip.Exception, match="MEDSR_SKIP_PACS=1"):
        orthanc_server.require_orthanc()
