"""A client for a server, speaking its protocol."""

from __future__ import annotations

from medsr_viewer.pacs.client import PacsClient
from medsr_viewer.pacs.dicomweb import DicomWebClient
from medsr_viewer.pacs.dimse import DimseClient
from medsr_viewer.pacs.servers import DICOMWEB, PacsServer


def connect(server: PacsServer) -> PacsClient:
    """A client for ``server`` (validated first): DICOMweb or DIMSE. Nothing is sent yet;
    each operation connects on its own."""
    server = server.validated()
    if server.protocol == DICOMWEB:
        return DicomWebClient(server)
    return DimseClient(server)
