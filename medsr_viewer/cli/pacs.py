"""``medsr pacs find|get|send|echo|servers``: query, retrieve and store on a PACS, headless.

The server is one of the saved servers (``--server NAME``, see ``medsr pacs servers``) or
given inline: ``--url http://host:8042/dicom-web`` (DICOMweb) or ``--host H --port P --aet
CALLED`` (DIMSE; ``--calling-aet``, ``--move-port`` for C-MOVE). Search results (which hold
patient data) go to stdout only; progress and errors to stderr, never patient data.

Examples::

    medsr pacs servers --add orthanc --url http://localhost:8042/dicom-web
    medsr pacs find --server orthanc --patient-name "DOE*" --level study
    medsr pacs get --server orthanc --study 1.2.3 --series 1.2.3.4 --out series_dir
    medsr pacs send --server orthanc derived_series_dir
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.pacs.errors import PacsError
from medsr_viewer.pacs.servers import (
    C_GET,
    C_MOVE,
    DEFAULT_CALLING_AET,
    DICOMWEB,
    DIMSE,
    PacsServer,
    ServerStore,
)

if TYPE_CHECKING:
    from medsr_viewer.pacs.client import PacsClient
    from medsr_viewer.pacs.records import Query

LEVELS = ("patient", "study", "series", "instance")


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server (a saved one, or given inline)")
    group.add_argument("--server", metavar="NAME", help="a server saved with 'medsr pacs "
                                                        "servers --add'")
    group.add_argument("--url", help="DICOMweb base URL (http://host:8042/dicom-web)")
    group.add_argument("--host", help="DIMSE host")
    group.add_argument("--port", type=int, default=104, help="DIMSE port (default 104)")
    group.add_argument("--aet", metavar="CALLED_AET", help="DIMSE: the server's AE title")
    group.add_argument("--calling-aet", default=DEFAULT_CALLING_AET,
                       help=f"DIMSE: our AE title (default {DEFAULT_CALLING_AET})")
    group.add_argument("--move-port", type=int, default=0, help="DIMSE: retrieve with C-MOVE "
                       "to a storage SCP on this local port (default: C-GET)")
    group.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")


def register(subparsers: Any) -> None:
    """Add the ``pacs`` subcommand (and its own subcommands) to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "pacs", help="query, retrieve from and send to a PACS (DICOMweb or DIMSE)",
        description="Query/retrieve series from a PACS and send DICOM folders to it, over "
                    "DICOMweb (QIDO-RS/WADO-RS/STOW-RS) or DIMSE (C-FIND/C-GET or C-MOVE/"
                    "C-STORE). A retrieve is written whole or not at all.")
    actions = parser.add_subparsers(dest="pacs_command", required=True, metavar="ACTION")

    find = actions.add_parser("find", help="search patients, studies, series or instances")
    _server_arguments(find)
    find.add_argument("--level", choices=LEVELS, default="study", help="default: study")
    for flag, what in (("--patient-name", "patient name (* and ? wildcards)"),
                       ("--patient-id", "patient ID"), ("--birth-date", "YYYYMMDD"),
                       ("--study-date", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD"),
                       ("--modality", "MR, CT …"), ("--accession", "accession number"),
                       ("--description", "study description"),
                       ("--study", "StudyInstanceUID (needed for series and instances)"),
                       ("--series", "SeriesInstanceUID (needed for instances)")):
        find.add_argument(flag, default="", help=what)
    find.add_argument("--json", action="store_true", help="one JSON object per line")
    find.set_defaults(func=run_find)

    get = actions.add_parser("get", help="retrieve a series into a new folder")
    _server_arguments(get)
    get.add_argument("--study", required=True, help="StudyInstanceUID")
    get.add_argument("--series", required=True, help="SeriesInstanceUID")
    get.add_argument("--out", required=True, type=Path, help="the folder the series goes to "
                                                             "(new, or empty)")
    get.add_argument("--force", action="store_true", help="replace a non-empty --out")
    get.set_defaults(func=run_get)

    send = actions.add_parser("send", help="store a DICOM file or folder (STOW-RS/C-STORE)")
    _server_arguments(send)
    send.add_argument("path", type=Path, help="DICOM file or folder (searched recursively)")
    send.set_defaults(func=run_send)

    echo = actions.add_parser("echo", help="check that a server answers")
    _server_arguments(echo)
    echo.set_defaults(func=run_echo)

    servers = actions.add_parser("servers", help="list, add or remove saved servers")
    _server_arguments(servers)
    servers.add_argument("--add", metavar="NAME", help="save the inline server as NAME")
    servers.add_argument("--remove", metavar="NAME", help="forget a saved server")
    servers.set_defaults(func=run_servers)


def _inline_server(args: argparse.Namespace, name: str) -> PacsServer | None:
    if args.url:
        return PacsServer(name, DICOMWEB, url=args.url, timeout=args.timeout)
    if args.host or args.aet:
        return PacsServer(name, DIMSE, host=args.host or "", port=args.port,
                          called_aet=args.aet or "", calling_aet=args.calling_aet,
                          retrieve=C_MOVE if args.move_port else C_GET,
                          move_port=args.move_port, timeout=args.timeout)
    return None


def server_of(args: argparse.Namespace) -> PacsServer:
    """The server the arguments name (validated); :class:`CliError` if none or invalid."""
    try:
        if args.server:
            return ServerStore().get(args.server)
        server = _inline_server(args, "command line")
        if server is None:
            raise CliError("name a server: --server NAME, --url URL (DICOMweb) or --host H "
                           "--port P --aet AET (DIMSE)")
        return server.validated()
    except PacsError as exc:
        raise CliError(str(exc)) from exc


def _client(args: argparse.Namespace) -> PacsClient:
    from medsr_viewer.pacs.connect import connect  # loads the network libraries

    return connect(server_of(args))


def _query(args: argparse.Namespace) -> Query:
    from medsr_viewer.pacs.records import Query

    return Query(patient_name=args.patient_name, patient_id=args.patient_id,
                 birth_date=args.birth_date, study_date=args.study_date,
                 modality=args.modality, accession_number=args.accession,
                 study_description=args.description, study_uid=args.study,
                 series_uid=args.series)


def run_find(args: argparse.Namespace) -> int:
    """Print the matches, one per line (tab-separated, or JSON with ``--json``)."""
    client = _client(args)
    query = _query(args)
    try:
        if args.level == "patient":
            rows: list[Any] = client.find_patients(query)
        elif args.level == "study":
            rows = client.find_studies(query)
        elif not args.study:
            raise CliError(f"--level {args.level} needs --study UID")
        elif args.level == "series":
            rows = client.find_series(args.study, query)
        elif not args.series:
            raise CliError("--level instance needs --series UID")
        else:
            rows = client.find_instances(args.study, args.series)
    except PacsError as exc:
        raise CliError(str(exc)) from exc
    for row in rows:
        values = asdict(row)
        if args.json:
            print(json.dumps(values))
        else:
            print("\t".join("\\".join(v) if isinstance(v, tuple) else ("" if v is None
                                                                        else str(v))
                            for v in values.values()))
    print(f"{len(rows)} {args.level} match{'es' if len(rows) != 1 else ''}", file=sys.stderr)
    return 0


def _progress(what: str) -> Any:
    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{what} {done}/{total}", end=end, file=sys.stderr, flush=True)
    return report


def run_get(args: argparse.Namespace) -> int:
    """Retrieve the series into ``--out`` (whole or not at all)."""
    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise CliError(f"{out}: exists and is not empty (--force replaces it)")
    client = _client(args)
    from medsr_viewer.pacs.retrieve import retrieve_series

    try:
        result = retrieve_series(client, args.study, args.series, out,
                                 progress=_progress("retrieved"), cancel=threading.Event())
    except PacsError as exc:
        raise CliError(str(exc)) from exc
    print(result.folder)
    print(f"{result.instances} instances from {client.server.label}", file=sys.stderr)
    return 0


def run_send(args: argparse.Namespace) -> int:
    """Store the DICOM files under ``path``; exit status 1 when some were refused."""
    client = _client(args)
    from medsr_viewer.pacs.send import send_folder

    try:
        report = send_folder(client, args.path, progress=_progress("sent"))
    except PacsError as exc:
        raise CliError(str(exc)) from exc
    print(report.summary(client.server.label))
    return 0 if report.ok else 1


def run_echo(args: argparse.Namespace) -> int:
    """C-ECHO (DIMSE) or a test search (DICOMweb)."""
    client = _client(args)
    try:
        client.echo()
    except PacsError as exc:
        raise CliError(str(exc)) from exc
    print(f"{client.server.label} answers")
    return 0


def run_servers(args: argparse.Namespace) -> int:
    """List the saved servers, or add (``--add NAME`` with an inline server) or remove one."""
    store = ServerStore()
    try:
        if args.add and args.remove:
            raise CliError("give --add or --remove, not both")
        if args.add:
            server = _inline_server(args, args.add)
            if server is None:
                raise CliError("--add NAME needs --url URL or --host H --port P --aet AET")
            store.put(replace(server, name=args.add))
            print(f"saved {store.get(args.add).label} in {store.path}")
            return 0
        if args.remove:
            store.remove(args.remove)
            print(f"removed PACS {args.remove!r} from {store.path}")
            return 0
        for saved in store.servers():
            detail = saved.url if saved.protocol == DICOMWEB else (
                f"AE {saved.called_aet} (ours {saved.calling_aet}, C-{saved.retrieve.upper()})")
            print(f"{saved.name}\t{saved.protocol}\t{saved.endpoint}\t{detail}")
    except PacsError as exc:
        raise CliError(str(exc)) from exc
    return 0
