"""PACS servers: their settings, validated, and the file they are kept in.

A server is reached through DICOMweb (QIDO-RS, WADO-RS, STOW-RS at a base URL such as
``http://pacs:8042/dicom-web``) or DIMSE (C-FIND, C-GET or C-MOVE, C-STORE at ``host:port``
with the server's AE title, the *called* AE title, and ours, the *calling* AE title).

The servers live in ``pacs_servers.json`` in the user's config folder (``$MEDSR_CONFIG_DIR``
or the platform's, beside ``settings.ini``), written atomically, so that the viewer and the
``medsr pacs`` commands share them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medsr_viewer.core.atomic import write_text_atomic
from medsr_viewer.core.config_dir import config_dir
from medsr_viewer.pacs.errors import PacsConfigError

#: The two ways to talk to a PACS.
DICOMWEB, DIMSE = "dicomweb", "dimse"
PROTOCOLS = (DICOMWEB, DIMSE)
#: DIMSE retrieve services: C-GET (over the same association) or C-MOVE (to our own SCP).
C_GET, C_MOVE = "get", "move"
#: Our AE title unless a server says otherwise.
DEFAULT_CALLING_AET = "MEDSR"
SERVERS_FILE = "pacs_servers.json"
_FORMAT = "medsr-pacs-servers"


def default_servers_path() -> Path:
    """``pacs_servers.json`` in the user config folder."""
    return config_dir() / SERVERS_FILE


def check_ae_title(title: str, what: str) -> str:
    """``title`` stripped, if it is a valid AE title (1–16 ASCII characters, no backslash or
    control characters); otherwise :class:`PacsConfigError` naming ``what``."""
    text = title.strip()
    if not text:
        raise PacsConfigError(f"{what}: an AE title is needed")
    if len(text) > 16:
        raise PacsConfigError(f"{what}: AE title {text!r} is longer than 16 characters")
    if not text.isascii() or "\\" in text or any(ord(c) < 32 for c in text):
        raise PacsConfigError(f"{what}: AE title {text!r} may only hold printable ASCII "
                              "characters, no backslash")
    return text


@dataclass(frozen=True)
class PacsServer:
    """One PACS and how to reach it.

    Parameters
    ----------
    name
        What the user calls it (unique among the servers).
    protocol
        ``"dicomweb"`` or ``"dimse"``.
    url
        DICOMweb: the service's base URL (``http://host:8042/dicom-web``).
    host, port
        DIMSE: where the server listens.
    called_aet
        DIMSE: the server's AE title.
    calling_aet
        DIMSE: ours (the server must know it, with our address, for C-MOVE).
    retrieve
        DIMSE: ``"get"`` (C-GET, one association) or ``"move"`` (C-MOVE to our storage SCP
        on ``move_port``, which the server must have configured as ``calling_aet``).
    move_port
        DIMSE C-MOVE: the local port our storage SCP listens on while retrieving.
    timeout
        Seconds to wait for a connection or a reply.
    """

    name: str
    protocol: str = DICOMWEB
    url: str = ""
    host: str = ""
    port: int = 104
    called_aet: str = ""
    calling_aet: str = DEFAULT_CALLING_AET
    retrieve: str = C_GET
    move_port: int = 0
    timeout: float = 30.0

    @property
    def endpoint(self) -> str:
        """``host:port`` of the server (from the URL for DICOMweb)."""
        if self.protocol == DICOMWEB:
            parts = urlsplit(self.url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            return f"{parts.hostname or '?'}:{port}"
        return f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """How messages name the server: ``PACS 'name' (DICOMweb, host:port)``."""
        kind = "DICOMweb" if self.protocol == DICOMWEB else "DIMSE"
        return f"PACS {self.name!r} ({kind}, {self.endpoint})"

    def validated(self) -> PacsServer:
        """The server with its fields cleaned up; :class:`PacsConfigError` naming the server
        and the field when one is invalid."""
        name = self.name.strip()
        if not name:
            raise PacsConfigError("a PACS server needs a name")
        what = f"PACS {name!r}"
        protocol = self.protocol.strip().lower()
        if protocol not in PROTOCOLS:
            raise PacsConfigError(f"{what}: protocol {self.protocol!r} is not one of "
                                  f"{', '.join(PROTOCOLS)}")
        if protocol == DICOMWEB:
            url = self.url.strip().rstrip("/")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PacsConfigError(f"{what}: DICOMweb URL {self.url!r} is not an http(s) "
                                      "URL such as http://host:8042/dicom-web")
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError as exc:
                raise PacsConfigError(f"{what}: DICOMweb URL {self.url!r}: {exc}") from exc
            return replace(self, name=name, protocol=protocol, url=url,
                           timeout=_positive(self.timeout, what))
        host = self.host.strip()
        if not host:
            raise PacsConfigError(f"{what}: a DIMSE server needs a host")
        port = _port(self.port, f"{what}: port")
        retrieve = self.retrieve.strip().lower()
        if retrieve not in (C_GET, C_MOVE):
            raise PacsConfigError(f"{what}: retrieve {self.retrieve!r} is not 'get' or 'move'")
        move_port = int(self.move_port or 0)
        if retrieve == C_MOVE:
            move_port = _port(move_port, f"{what}: C-MOVE needs a local port (move_port)")
        return replace(
            self, name=name, protocol=protocol, host=host, port=port, retrieve=retrieve,
            move_port=move_port, timeout=_positive(self.timeout, what),
            called_aet=check_ae_title(self.called_aet, f"{what}: called AE title"),
            calling_aet=check_ae_title(self.calling_aet, f"{what}: calling AE title"))

    def to_dict(self) -> dict[str, Any]:
        """The fields, for the settings file."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> PacsServer:
        """A validated server from the settings file's entry ``data`` (unknown keys are an
        error naming ``where``, so a typo is not silently ignored)."""
        prefix = f"{where}: " if where else ""
        if not isinstance(data, Mapping):
            raise PacsConfigError(f"{prefix}a server entry must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PacsConfigError(f"{prefix}server {data.get('name', '?')!r}: unknown "
                                  f"setting(s) {', '.join(unknown)}")
        try:
            server = cls(**{k: v for k, v in data.items() if k in known})
            return server.validated()
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, PacsConfigError):
                raise PacsConfigError(f"{prefix}{exc}") from exc
            raise PacsConfigError(f"{prefix}server {data.get('name', '?')!r}: {exc}") from exc


def _port(value: object, what: str) -> int:
    try:
        port = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise PacsConfigError(f"{what} {value!r} is not a number") from None
    if not 0 < port < 65536:
        raise PacsConfigError(f"{what} {port} is not between 1 and 65535")
    return port


def _positive(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PacsConfigError(f"{what}: timeout {value!r} is not a number") from None
    if not number > 0:
        raise PacsConfigError(f"{what}: timeout must be positive, not {number}")
    return number


class ServerStore:
    """The user's PACS servers, in a JSON file (:func:`default_servers_path`).

    Parameters
    ----------
    path
        The file; missing means no servers yet.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_servers_path()

    def servers(self) -> list[PacsServer]:
        """Every server, in the file's order; :class:`PacsConfigError` naming the file when
        it cannot be read or holds an invalid entry."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PacsConfigError(f"{self.path}: cannot read the PACS servers ({exc})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PacsConfigError(f"{self.path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise PacsConfigError(f"{self.path}: not a MedSR PACS servers file")
        entries = data.get("servers", [])
        if not isinstance(entries, list):
            raise PacsConfigError(f"{self.path}: 'servers' must be a list")
        return [PacsServer.from_dict(e, str(self.path)) for e in entries]

    def get(self, name: str) -> PacsServer:
        """The server called ``name``; :class:`PacsConfigError` listing the known ones."""
        servers = self.servers()
        for server in servers:
            if server.name == name:
                return server
        known = ", ".join(repr(s.name) for s in servers) or "none yet"
        raise PacsConfigError(f"no PACS server {name!r} in {self.path} (known: {known})")

    def save(self, servers: Iterable[PacsServer]) -> None:
        """Replace the file's servers with ``servers`` (validated; names must be unique)."""
        cleaned = [s.validated() for s in servers]
        names = [s.name for s in cleaned]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PacsConfigError(f"PACS server name(s) used twice: {', '.join(duplicates)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": _FORMAT, "version": 1, "servers": [s.to_dict() for s in cleaned]}
        write_text_atomic(self.path, json.dumps(payload, indent=2) + "\n")

    def put(self, server: PacsServer) -> None:
        """Add ``server``, or replace the one of the same name."""
        server = server.validated()
        rest = [s for s in self.servers() if s.name != server.name]
        self.save([*rest, server])

    def remove(self, name: str) -> None:
        """Drop the server called ``name`` (an error if there is none)."""
        servers = self.servers()
        if not any(s.name == name for s in servers):
            self.get(name)  # raises, naming the known servers
        self.save([s for s in servers if s.name != name])
