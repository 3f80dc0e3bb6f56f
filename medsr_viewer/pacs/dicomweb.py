"""DICOMweb: QIDO-RS searches, WADO-RS retrieves and STOW-RS stores (``dicomweb-client``).

QIDO-RS has no patient resource: patients are the distinct patients of a study search (as
OHIF does). Instances are retrieved in their stored transfer syntax when the server allows
(``transfer-syntax=*``), streamed one by one. Stores go in batches, each one request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from requests.adapters import HTTPAdapter

from medsr_viewer.pacs.client import InstanceSink, Progress, socket_reason
from medsr_viewer.pacs.errors import PacsConnectionError, PacsError, RetrieveCancelled
from medsr_viewer.pacs.privacy import protect_logs
from medsr_viewer.pacs.records import (
    INSTANCE_KEYS,
    PATIENT,
    SERIES,
    SERIES_KEYS,
    STUDY,
    STUDY_KEYS,
    InstanceMatch,
    PatientMatch,
    Query,
    SeriesMatch,
    StoreReport,
    StudyMatch,
)
from medsr_viewer.pacs.servers import PacsServer

#: Instances per STOW-RS request, and bytes (whichever is reached first).
STORE_BATCH = 16
STORE_BATCH_BYTES = 32 * 1024 * 1024
#: Most matches asked of one search.
MAX_MATCHES = 1000
_T = TypeVar("_T")


class _WildcardAdapter(HTTPAdapter):
    """Sends ``*`` unescaped in query strings: some servers (Orthanc's DICOMweb plugin 1.7)
    do not decode ``%2A`` and would match a literal ``%2A`` (RFC 3986 allows a bare ``*``)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        """Send ``request`` with its query's ``%2A`` as ``*``."""
        if request.url and "?" in request.url:
            base, _, query = request.url.partition("?")
            request.url = f"{base}?{query.replace('%2A', '*').replace('%2a', '*')}"
        return super().send(request, *args, **kwargs)


class DicomWebClient:
    """A :class:`~medsr_viewer.pacs.client.PacsClient` over DICOMweb.

    Parameters
    ----------
    server
        A validated DICOMweb server.
    """

    def __init__(self, server: PacsServer) -> None:
        protect_logs()
        self.server = server
        session = requests.Session()
        for scheme in ("http://", "https://"):
            session.mount(scheme, _WildcardAdapter())
        self._web = DICOMwebClient(url=server.url, session=session,
                                   timeout=(min(server.timeout, 10.0), server.timeout))
        self._web.set_http_retry_params(retry=False)

    # -- errors ---------------------------------------------------------------------------
    def _fail(self, exc: BaseException, doing: str) -> PacsError:
        """The user's message for ``exc`` raised while ``doing`` (no URL query: PHI)."""
        label = self.server.label
        if isinstance(exc, PacsError):
            return exc
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            reason = exc.response.reason or ""
            path = urlsplit(exc.response.url or "").path
            hint = {401: "check the credentials", 403: "access refused",
                    404: f"is {self.server.url} the DICOMweb root?"}.get(status, "")
            return PacsError(f"{label} answered HTTP {status} {reason} to {doing} ({path})"
                             + (f": {hint}" if hint else ""))
        if isinstance(exc, requests.Timeout):
            return PacsConnectionError(f"{label}: no answer within {self.server.timeout:g} s "
                                       f"to {doing}")
        if isinstance(exc, requests.ConnectionError):
            return PacsConnectionError(f"cannot reach {label}: {socket_reason(exc)}")
        if isinstance(exc, (requests.exceptions.ChunkedEncodingError, ConnectionError)):
            return PacsConnectionError(f"connection to {label} lost while {doing}")
        if isinstance(exc, requests.RequestException):
            return PacsConnectionError(f"{label}: {doing} failed ({type(exc).__name__})")
        return PacsError(f"{label}: {doing} failed: unexpected answer ({type(exc).__name__}: "
                         f"{str(exc)[:200]})")

    def _call(self, doing: str, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return function(*args, **kwargs)
        except (requests.RequestException, ValueError, KeyError, TypeError, OSError) as exc:
            raise self._fail(exc, doing) from exc

    def _search(self, doing: str, function: Callable[..., list[dict[str, Any]]],
                *args: Any, **kwargs: Any) -> list[Dataset]:
        answers = self._call(doing, function, *args, limit=MAX_MATCHES, **kwargs)
        try:
            return [Dataset.from_json(item) for item in answers]
        except (ValueError, TypeError, KeyError) as exc:
            raise PacsError(f"{self.server.label}: {doing}: the answer is not DICOM JSON "
                            f"({type(exc).__name__})") from exc

    # -- queries --------------------------------------------------------------------------
    def echo(self) -> None:
        """A one-study search: the server answers DICOMweb."""
        self._search("a test search", self._web.search_for_studies)

    def find_studies(self, query: Query) -> list[StudyMatch]:
        """QIDO-RS ``/studies``."""
        found = self._search("the study search", self._web.search_for_studies,
                             search_filters=query.filters(STUDY), fields=list(STUDY_KEYS))
        return [StudyMatch.from_dataset(ds) for ds in found]

    def find_patients(self, query: Query) -> list[PatientMatch]:
        """The distinct patients of a QIDO-RS study search on the patient filters."""
        found = self._search("the patient search", self._web.search_for_studies,
                             search_filters=query.filters(PATIENT), fields=list(STUDY_KEYS))
        patients: dict[tuple[str, str], list[Dataset]] = {}
        for ds in found:
            key = (str(ds.get("PatientID", "")), str(ds.get("PatientName", "")))
            patients.setdefault(key, []).append(ds)
        matches = []
        for studies in patients.values():
            match = PatientMatch.from_dataset(studies[0])
            matches.append(PatientMatch(match.patient_id, match.patient_name,
                                        match.birth_date, match.sex, len(studies)))
        return matches

    def find_series(self, study_uid: str, query: Query | None = None) -> list[SeriesMatch]:
        """QIDO-RS ``/studies/{study}/series``."""
        filters = (query or Query()).filters(SERIES)
        filters.pop("StudyInstanceUID", None)
        found = self._search("the series search", self._web.search_for_series,
                             study_instance_uid=study_uid, search_filters=filters,
                             fields=list(SERIES_KEYS))
        return [SeriesMatch.from_dataset(ds, study_uid) for ds in found]

    def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceMatch]:
        """QIDO-RS ``/studies/{study}/series/{series}/instances``."""
        found = self._search("the instance search", self._web.search_for_instances,
                             study_instance_uid=study_uid, series_instance_uid=series_uid,
                             fields=list(INSTANCE_KEYS))
        return [InstanceMatch.from_dataset(ds) for ds in found]

    # -- retrieve -------------------------------------------------------------------------
    def _instances(self, study_uid: str, series_uid: str) -> Generator[Dataset, None, None]:
        started = False
        try:
            for ds in self._web.iter_series(study_uid, series_uid,
                                            media_types=(("application/dicom", "*"),)):
                started = True
                yield ds
            return
        except requests.HTTPError as exc:  # the server does not serve stored syntaxes
            if started or exc.response is None or exc.response.status_code not in (400, 406,
                                                                                 415):
                raise
        yield from self._web.iter_series(study_uid, series_uid)

    def fetch_series(self, study_uid: str, series_uid: str, sink: InstanceSink,
                     cancel: threading.Event | None = None) -> int:
        """WADO-RS ``/studies/{study}/series/{series}``, streamed (0 failures reported:
        WADO-RS does not count them; the caller checks the number received)."""
        stream = self._instances(study_uid, series_uid)
        try:
            while True:
                try:
                    ds = next(stream)
                except StopIteration:
                    return 0
                except (requests.RequestException, ConnectionError, ValueError,
                        OSError) as exc:  # the transfer, not the sink (its errors pass)
                    raise self._fail(exc, "sending the series") from exc
                if cancel is not None and cancel.is_set():
                    raise RetrieveCancelled(f"retrieve from {self.server.label} cancelled")
                sink(ds)
        finally:
            stream.close()

    # -- store ----------------------------------------------------------------------------
    def store(self, files: Sequence[Path], progress: Progress | None = None,
              cancel: threading.Event | None = None) -> StoreReport:
        """STOW-RS in batches of :data:`STORE_BATCH` instances."""
        report = StoreReport()
        total = len(files)
        batch: list[tuple[Path, Dataset]] = []
        size = 0
        for index, path in enumerate(files):
            if cancel is not None and cancel.is_set():
                raise RetrieveCancelled(f"send to {self.server.label} cancelled after "
                                        f"{report.sent} of {total} instances")
            try:
                batch.append((path, pydicom.dcmread(path)))
                size += path.stat().st_size
            except (OSError, pydicom.errors.InvalidDicomError) as exc:
                report.failed.append((path.name, f"cannot read the file ({exc})"))
            if batch and (len(batch) >= STORE_BATCH or size >= STORE_BATCH_BYTES
                          or index == total - 1):
                self._store_batch(batch, report)
                batch, size = [], 0
            if progress is not None:
                progress(index + 1, total)
        return report

    def _store_batch(self, batch: list[tuple[Path, Dataset]], report: StoreReport) -> None:
        names = {str(ds.get("SOPInstanceUID", "")): path.name for path, ds in batch}
        try:
            answer = self._web.store_instances([ds for _, ds in batch])
        except requests.HTTPError as exc:
            refused = _stow_answer(exc.response)
            if refused is None:
                raise self._fail(exc, "storing instances") from exc
            answer = refused
        except (requests.RequestException, ValueError, OSError) as exc:
            raise self._fail(exc, "storing instances") from exc
        failed = {}
        for item in answer.get("FailedSOPSequence", []):
            uid = str(item.get("ReferencedSOPInstanceUID", ""))
            failed[uid] = f"refused (failure reason {item.get('FailureReason', '?')})"
        stored = {str(item.get("ReferencedSOPInstanceUID", ""))
                  for item in answer.get("ReferencedSOPSequence", [])}
        for uid, name in names.items():
            if uid in failed:
                report.failed.append((name, failed[uid]))
            elif uid in stored or not failed:
                report.sent += 1
            else:
                report.failed.append((name, "not confirmed by the server"))


def _stow_answer(response: requests.Response | None) -> Dataset | None:
    """The STOW-RS answer of a refused request (HTTP 409/400 with a DICOM JSON body)."""
    if response is None or response.status_code not in (400, 409):
        return None
    try:
        return Dataset.from_json(response.content)
    except (ValueError, TypeError, KeyError):
        return None
