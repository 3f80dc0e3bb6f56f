"""Model archives: a TorchScript or ``torch.export`` file with its :class:`ModelCard` inside.

The card lives in the archive as ``medsr_card.json`` (``torch.jit.save(..., _extra_files=...)``
for TorchScript ``.pt``; ``torch.export.save(..., extra_files=...)`` for ``.pt2``), so a model
is one self-describing file. Both formats are zip files holding the card at
``<root>/extra/medsr_card.json``, so :func:`read_card` reads it with :mod:`zipfile` alone and
never runs model code. Loading a model file can execute code; callers only load from the
bundled folder, the user's models folder, or a path the user named.

TorchScript is deprecated as of torch 2.13 and warns on every script/save/load; those
deprecation warnings are silenced here on purpose (the format is still what most users have),
and :func:`export_model` writes the ``torch.export`` format that replaces it.
"""

from __future__ import annotations

import copy
import hashlib
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from medsr_viewer.core.atomic import atomic_write
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


def round_weights(module: torch.nn.Module, weights_dtype: str) -> None:
    """Round ``module``'s floating-point weights in place to what a file storing them as
    ``weights_dtype`` gives back, so scores measured before export hold for the file."""
    if weights_dtype == "float32":
        return
    stored = getattr(torch, weights_dtype)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(stored).to(tensor.dtype))


def save_model(module: torch.nn.Module, card: ModelCard, path: str | os.PathLike[str]) -> ModelCard:
    """Script ``module`` (unless already scripted) and write it atomically with ``card`` inside.

    Returns the card as written, with ``sha256`` filled in from the weights.
    """
    if card.weights_dtype != "float32":
        # A copy: the caller's module stays float32.
        module = copy.deepcopy(module).to(getattr(torch, card.weights_dtype))
    with quiet_torchscript():
        scripted = (
            module
            if isinstance(module, torch.jit.ScriptModule)
            else torch.jit.script(module.eval())
        )
    card = replace(card, sha256=weights_sha256(scripted))

    def write(tmp: str) -> None:
        with quiet_torchscript():
            torch.jit.save(scripted, tmp, _extra_files={CARD_FILENAME: card.to_json()})

    _atomic_write(Path(path), write)
    return card


def export_model(
    module: torch.nn.Module,
    card: ModelCard,
    path: str | os.PathLike[str],
    example_size: int = 32,
) -> ModelCard:
    """Write ``module`` as a ``torch.export`` archive (``.pt2``) with ``card`` inside, atomically.

    The program is exported with dynamic height and width (batch fixed at 1) so it runs on
    tiles of any size, like a TorchScript model. Returns the card as written, with ``sha256``.

    Parameters
    ----------
    module
        An eager ``nn.Module`` taking ``(1, in_channels, H, W)``.
    card
        The card to store; ``in_channels`` sets the example input.
    path
        Target file (conventionally ``*.pt2``).
    example_size
        Height/width of the example input used for tracing.
    """
    if card.weights_dtype != "float32":
        raise CardError(f"{path}: torch.export archives store float32 weights only")
    module = module.eval()
    example = torch.rand(1, card.in_channels, example_size, example_size)
    # DYNAMIC (AUTO before torch 2.6) accepts guards such as trunc(2.0 * h) == 2 * h that
    # interpolation adds, and still fails if the model specialises to one tile size.
    dim = getattr(torch.export.Dim, "DYNAMIC", None) or torch.export.Dim.AUTO
    program = torch.export.export(module, (example,), dynamic_shapes=({2: dim, 3: dim},))
    card = replace(card, sha256=weights_sha256(module))

    def write(tmp: str) -> None:
        torch.export.save(program, tmp, extra_files={CARD_FILENAME: card.to_json()})

    _atomic_write(Path(path), write)
    return card


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read only the card of a model archive, without loading (or running) the model.

    Raises :class:`CardError` naming the file when it is unreadable, not a model archive,
    has no card, or the card is malformed.
    """
    return _parse_card(Path(path))


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model archive and its card; raises :class:`CardError` naming the file and problem.

    ``.pt2`` files (and any zip holding a ``torch.export`` program) load through
    ``torch.export.load``; everything else through ``torch.jit.load``.
    """
    module, card = _load(path, map_location=device)
    return LoadedModel(module=module, card=card, path=Path(path))


@contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence torch's TorchScript deprecation warnings (deliberate: we still support it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message=r".*TorchScript.*", category=DeprecationWarning)
        yield


def is_exported_program(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a ``torch.export`` archive (by suffix or by its zip layout)."""
    target = Path(path)
    if target.suffix == ".pt2":
        return True
    try:
        with zipfile.ZipFile(target) as archive:
            return any(n.endswith("/models/model.json") for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _atomic_write(target: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then move the temp file over ``target`` (same folder)."""
    atomic_write(target, write)


def _card_text(path: Path) -> str:
    """The raw card JSON stored in the archive at ``path`` (zip member ``*/extra/<card>``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f"/extra/{CARD_FILENAME}")]
            if not names:
                raise CardError(f"{path}: model file has no {CARD_FILENAME} card inside")
            return archive.read(names[0]).decode("utf-8")
    except FileNotFoundError as exc:
        raise CardError(f"{path}: no such model file") from exc
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise CardError(f"{path}: not a model archive ({exc.__class__.__name__}: {exc})") from exc


def _parse_card(path: Path) -> ModelCard:
    text = _card_text(path)
    if not text.strip():
        raise CardError(f"{path}: model file has an empty {CARD_FILENAME} card")
    try:
        return ModelCard.from_json(text)
    except CardError as exc:
        raise CardError(f"{path}: {exc}") from exc


def _load(
    path: str | os.PathLike[str], map_location: str | torch.device
) -> tuple[torch.nn.Module, ModelCard]:
    card = _parse_card(Path(path))
    try:
        if is_exported_program(path):
            program = torch.export.load(str(path))
            # Exported programs are captured in eval mode and refuse ``.eval()``.
            module = program.module().to(map_location)
        else:
            with quiet_torchscript():
                module = torch.jit.load(str(path), map_location=map_location).eval()
            if card.weights_dtype != "float32":
                module = module.float()  # stored compactly, computed in float32
    except (RuntimeError, ValueError, OSError, KeyError, TypeError) as exc:
        raise CardError(f"{path}: not a loadable model ({exc.__class__.__name__}: {exc})") from exc
    return module, card
