"""Send a folder of DICOM files (a derived series written by ``medsr derive``, or any) to a
PACS: every DICOM instance under it, each file once; other files are counted as skipped."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from medsr_viewer.core.io.loader import has_dicom_preamble
from medsr_viewer.pacs.client import PacsClient, Progress
from medsr_viewer.pacs.errors import PacsError
from medsr_viewer.pacs.records import StoreReport

LOG = logging.getLogger(__name__)


def dicom_files(path: str | os.PathLike[str]) -> tuple[list[Path], int]:
    """The DICOM files (with the ``DICM`` preamble) of a file or folder (recursively, sorted),
    and how many other files there were; :class:`PacsError` naming the path when it does not
    exist or holds no DICOM file."""
    root = Path(path)
    if root.is_file():
        candidates = [root]
    elif root.is_dir():
        candidates = sorted(p for p in root.rglob("*") if p.is_file()
                            and not p.name.startswith("."))
    else:
        raise PacsError(f"{root}: no such file or folder")
    files = [p for p in candidates if has_dicom_preamble(p)]
    if not files:
        raise PacsError(f"{root}: no DICOM files to send")
    return files, len(candidates) - len(files)


def send_folder(client: PacsClient, path: str | os.PathLike[str], *,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> StoreReport:
    """Store every DICOM file under ``path`` on the client's server (STOW-RS or C-STORE).

    Returns
    -------
    StoreReport
        Stored, refused (with reasons) and skipped counts.
    """
    files, skipped = dicom_files(path)
    LOG.info("sending %d DICOM files to %s", len(files), client.server.label)
    report = client.store(files, progress, cancel)
    report.skipped += skipped
    LOG.info("%d sent, %d failed to %s", report.sent, len(report.failed), client.server.label)
    return report
