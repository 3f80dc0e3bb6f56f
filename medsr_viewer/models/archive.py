"""Model archives: a TorchScript file with its :class:`ModelCard` stored inside it.

The card lives in the archive as ``medsr_card.json`` (``torch.jit.save(..., _extra_files=...)``),
so a model is one self-describing file. Loading a model file can execute code; callers only
load from the bundled folder, the user's models folder, or a path the user named.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from medsr_viewer.models.card import CARD_FILENAME, CardError, ModelCard


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-run model: the module, its card and where it came from."""

    module: torch.nn.Module
    card: ModelCard
    path: Path


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over the module's state-dict tensors (names and bytes, in order)."""
    digest = hashlib.sha256()
    for key, tensor in module.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_model(module: torch.nn.Module, card: ModelCard, path: str | os.PathLike[str]) -> ModelCard:
    """Script ``module`` (unless already scripted) and write it atomically with ``card`` inside.

    Returns the card as written, with ``sha256`` filled in from the weights.
    """
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module.eval())
    card = replace(card, sha256=weights_sha256(scripted))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        torch.jit.save(scripted, tmp, _extra_files={CARD_FILENAME: card.to_json()})
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return card


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read only the card of a TorchScript archive; raises :class:`CardError` if it has none."""
    return _load(path, map_location="cpu")[1]


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model archive and its card; raises :class:`CardError` naming the file and problem."""
    module, card = _load(path, map_location=device)
    return LoadedModel(module=module.eval(), card=card, path=Path(path))


def _load(path: str | os.PathLike[str], map_location: str | torch.device) -> tuple[torch.nn.Module, ModelCard]:
    extra = {CARD_FILENAME: ""}
    try:
        module = torch.jit.load(str(path), map_location=map_location, _extra_files=extra)
    except (RuntimeError, ValueError, OSError) as exc:
        raise CardError(f"{path}: not a loadable TorchScript model ({exc.__class__.__name__})") from exc
    if not extra[CARD_FILENAME]:
        raise CardError(f"{path}: model file has no {CARD_FILENAME} card inside")
    try:
        return module, ModelCard.from_json(extra[CARD_FILENAME])
    except CardError as exc:
        raise CardError(f"{path}: {exc}") from exc
