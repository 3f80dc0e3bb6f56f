"""Retrieve one series into place, whole or not at all.

The instances go to a temporary folder beside the destination
(``.<name>.<pid>.<token>.partial``); only when as many distinct instances of the series
arrived as the server said it holds (QIDO-RS ``NumberOfSeriesRelatedInstances``, or the
C-FIND instance count) and the server reported no failed sub-operation is the folder renamed
into place. A failure or a cancel half-way deletes the partial data and says so: a partial
series is never left where it could be opened as a complete study. Partial folders of dead
processes are swept away before each retrieve.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from pydicom.dataset import Dataset

from medsr_viewer.core.processes import pid_alive
from medsr_viewer.pacs.client import PacsClient, Progress
from medsr_viewer.pacs.errors import PacsError, RetrieveCancelled, RetrieveIncomplete

LOG = logging.getLogger(__name__)
#: Environment variable naming the folder retrieved series are kept in.
CACHE_ENV = "MEDSR_PACS_CACHE"
_PARTIAL_RE = re.compile(r"^\..+\.(?P<pid>[0-9]+)\.[0-9a-f]{12}\.partial$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pacs_cache_dir() -> Path:
    """Where the viewer keeps retrieved series (``$MEDSR_PACS_CACHE``, else
    ``pacs`` in the platform's user cache folder). It holds patient data."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("medsr-viewer")) / "pacs"


def safe_name(text: str) -> str:
    """``text`` as one file-name component (UIDs stay as they are)."""
    cleaned = _SAFE.sub("_", text).strip("._") or "series"
    return cleaned[:120]


def series_folder(root: Path, server_name: str, study_uid: str, series_uid: str) -> Path:
    """``root/<server>/<study UID>/<series UID>``: where a retrieved series is kept."""
    return root / safe_name(server_name) / safe_name(study_uid) / safe_name(series_uid)


@dataclass(frozen=True)
class RetrievedSeries:
    """A series retrieved whole."""

    folder: Path
    instances: int


def sweep_partial(folder: Path) -> list[Path]:
    """Delete partial retrieve folders in ``folder`` whose process has gone; returns them."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL_RE.match(entry.name)
        if match and entry.is_dir() and not pid_alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def expected_instances(client: PacsClient, study_uid: str, series_uid: str) -> int:
    """How many instances the server holds for the series: its series-level count, else the
    number of its instances an instance-level search lists."""
    for series in client.find_series(study_uid):
        if series.series_uid == series_uid and series.n_instances:
            return series.n_instances
    count = len(client.find_instances(study_uid, series_uid))
    if count == 0:
        raise PacsError(f"{client.server.label} has no instances of the series asked for")
    return count


def retrieve_series(client: PacsClient, study_uid: str, series_uid: str, dest: Path, *,
                    progress: Progress | None = None, cancel: threading.Event | None = None,
                    expected: int | None = None,
                    on_instance: Callable[[int], None] | None = None) -> RetrievedSeries:
    """Retrieve a series into the folder ``dest`` (replaced if it exists), whole or not at all.

    Parameters
    ----------
    client
        The server's client.
    study_uid, series_uid
        The series.
    dest
        The folder the series is to be in; its parent is created.
    progress
        ``progress(done, expected)`` after each instance.
    cancel
        Set to stop: the partial data is deleted and :class:`RetrieveCancelled` raised.
    expected
        The number of instances (default: asked of the server, :func:`expected_instances`).
    on_instance
        Called with the number received after each instance is written (tests use it to
        simulate failures half-way).

    Raises
    ------
    RetrieveIncomplete
        Fewer (or more) instances than expected, the server reported failures, or the
        transfer failed half-way; the message says how many arrived and that they were
        deleted.
    RetrieveCancelled
        ``cancel`` was set.
    PacsError
        The server could not be reached or refused (nothing was written).
    """
    label = client.server.label
    total = expected if expected is not None else expected_instances(client, study_uid,
                                                                    series_uid)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_partial(dest.parent)
    partial = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(6)}.partial"
    partial.mkdir()
    received: set[str] = set()
    foreign = 0

    def sink(ds: Dataset) -> None:
        nonlocal foreign
        if cancel is not None and cancel.is_set():
            raise RetrieveCancelled(f"retrieve from {label} cancelled")
        if str(ds.get("SeriesInstanceUID", "")) != series_uid:
            foreign += 1
            return
        uid = str(ds.get("SOPInstanceUID", "")) or f"instance-{len(received) + 1}"
        ds.save_as(partial / f"{safe_name(uid)}.dcm", enforce_file_format=True)
        received.add(uid)
        if progress is not None:
            progress(len(received), total)
        if on_instance is not None:
            on_instance(len(received))

    LOG.info("retrieving a series of %d instances from %s", total, label)
    try:
        failed = client.fetch_series(study_uid, series_uid, sink, cancel)
        if cancel is not None and cancel.is_set():
            raise RetrieveCancelled(f"retrieve from {label} cancelled")
        problems = []
        if len(received) != total:
            problems.append(f"{len(received)} of the {total} instances the server lists "
                            "arrived")
        if failed:
            problems.append(f"the server failed to send {failed}")
        if foreign:
            problems.append(f"{foreign} instances of other series arrived")
        if problems:
            raise RetrieveIncomplete(f"retrieve from {label} incomplete: "
                                     f"{'; '.join(problems)}")
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        LOG.warning("retrieve from %s stopped after %d of %d instances; partial data deleted",
                    label, len(received), total)
        if isinstance(exc, RetrieveCancelled):
            raise RetrieveCancelled(f"retrieve from {label} cancelled after {len(received)} "
                                    f"of {total} instances; the partial data was deleted"
                                    ) from exc
        if isinstance(exc, RetrieveIncomplete):
            raise RetrieveIncomplete(f"{exc}; the partial data was deleted and nothing "
                                     "was opened") from exc
        if isinstance(exc, PacsError) and not received:
            raise  # nothing arrived (server down, refused …): its own message
        if isinstance(exc, PacsError):
            raise RetrieveIncomplete(f"{exc} after {len(received)} of {total} instances; "
                                     "the partial data was deleted and nothing was opened"
                                     ) from exc
        if isinstance(exc, Exception):
            raise RetrieveIncomplete(
                f"retrieve from {label} failed after {len(received)} of {total} instances "
                f"({type(exc).__name__}: {exc}); the partial data was deleted and nothing "
                "was opened") from exc
        raise
    _move_into_place(partial, dest)
    LOG.info("retrieved %d instances from %s", total, label)
    return RetrievedSeries(dest, len(received))


def _move_into_place(partial: Path, dest: Path) -> None:
    """Rename ``partial`` to ``dest``; an existing ``dest`` is replaced (moved aside first)."""
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(6)}.partial"
        dest.rename(old)
    try:
        partial.rename(dest)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if old is not None:
            old.rename(dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
