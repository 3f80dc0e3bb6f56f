"""``medsr pacs`` against a real Orthanc: servers, echo, find, get and send."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from orthanc_server import SERVER_AET, Orthanc, free_port

from medsr_viewer.cli import pacs as pacs_command
from medsr_viewer.cli.main import COMMAND_MODULES, CliError
from medsr_viewer.core.io import load_volume


def main(argv: Sequence[str]) -> int:
    """``medsr ARGV`` as ``medsr_viewer.cli.main.main`` runs it, with only the ``pacs``
    command registered (the others import torch: seconds this test need not wait)."""
    assert "pacs" in COMMAND_MODULES
    parser = argparse.ArgumentParser(prog="medsr")
    pacs_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"medsr {args.command}: {exc}", file=sys.stderr)
        return 2


def test_servers_echo_find_get(orthanc: Orthanc, pacs_config: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    vs = orthanc.series["vs"]
    assert main(["pacs", "servers", "--add", "web", "--url", orthanc.dicomweb_url]) == 0
    assert main(["pacs", "servers", "--add", "dimse", "--host", "127.0.0.1", "--port",
                 str(orthanc.dicom_port), "--aet", SERVER_AET]) == 0
    capsys.readouterr()
    assert main(["pacs", "servers"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["web", "dicomweb"],
                                                          ["dimse", "dimse"]]
    assert (pacs_config / "pacs_servers.json").is_file()
    assert main(["pacs", "echo", "--server", "dimse"]) == 0
    assert "answers" in capsys.readouterr().out

    assert main(["pacs", "find", "--server", "dimse", "--level", "patient", "--json"]) == 0
    ids = {json.loads(line)["patient_id"] for line in capsys.readouterr().out.splitlines()}
    assert vs.patient_id in ids
    assert main(["pacs", "find", "--server", "web", "--level", "series", "--study",
                 vs.study_uid, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["series_uid"], r["n_instances"]) for r in rows} >= {(vs.series_uid, 20)}

    out = tmp_path / "got"
    assert main(["pacs", "get", "--server", "dimse", "--study", vs.study_uid, "--series",
                 vs.series_uid, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out) and "retrieved 20/20" in captured.err
    assert vs.patient_name not in captured.err
    assert load_volume(out).shape == (20, 512, 512)
    assert main(["pacs", "get", "--server", "web", "--study", vs.study_uid, "--series",
                 vs.series_uid, "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_send_inline_server_and_errors(orthanc: Orthanc, pacs_config: Path, tmp_path: Path,
                                       vs_files: list[Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in vs_files[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    assert main(["pacs", "send", "--url", orthanc.dicomweb_url, str(folder)]) == 0
    assert "3 instances stored on PACS 'command line' (DICOMweb" in capsys.readouterr().out
    port = free_port()
    assert main(["pacs", "find", "--host", "127.0.0.1", "--port", str(port), "--aet",
                 SERVER_AET]) == 2
    assert f"127.0.0.1:{port}): connection refused" in capsys.readouterr().err
    assert main(["pacs", "find", "--server", "nope"]) == 2
    assert "no PACS server 'nope'" in capsys.readouterr().err
    assert main(["pacs", "find"]) == 2
    assert "name a server" in capsys.readouterr().err
    assert main(["pacs", "find", "--url", orthanc.dicomweb_url, "--level", "series"]) == 2
    assert "needs --study" in capsys.readouterr().err
    np.testing.assert_array_equal(load_volume(folder).voxels, load_volume(vs_files[:3]).voxels)
