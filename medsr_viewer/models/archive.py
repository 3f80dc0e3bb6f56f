"""Model files: the safe format, and TorchScript / ``torch.export`` archives from trusted places.

Three kinds of file carry a model with its :class:`ModelCard`:

- the project's own format, ``*.safetensors`` (:mod:`medsr_viewer.models.safe_format`): card
  plus weights, the network rebuilt from the architecture registry. It cannot execute code;
  everything ``medsr train`` writes and every bundled model uses it.
- TorchScript (``.pt``/``.ts``) and ``torch.export`` (``.pt2``) archives, which researchers
  bring: zip files holding the card at ``<root>/extra/medsr_card.json``. Loading them runs
  code from the file, so :func:`load_model` loads them only when the file is trusted
  (:mod:`medsr_viewer.models.trust`) and otherwise raises :class:`UntrustedModel`.

:func:`read_card` reads only the card of any kind (a header or one size-checked zip member)
and never runs model code. A file is read into memory once, hashed, and loaded from those
bytes, so the bytes checked (trust, identity) are the bytes run.

TorchScript is deprecated as of torch 2.13 and warns on every script/save/load; those
deprecation warnings are silenced here on purpose (it stays an input format).

Importing this module does not import torch (the viewer lists models and reads cards at
start-up without it); the functions that load or write a model import it.
"""

from __future__ import annotations

import copy
import io
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.notify import notifier
from medsr_viewer.models.card import CARD_FILENAME, CardError, ModelCard
from medsr_viewer.models.card_schema import MAX_CARD_BYTES
from medsr_viewer.models.identity import bytes_sha256, weights_sha256
from medsr_viewer.models.safe_header import is_safe_model_file, read_safe_card
from medsr_viewer.models.trust import TrustStore

if TYPE_CHECKING:  # torch is imported where a model is loaded or written, not to read cards
    import torch

__all__ = [
    "LoadedModel",
    "UntrustedModel",
    "export_model",
    "is_exported_program",
    "load_model",
    "read_card",
    "round_weights",
    "runs_code",
    "save_model",
    "save_torchscript",
    "weights_sha256",
]

#: Largest model file loaded into memory (a guard against absurd files, not a model limit).
MAX_MODEL_BYTES = 4 * 1024**3


class UntrustedModel(CardError):
    """A model file that can run code was not trusted; nothing from it was executed.

    Attributes
    ----------
    path
        The file.
    sha256
        The SHA-256 of its bytes (what the user is asked to trust).
    """

    def __init__(self, path: Path, sha256: str, name: str = "") -> None:
        self.path = Path(path)
        self.sha256 = sha256
        self.model_name = name
        kind = "torch.export" if is_exported_program(path) else "TorchScript"
        super().__init__(
            f"{path}: model file can run code ({kind} archive) and is not trusted; check where "
            f"it came from, then trust it with `medsr trust {path}` (sha256 {sha256[:16]}…) "
            "or put it in your models folder"
        )


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-run model: the module, its card, where it came from and what it is.

    ``sha256`` is the hash of the file's bytes as loaded: the model's identity for caching.
    """

    module: torch.nn.Module
    card: ModelCard
    path: Path
    sha256: str = ""


def runs_code(path: str | os.PathLike[str]) -> bool:
    """Whether loading ``path`` could execute code (anything but the safe format)."""
    return not is_safe_model_file(path)


def round_weights(module: torch.nn.Module, weights_dtype: str) -> None:
    """Round ``module``'s floating-point weights in place to what a file storing them as
    ``weights_dtype`` gives back, so scores measured before export hold for the file."""
    if weights_dtype == "float32":
        return
    import torch

    stored = getattr(torch, weights_dtype)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(stored).to(tensor.dtype))


def save_model(module: torch.nn.Module, card: ModelCard, path: str | os.PathLike[str]) -> ModelCard:
    """Write ``module`` in the safe format (card + safetensors weights), atomically.

    ``module`` must be an instance of the card's registered ``architecture``. Returns the
    card as written, with ``arch_kwargs`` completed and ``sha256`` filled in.
    """
    from medsr_viewer.models.safe_format import save_safe_model

    return save_safe_model(module, card, path)


def save_torchscript(
    module: torch.nn.Module, card: ModelCard, path: str | os.PathLike[str]
) -> ModelCard:
    """Script ``module`` (unless already scripted) and write it with ``card`` inside, atomically.

    For handing a model to tools that want TorchScript; such a file runs code when loaded
    and needs trust (:mod:`medsr_viewer.models.trust`). Returns the card as written.
    """
    import torch

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
    Such a file runs code when loaded and needs trust.

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
    import torch

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
    """Read only the card of a model file, without loading (or running) the model.

    Raises :class:`CardError` naming the file when it is unreadable, not a model file,
    has no card, or the card is malformed or too large.
    """
    target = Path(path)
    if is_safe_model_file(target):
        return read_safe_card(target)
    return _parse_card(target, _card_text(target))


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    trust: TrustStore | None = None,
) -> LoadedModel:
    """Load a model file and its card; raises :class:`CardError` naming the file and problem.

    The safe format always loads. TorchScript and ``torch.export`` archives load only when
    ``trust`` (default: the user's :class:`~medsr_viewer.models.trust.TrustStore`) trusts the
    file; otherwise :class:`UntrustedModel` is raised before any of its code runs. For them
    the card's weights ``sha256`` is checked too, with a warning on mismatch (the user
    trusted the file, not its card).
    """
    target = Path(path)
    data = _read_bytes(target)
    digest = bytes_sha256(data)
    if _looks_safe(data):  # decided on the bytes that will be loaded
        from medsr_viewer.models.safe_format import load_safe_model

        module, card = load_safe_model(target, data, device=device)
        return LoadedModel(module=module, card=card, path=target, sha256=digest)
    card = _parse_card(target, _card_text(target, data))
    store = trust if trust is not None else TrustStore()
    if not store.is_trusted(target, digest):
        raise UntrustedModel(target, digest, card.name)
    module = _load_code_archive(target, data, card, device)
    return LoadedModel(module=module, card=card, path=target, sha256=digest)


@contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence torch's TorchScript deprecation warnings (deliberate: we still support it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message=r".*TorchScript.*", category=DeprecationWarning)
        yield


def is_exported_program(path: str | os.PathLike[str], data: bytes | None = None) -> bool:
    """Whether ``path`` is a ``torch.export`` archive (by suffix or by its zip layout)."""
    target = Path(path)
    if target.suffix == ".pt2":
        return True
    try:
        with zipfile.ZipFile(io.BytesIO(data) if data is not None else target) as archive:
            return any(n.endswith("/models/model.json") for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _atomic_write(target: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then move the temp file over ``target`` (same folder)."""
    atomic_write(target, write)


def _looks_safe(data: bytes) -> bool:
    return len(data) > 9 and data[8:9] == b"{" and not data.startswith(b"PK")


def _read_bytes(path: Path) -> bytes:
    """The whole file, size-checked first (raises :class:`CardError` naming the file)."""
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise CardError(f"{path}: model file of {size} bytes exceeds the "
                            f"{MAX_MODEL_BYTES} allowed")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CardError(f"{path}: no such model file") from exc
    except OSError as exc:
        raise CardError(f"{path}: cannot read the model file ({exc})") from exc


def _card_text(path: Path, data: bytes | None = None) -> str:
    """The raw card JSON stored in the archive (zip member ``*/extra/<card>``), size-checked."""
    try:
        with zipfile.ZipFile(io.BytesIO(data) if data is not None else path) as archive:
            suffix = f"/extra/{CARD_FILENAME}"
            infos = [i for i in archive.infolist() if i.filename.endswith(suffix)]
            if not infos:
                raise CardError(f"{path}: model file has no {CARD_FILENAME} card inside")
            info = infos[0]
            if info.file_size > MAX_CARD_BYTES:
                raise CardError(f"{path}: its {CARD_FILENAME} card is {info.file_size} bytes, "
                                f"more than the {MAX_CARD_BYTES} allowed")
            with archive.open(info) as member:
                raw = member.read(MAX_CARD_BYTES + 1)  # the size field may lie
            if len(raw) > MAX_CARD_BYTES:
                raise CardError(f"{path}: its card exceeds {MAX_CARD_BYTES} bytes")
            return raw.decode("utf-8")
    except FileNotFoundError as exc:
        raise CardError(f"{path}: no such model file") from exc
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, EOFError, ValueError) as exc:
        if isinstance(exc, CardError):
            raise
        raise CardError(f"{path}: not a model file ({exc.__class__.__name__}: {exc})") from exc


def _parse_card(path: Path, text: str) -> ModelCard:
    if not text.strip():
        raise CardError(f"{path}: model file has an empty {CARD_FILENAME} card")
    try:
        return ModelCard.from_json(text)
    except CardError as exc:
        raise CardError(f"{path}: {exc}") from exc


def _load_code_archive(
    path: Path, data: bytes, card: ModelCard, map_location: str | torch.device
) -> torch.nn.Module:
    """Load a trusted TorchScript / ``torch.export`` archive from its bytes."""
    import torch

    try:
        if is_exported_program(path, data):
            program = torch.export.load(io.BytesIO(data))
            # Exported programs are captured in eval mode and refuse ``.eval()``.
            module = program.module().to(map_location)
        else:
            with quiet_torchscript():
                module = torch.jit.load(io.BytesIO(data), map_location=map_location).eval()
    except (RuntimeError, ValueError, OSError, KeyError, TypeError) as exc:
        raise CardError(f"{path}: not a loadable model ({exc.__class__.__name__}: {exc})") from exc
    if card.sha256:
        actual = weights_sha256(module)
        if actual != card.sha256:
            notifier.warning(
                f"{path}: the weights do not match the card's sha256 claim "
                f"({card.sha256[:12]}… vs {actual[:12]}…); loaded because you trusted this file",
                source="models",
            )
    if card.weights_dtype != "float32":
        module = module.float()  # stored compactly, computed in float32
    return module
