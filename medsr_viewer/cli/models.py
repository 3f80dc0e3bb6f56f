"""``medsr models [--json]``: the models the app can find, described by their cards.

Lists the bundled folder, then the user's models folder (see
:mod:`medsr_viewer.models.registry`). Only cards are read: no model code runs. Files whose card
cannot be read are listed with the reason so users see why a model is missing from the GUI.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from medsr_viewer.models.registry import ModelEntry, ModelRegistry


def register(subparsers: Any) -> None:
    """Add the ``models`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "models",
        help="list the available models and their cards",
        description="List models in the bundled and user models folders, with their cards.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _summary(entry: ModelEntry) -> str:
    """One line for a model: name, task, scale, source, path (or the reason it is unusable)."""
    if entry.card is None:
        return f"  !  {entry.path.name:<28} unusable: {entry.error}"
    card = entry.card
    task = card.task + (f" x{card.scale}" if card.task == "super_resolution" else "")
    extra = f"  modalities: {', '.join(card.modalities)}" if card.modalities else ""
    return (
        f"  {card.name:<24} {task:<20} v{card.version:<8} {entry.source:<8} {entry.path}{extra}"
        + (f"\n      {card.description}" if card.description else "")
    )


def run(args: argparse.Namespace) -> int:
    """List models; exit status 0 (an empty list is not an error)."""
    registry = ModelRegistry()
    entries = registry.entries()
    if args.json:
        payload = {
            "folders": [
                {"source": s, "path": str(p), "exists": p.is_dir()} for s, p in registry.folders
            ],
            "models": [e.to_dict() for e in entries],
        }
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    for source, folder in registry.folders:
        state = "" if folder.is_dir() else "  (does not exist)"
        print(f"{source} models: {folder}{state}")
    if not entries:
        print("no models found")
        return 0
    print()
    for entry in entries:
        print(_summary(entry))
    return 0
