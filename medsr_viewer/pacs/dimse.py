"""DIMSE: C-ECHO, C-FIND, C-GET or C-MOVE, and C-STORE with ``pynetdicom``.

Each operation opens its own association with the server (our *calling* AE title, the
server's *called* one) after checking that its port answers, so that "server down" and
"AE title refused" are told apart. A retrieve first lists the series' instances (C-FIND at
IMAGE level) to learn their SOP classes (the storage contexts a C-GET must offer with the
SCP role, or that our C-MOVE storage SCP must accept) and how many there are.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pydicom.uid import JPEGLossless as JPEGLosslessP14
from pynetdicom import AE, Association, build_role, evt
from pynetdicom.presentation import StoragePresentationContexts
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from medsr_viewer.pacs.client import InstanceSink, Progress, check_reachable
from medsr_viewer.pacs.errors import (
    AssociationRejected,
    PacsConnectionError,
    PacsError,
    RetrieveCancelled,
)
from medsr_viewer.pacs.privacy import protect_logs
from medsr_viewer.pacs.records import (
    IMAGE,
    INSTANCE_KEYS,
    PATIENT,
    PATIENT_KEYS,
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
from medsr_viewer.pacs.servers import C_MOVE, PacsServer

#: Transfer syntaxes we accept for received instances (all readable with pydicom and the
#: pylibjpeg plugins the project depends on).
STORAGE_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                    DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, JPEGBaseline8Bit,
                    JPEGExtended12Bit, JPEGLosslessP14, JPEGLosslessSV1, JPEGLSLossless,
                    JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, RLELossless]
#: Status codes of a C-STORE that stored the instance (success and warnings).
STORED = {0x0000, 0xB000, 0xB006, 0xB007}
_PENDING = {0xFF00, 0xFF01}
#: Answer to a C-STORE we will not keep (cancelled, or our sink failed): out of resources.
_REFUSE = 0xA700
#: Most presentation contexts of one association (the DICOM limit).
MAX_CONTEXTS = 128


def _reason(primitive: Any) -> str:
    parts = []
    for name in ("result_str", "source_str", "reason_str"):
        try:
            value = getattr(primitive, name)
        except (AttributeError, KeyError, ValueError):
            continue
        if value:
            parts.append(str(value))
    return ", ".join(parts)


class DimseClient:
    """A :class:`~medsr_viewer.pacs.client.PacsClient` over DIMSE.

    Parameters
    ----------
    server
        A validated DIMSE server.
    """

    def __init__(self, server: PacsServer) -> None:
        protect_logs()
        self.server = server

    # -- associations ---------------------------------------------------------------------
    def _ae(self) -> AE:
        ae = AE(ae_title=self.server.calling_aet)
        timeout = self.server.timeout
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
        ae.connection_timeout = min(timeout, 10.0)
        return ae

    @contextmanager
    def _association(self, contexts: Iterable[tuple[str, Sequence[str]]],
                     roles: Sequence[Any] = (), handlers: Sequence[Any] = ()
                     ) -> Iterator[Association]:
        server = self.server
        check_reachable(server, server.host, server.port)
        ae = self._ae()
        for abstract, syntaxes in list(contexts)[:MAX_CONTEXTS]:
            ae.add_requested_context(abstract, list(syntaxes))
        answer: dict[str, str] = {}

        def received(event: Any) -> None:
            primitive = event.primitive
            if getattr(primitive, "result", None) in (0x01, 0x02):
                answer["rejected"] = _reason(primitive)

        assoc = ae.associate(server.host, server.port, ae_title=server.called_aet,
                             ext_neg=list(roles) or None,
                             evt_handlers=[(evt.EVT_ACSE_RECV, received), *handlers])
        if not assoc.is_established:
            titles = (f"called AE title {server.called_aet!r}, calling AE title "
                      f"{server.calling_aet!r}")
            if assoc.is_rejected:
                raise AssociationRejected(
                    f"{server.label} rejected the association ({titles}): "
                    f"{answer.get('rejected') or 'no reason given'}; check both AE titles "
                    "and that the server knows ours")
            raise PacsConnectionError(
                f"{server.label}: no association ({titles}): the server "
                f"{'aborted it' if assoc.is_aborted else 'did not answer'} (is it a DICOM "
                "port, and does it accept these services?)")
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _lost(self, doing: str, first: bool = False) -> PacsConnectionError:
        """The error for an association that ended without an answer during ``doing``;
        ``first``: before any answer, when a server refusing our AE title ends it too."""
        hint = (f" (a server closes it when it does not accept our AE title "
                f"{self.server.calling_aet!r} from this host: does it know it?)" if first else "")
        return PacsConnectionError(f"connection to {self.server.label} lost during {doing}"
                                   + hint)

    def echo(self) -> None:
        """C-ECHO."""
        with self._association([(Verification, [ExplicitVRLittleEndian,
                                                ImplicitVRLittleEndian])]) as assoc:
            status = assoc.send_c_echo()
            if not status or status.Status != 0:
                raise PacsError(f"{self.server.label} did not answer the C-ECHO")

    # -- C-FIND ---------------------------------------------------------------------------
    def _find(self, level: str, model: str, keys: Sequence[str], filters: dict[str, str],
              doing: str) -> list[Dataset]:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = level
        for keyword in keys:
            setattr(identifier, keyword, "")
        for keyword, value in filters.items():
            setattr(identifier, keyword, value)
        found: list[Dataset] = []
        contexts = [(model, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
        with self._association(contexts) as assoc:
            for status, answer in assoc.send_c_find(identifier, model):
                if not status:
                    raise self._lost(doing, first=not found)
                code = int(status.Status)
                if code in _PENDING:
                    if answer is not None:
                        found.append(answer)
                elif code in (0x0000, 0xFE00):
                    break
                else:
                    raise PacsError(f"{self.server.label} refused {doing} (C-FIND status "
                                    f"0x{code:04X}{_comment(status)})")
        return found

    def find_patients(self, query: Query) -> list[PatientMatch]:
        """C-FIND at PATIENT level (Patient Root)."""
        found = self._find(PATIENT, PatientRootQueryRetrieveInformationModelFind,
                           PATIENT_KEYS, query.filters(PATIENT), "the patient search")
        return [PatientMatch.from_dataset(ds) for ds in found]

    def find_studies(self, query: Query) -> list[StudyMatch]:
        """C-FIND at STUDY level (Study Root)."""
        found = self._find(STUDY, StudyRootQueryRetrieveInformationModelFind, STUDY_KEYS,
                           query.filters(STUDY), "the study search")
        return [StudyMatch.from_dataset(ds) for ds in found]

    def find_series(self, study_uid: str, query: Query | None = None) -> list[SeriesMatch]:
        """C-FIND at SERIES level in one study."""
        filters = (query or Query()).filters(SERIES)
        filters["StudyInstanceUID"] = study_uid
        found = self._find(SERIES, StudyRootQueryRetrieveInformationModelFind, SERIES_KEYS,
                           filters, "the series search")
        return [SeriesMatch.from_dataset(ds, study_uid) for ds in found]

    def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceMatch]:
        """C-FIND at IMAGE level in one series."""
        found = self._find(IMAGE, StudyRootQueryRetrieveInformationModelFind, INSTANCE_KEYS,
                           {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid},
                           "the instance search")
        return [InstanceMatch.from_dataset(ds) for ds in found]

    # -- C-GET / C-MOVE -------------------------------------------------------------------
    def fetch_series(self, study_uid: str, series_uid: str, sink: InstanceSink,
                     cancel: threading.Event | None = None) -> int:
        """C-GET (or C-MOVE to our storage SCP) of one series; each instance to ``sink``."""
        classes = sorted({i.sop_class_uid for i in self.find_instances(study_uid, series_uid)
                          if i.sop_class_uid})
        if not classes:
            classes = [str(cx.abstract_syntax) for cx in StoragePresentationContexts]
        cancel = cancel if cancel is not None else threading.Event()
        problems: list[BaseException] = []

        def stored(event: Any) -> int:
            if cancel.is_set() or problems:
                return _REFUSE
            try:
                ds = event.dataset
                ds.file_meta = event.file_meta
                sink(ds)
            except Exception as exc:  # noqa: BLE001 - reported by fetch_series
                problems.append(exc)
                return _REFUSE
            return 0x0000

        identifier = Dataset()
        identifier.QueryRetrieveLevel = SERIES
        identifier.StudyInstanceUID = study_uid
        identifier.SeriesInstanceUID = series_uid
        if self.server.retrieve == C_MOVE:
            failed = self._move(identifier, classes, stored, cancel, problems)
        else:
            failed = self._get(identifier, classes, stored, cancel, problems)
        if cancel.is_set():
            raise RetrieveCancelled(f"retrieve from {self.server.label} cancelled")
        if problems:
            raise problems[0]
        return failed

    def _drive(self, responses: Iterable[tuple[Dataset, Any]], assoc: Association,
               cancel: threading.Event, problems: list[BaseException], service: str) -> int:
        """Follow a C-GET/C-MOVE's responses; abort on cancel or a sink failure."""
        for status, _ in responses:
            if cancel.is_set() or problems:
                assoc.abort()
                return 0
            if not status:
                raise self._lost(f"the {service}")
            code = int(status.Status)
            if code in _PENDING:
                continue
            failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
            if code in (0x0000, 0xB000):
                return failed
            raise PacsError(f"{self.server.label} refused the {service} (status "
                            f"0x{code:04X}{_comment(status)})")
        raise PacsConnectionError(f"{self.server.label} ended the {service} without a final "
                                  "status")

    def _get(self, identifier: Dataset, classes: list[str], stored: Any,
             cancel: threading.Event, problems: list[BaseException]) -> int:
        model = StudyRootQueryRetrieveInformationModelGet
        classes = classes[:MAX_CONTEXTS - 1]
        contexts = [(model, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
        contexts += [(c, STORAGE_SYNTAXES) for c in classes]
        roles = [build_role(c, scp_role=True) for c in classes]
        with self._association(contexts, roles, [(evt.EVT_C_STORE, stored)]) as assoc:
            return self._drive(assoc.send_c_get(identifier, model), assoc, cancel, problems,
                               "C-GET")

    def _move(self, identifier: Dataset, classes: list[str], stored: Any,
              cancel: threading.Event, problems: list[BaseException]) -> int:
        model = StudyRootQueryRetrieveInformationModelMove
        scp = self._ae()
        for sop_class in classes:
            scp.add_supported_context(sop_class, STORAGE_SYNTAXES)
        try:
            listener = scp.start_server(("", self.server.move_port), block=False,
                                        evt_handlers=[(evt.EVT_C_STORE, stored)])
            assert listener is not None  # block=False returns the server
        except OSError as exc:
            raise PacsError(f"cannot listen on port {self.server.move_port} for the C-MOVE "
                            f"from {self.server.label} ({exc.strerror or exc})") from exc
        try:
            contexts = [(model, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
            with self._association(contexts) as assoc:
                return self._drive(assoc.send_c_move(identifier, self.server.calling_aet,
                                                     model), assoc, cancel, problems,
                                   "C-MOVE")
        finally:
            listener.shutdown()

    # -- C-STORE --------------------------------------------------------------------------
    def store(self, files: Sequence[Path], progress: Progress | None = None,
              cancel: threading.Event | None = None) -> StoreReport:
        """C-STORE each file over one association."""
        report = StoreReport()
        syntaxes: dict[str, list[str]] = {}
        readable: list[Path] = []
        for path in files:
            try:
                header = pydicom.dcmread(path, stop_before_pixels=True)
                sop_class = str(header.SOPClassUID)
                syntax = str(header.file_meta.TransferSyntaxUID)
            except (OSError, AttributeError, pydicom.errors.InvalidDicomError) as exc:
                report.failed.append((path.name, f"cannot read the file ({exc})"))
                continue
            offered = syntaxes.setdefault(sop_class, [ExplicitVRLittleEndian,
                                                      ImplicitVRLittleEndian])
            if syntax not in offered:
                offered.insert(0, syntax)
            readable.append(path)
        if not readable:
            return report
        if len(syntaxes) > MAX_CONTEXTS:
            raise PacsError(f"{len(syntaxes)} SOP classes: more than one association can "
                            f"carry to {self.server.label}; send fewer files at once")
        total = len(files)
        with self._association(syntaxes.items()) as assoc:
            for index, path in enumerate(readable):
                if cancel is not None and cancel.is_set():
                    raise RetrieveCancelled(f"send to {self.server.label} cancelled after "
                                            f"{report.sent} of {total} instances")
                try:
                    status = assoc.send_c_store(pydicom.dcmread(path))
                except (OSError, pydicom.errors.InvalidDicomError) as exc:
                    report.failed.append((path.name, f"cannot read the file ({exc})"))
                    continue
                except ValueError as exc:  # no accepted context for its class/syntax
                    report.failed.append((path.name, str(exc)[:200]))
                    continue
                if not status:
                    raise PacsConnectionError(
                        f"connection to {self.server.label} lost after {report.sent} of "
                        f"{total} instances were stored")
                code = int(status.Status)
                if code in STORED:
                    report.sent += 1
                else:
                    reason = f"refused (C-STORE status 0x{code:04X}{_comment(status)})"
                    report.failed.append((path.name, reason))
                if progress is not None:
                    progress(index + 1, len(readable))
        return report


def _comment(status: Dataset) -> str:
    comment = str(status.get("ErrorComment", "") or "").strip()
    return f": {comment[:120]}" if comment else ""
