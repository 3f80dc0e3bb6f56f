"""The interface both protocols implement (:func:`~medsr_viewer.pacs.connect.connect` gives
one for a server), and the network checks they share."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from pydicom.dataset import Dataset

from medsr_viewer.pacs.errors import PacsConnectionError
from medsr_viewer.pacs.records import (
    InstanceMatch,
    PatientMatch,
    Query,
    SeriesMatch,
    StoreReport,
    StudyMatch,
)
from medsr_viewer.pacs.servers import PacsServer

#: Called with each retrieved instance; may raise to stop the retrieve.
InstanceSink = Callable[[Dataset], None]
#: ``progress(done, total)``.
Progress = Callable[[int, int], None]


class PacsClient(Protocol):
    """Query, retrieve and store on one server (DICOMweb or DIMSE).

    Every method raises :class:`~medsr_viewer.pacs.errors.PacsError` subclasses whose
    messages name the server (never patient data).
    """

    server: PacsServer

    def echo(self) -> None:
        """Check that the server answers (C-ECHO, or a QIDO-RS request)."""

    def find_patients(self, query: Query) -> list[PatientMatch]:
        """Patients matching ``query``'s patient filters."""

    def find_studies(self, query: Query) -> list[StudyMatch]:
        """Studies matching ``query``."""

    def find_series(self, study_uid: str, query: Query | None = None) -> list[SeriesMatch]:
        """The series of a study (optionally filtered by modality or UID)."""

    def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceMatch]:
        """The instances of a series."""

    def fetch_series(self, study_uid: str, series_uid: str, sink: InstanceSink,
                     cancel: threading.Event | None = None) -> int:
        """Retrieve every instance of a series, handing each to ``sink`` as it arrives.

        Returns
        -------
        int
            How many instances the server itself reported it failed to send (C-GET/C-MOVE
            sub-operations; 0 for WADO-RS).
        """

    def store(self, files: Sequence[Path], progress: Progress | None = None,
              cancel: threading.Event | None = None) -> StoreReport:
        """Send DICOM files (STOW-RS or C-STORE); the report lists what was refused."""


def socket_reason(exc: BaseException) -> str:
    """A short reason for a network error, without URLs (which may hold a search)."""
    text = str(exc)
    if isinstance(exc, socket.timeout) or "timed out" in text.lower():
        return "no answer (timed out)"
    if isinstance(exc, socket.gaierror) or "Name or service not known" in text \
            or "NameResolutionError" in text or "nodename nor servname" in text:
        return "unknown host"
    code = getattr(exc, "errno", None)
    if code == errno.ECONNREFUSED or "Connection refused" in text:
        return "connection refused (is the server running, and is this its port?)"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH) or "unreachable" in text.lower():
        return "host unreachable"
    if "reset by peer" in text or code == errno.ECONNRESET:
        return "connection reset by the server"
    return type(exc).__name__


def check_reachable(server: PacsServer, host: str, port: int) -> None:
    """Open (and close) a TCP connection to ``host:port``, or raise
    :class:`PacsConnectionError` saying why it cannot be reached."""
    try:
        with socket.create_connection((host, port), timeout=min(server.timeout, 10.0)):
            pass
    except OSError as exc:
        raise PacsConnectionError(
            f"cannot reach {server.label}: {socket_reason(exc)}") from exc
