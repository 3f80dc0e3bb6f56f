"""``medsr trust FILE | --folder DIR | --list | --revoke HASH|DIR``: which model files may run code.

TorchScript and ``torch.export`` model files execute code when loaded, so the viewer and the
other commands load them only from trusted folders or when the SHA-256 of their bytes was
trusted (see :mod:`medsr_viewer.models.trust`). This command records those decisions. It
reads only the card of the file it trusts (nothing runs) and prints the name and the hash,
so the user can compare it with what the model's author published. Files in the project's
own format (``.safetensors``) cannot run code and need no trust.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.models.archive import read_card, runs_code
from medsr_viewer.models.card import CardError
from medsr_viewer.models.trust import TrustError, TrustStore


def register(subparsers: Any) -> None:
    """Add the ``trust`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "trust",
        help="allow a TorchScript/torch.export model file (which runs code) to be loaded",
        description="Trust a model file that can run code (by the SHA-256 of its bytes) or a "
        "folder of them; list or revoke trust. Safe .safetensors models need no trust.",
    )
    parser.add_argument("file", nargs="?", type=Path, help="model file to trust")
    parser.add_argument("--folder", type=Path, help="trust every model file in this folder")
    parser.add_argument("--list", action="store_true", help="show trusted folders and files")
    parser.add_argument("--revoke", metavar="HASH|DIR", help="forget a trusted hash or folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record, list or revoke trust; user errors raise :class:`CliError`."""
    store = TrustStore()
    chosen = [args.file is not None, args.folder is not None, args.list, args.revoke is not None]
    if sum(chosen) != 1:
        raise CliError("give exactly one of FILE, --folder DIR, --list or --revoke HASH|DIR")
    try:
        if args.list:
            for folder in store.trusted_folders():
                print(f"folder  {folder}")
            for digest, info in sorted(store.files().items()):
                print(f"file    {digest}  {info.get('name', '')}  {info.get('path', '')}")
            return 0
        if args.revoke is not None:
            if not store.revoke(args.revoke):
                raise CliError(f"{args.revoke}: not a trusted hash or folder in {store.path}")
            print(f"revoked {args.revoke}")
            return 0
        if args.folder is not None:
            folder = store.trust_folder(args.folder)
            print(f"trusted every model file in {folder}")
            return 0
        return _trust_file(store, args.file)
    except TrustError as exc:
        raise CliError(str(exc)) from exc


def _trust_file(store: TrustStore, path: Path) -> int:
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        card = read_card(path)  # refuse files that are not model files at all
    except CardError as exc:
        raise CliError(str(exc)) from exc
    if not runs_code(path):
        print(f"{path}: {card.name} is in the safe format (card + safetensors): it cannot run "
              "code and needs no trust")
        return 0
    digest = store.trust_file(path, card.name)
    print(f"trusted {card.name} ({path})\nsha256 {digest}\nA changed file must be trusted again.")
    return 0
