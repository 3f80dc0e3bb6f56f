"""The errors of PACS work, each a message a user can act on (it names the server).

Messages name the server by its name, protocol and ``host:port``; they never contain patient
names, IDs or dates (they may reach logs and status bars).
"""

from __future__ import annotations


class PacsError(Exception):
    """A PACS operation failed; the message names the server and what went wrong."""


class PacsConfigError(PacsError, ValueError):
    """A server's settings (or the settings file) are invalid; the message says which."""


class PacsConnectionError(PacsError):
    """The server cannot be reached, or the connection was lost."""


class AssociationRejected(PacsError):
    """The DICOM server refused the association (AE titles, or not allowed to connect)."""


class RetrieveIncomplete(PacsError):
    """A retrieve did not deliver the whole series; its partial data was deleted."""


class RetrieveCancelled(PacsError):
    """The user cancelled a retrieve or a send; partial retrieved data was deleted."""
