"""A real Orthanc PACS for the tests: its own configuration, ports and storage folders.

The Debian packages ``orthanc`` and ``orthanc-dicomweb`` provide the server and its DICOMweb
plugin (``.ci/run`` installs them). Each test process starts its own server on loopback, on
free ports, with its storage and index under the process's temporary folder; so two test
processes (pytest-xdist) never share anything.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
import requests

from medsr_viewer.pacs.servers import C_GET, C_MOVE, DICOMWEB, DIMSE, PacsServer

ORTHANC_CANDIDATES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
PLUGIN_CANDIDATES = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                     "/usr/lib/orthanc/libOrthancDicomWeb.so")
SKIP_ENV = "MEDSR_SKIP_PACS"
SERVER_AET = "ORTHANC"
CLIENT_AET = "MEDSR"
INSTALL_HINT = ("install the Debian packages: apt-get install -y orthanc orthanc-dicomweb "
                "(.ci/run does this in CI); set MEDSR_SKIP_PACS=1 to skip the PACS tests "
                "on a machine without them")


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _first(candidates: Iterable[str], which: str | None = None) -> Path | None:
    found = shutil.which(which) if which else None
    if found:
        return Path(found)
    return next((Path(p) for p in candidates if Path(p).is_file()), None)


def require_orthanc() -> tuple[Path, Path]:
    """The Orthanc binary and the DICOMweb plugin; fails the test (skips it only when
    ``MEDSR_SKIP_PACS=1``) when either is missing."""
    binary = _first(ORTHANC_CANDIDATES, "Orthanc")
    plugin = _first(PLUGIN_CANDIDATES)
    missing = [what for what, path in (("Orthanc (/usr/sbin/Orthanc)", binary),
                                       ("its DICOMweb plugin (libOrthancDicomWeb.so)", plugin))
               if path is None]
    if missing:
        message = f"{' and '.join(missing)} not installed: {INSTALL_HINT}"
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"{SKIP_ENV}=1: {message}")
        pytest.fail(message, pytrace=False)
    assert binary is not None and plugin is not None
    return binary, plugin


@dataclass(frozen=True)
class ServerSeries:
    """A series uploaded to the server, with the files it came from."""

    study_uid: str
    series_uid: str
    patient_id: str
    patient_name: str
    files: tuple[Path, ...]


class Orthanc:
    """A running Orthanc (see the module).

    Parameters
    ----------
    folder
        Its own folder: configuration, storage, index and log.
    """

    def __init__(self, folder: Path) -> None:
        binary, plugin = require_orthanc()
        self.folder = folder
        self.http_port, self.dicom_port, self.move_port = free_port(), free_port(), free_port()
        self.log_path = folder / "orthanc.log"
        config = {
            "Name": "medsr-test",
            "HttpPort": self.http_port, "DicomPort": self.dicom_port, "DicomAet": SERVER_AET,
            "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "index"),
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "HttpServerEnabled": True, "DicomServerEnabled": True,
            "DicomCheckCalledAet": True, "DicomAssociationCloseDelay": 0,
            "DicomScuTimeout": 10, "SaveJobs": False, "StorageCompression": False,
            "DicomModalities": {"medsr": [CLIENT_AET, "127.0.0.1", self.move_port]},
            "Plugins": [str(plugin)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        self.config_path = folder / "orthanc.json"
        self.config_path.write_text(json.dumps(config, indent=1))
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen([str(binary), str(self.config_path)],
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        cwd=folder)
        self.session = requests.Session()
        self.series: dict[str, ServerSeries] = {}
        self._wait_until_up()

    @property
    def rest(self) -> str:
        """The REST API's root."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root."""
        return f"{self.rest}/dicom-web"

    def log_tail(self) -> str:
        """The end of the server's log (for failure messages)."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def _wait_until_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Orthanc exited ({self.process.returncode}):\n{self.log_tail()}",
                            pytrace=False)
            try:
                if self.session.get(f"{self.rest}/system", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"Orthanc did not answer /system within {timeout} s:\n{self.log_tail()}",
                    pytrace=False)

    def upload(self, key: str, files: Iterable[Path]) -> ServerSeries:
        """POST ``files`` to ``/instances``; they must be one series, kept as ``key``."""
        files = tuple(files)
        for path in files:
            answer = self.session.post(f"{self.rest}/instances", data=path.read_bytes(),
                                       timeout=30)
            assert answer.ok, f"upload of {path} failed: {answer.status_code} {answer.text}"
        header = pydicom.dcmread(files[0], stop_before_pixels=True)
        series = ServerSeries(str(header.StudyInstanceUID), str(header.SeriesInstanceUID),
                              str(header.PatientID), str(header.PatientName), files)
        self.series[key] = series
        return series

    def dicomweb(self, name: str = "orthanc-web", url: str | None = None) -> PacsServer:
        """This server as a DICOMweb server setting."""
        return PacsServer(name, DICOMWEB, url=url or self.dicomweb_url, timeout=10)

    def dimse(self, name: str = "orthanc-dimse", *, move: bool = False,
              called_aet: str = SERVER_AET, port: int | None = None) -> PacsServer:
        """This server as a DIMSE server setting (C-GET, or C-MOVE to our port)."""
        return PacsServer(name, DIMSE, host="127.0.0.1", port=port or self.dicom_port,
                          called_aet=called_aet, calling_aet=CLIENT_AET,
                          retrieve=C_MOVE if move else C_GET,
                          move_port=self.move_port if move else 0, timeout=10)

    def stop(self, grace: float = 1.0) -> None:
        """Stop the server and close its log: terminate, and kill it after ``grace`` seconds
        (Orthanc takes about 3 s to stop cleanly; its storage is thrown away anyway)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.session.close()
        self._log.close()


class CuttingProxy:
    """A TCP proxy to ``port`` on loopback that cuts each connection once ``limit`` bytes
    went from the server to the client (a connection lost half-way through a transfer), or
    slows the answers down.

    Parameters
    ----------
    port
        The real server's port.
    limit
        Bytes of answer after which both sides are closed (``None``: never).
    delay
        Seconds of wait before each chunk (64 KiB at most) of answer is passed on.
    """

    def __init__(self, port: int, limit: int | None, delay: float = 0.0) -> None:
        self.target, self.limit, self.delay = port, limit, delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server, None),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.limit),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    self.cuts += 1
                    break
                if self.delay and source.getpeername()[1] == self.target:
                    time.sleep(self.delay)
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        """Stop accepting connections."""
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=2)
