"""Where models come from, and the checks every model passes before a real run.

Models are found in three places, in this order:

1. the bundled folder ``resources/models/`` beside the package (shipped with the app),
2. the user's models folder: ``$MEDSR_CONFIG_DIR/models`` when that variable is set, else
   ``<platform user config dir>/medsr-viewer/models``,
3. an explicit file path the user typed or picked.

Listing reads only the cards (a header or a size-checked zip member; no code runs), and one
unreadable or malformed card is listed with its reason without affecting the others.
:meth:`ModelRegistry.load` then refuses, with a reason naming the file, a file without a
card, a malformed card, a task that does not fit the request, a TorchScript/``torch.export``
file that is not trusted (:class:`ModelNeedsTrust`: nothing from it ran; see
:mod:`medsr_viewer.models.trust`), weights that do not match the card's hash, and a model
whose output shape disagrees with its card on a tiny, time-limited dry run.

Listing and resolving import no torch (the viewer starts without it); loading does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medsr_viewer.models.archive import LoadedModel, UntrustedModel, load_model, read_card
from medsr_viewer.models.card import CardError, ModelCard
from medsr_viewer.models.locations import bundled_models_dir, user_models_dir
from medsr_viewer.models.trust import TrustStore

if TYPE_CHECKING:  # listing models and reading cards needs no torch; loading one imports it
    import torch

__all__ = [
    "MODEL_SUFFIXES",
    "ModelEntry",
    "ModelNeedsTrust",
    "ModelRegistry",
    "ModelRejected",
    "bundled_models_dir",
    "check_task",
    "describe",
    "dry_run",
    "load_checked",
    "user_models_dir",
]

#: File suffixes treated as model files: the safe format, TorchScript, ``torch.export``.
MODEL_SUFFIXES = (".safetensors", ".pt", ".ts", ".pt2")
#: Height and width of the dry-run input.
DRY_RUN_SIZE = 16


class ModelRejected(CardError):
    """A model cannot be used for the request; the message names the file and the reason."""


class ModelNeedsTrust(ModelRejected):
    """A model file that can run code is not trusted (nothing from it was executed).

    Attributes
    ----------
    path, sha256, model_name
        The file, the hash of its bytes (what a user confirms), the name its card gives.
    """

    def __init__(self, untrusted: UntrustedModel) -> None:
        super().__init__(str(untrusted))
        self.path = untrusted.path
        self.sha256 = untrusted.sha256
        self.model_name = untrusted.model_name


@dataclass(frozen=True)
class ModelEntry:
    """One model file found by the registry, described by its card only.

    Parameters
    ----------
    path
        The archive.
    source
        ``"bundled"``, ``"user"`` or ``"path"``.
    card
        The card, or ``None`` when it could not be read.
    error
        Why the card could not be read (empty when it could).
    """

    path: Path
    source: str
    card: ModelCard | None
    error: str = ""

    @property
    def name(self) -> str:
        """The card's model name (the file stem when there is no readable card)."""
        return self.card.name if self.card is not None else self.path.stem

    @property
    def usable(self) -> bool:
        """Whether the card was read (the model may still fail its dry run)."""
        return self.card is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``medsr models --json``)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "card": self.card.to_dict() if self.card is not None else None,
            "error": self.error,
        }


class ModelRegistry:
    """Finds models in the bundled and user folders and resolves ``NAME|PATH`` requests.

    Parameters
    ----------
    folders
        ``(source, folder)`` pairs searched in order; default: bundled then user folder.
    """

    def __init__(self, folders: Sequence[tuple[str, Path]] | None = None) -> None:
        if folders is None:
            folders = (("bundled", bundled_models_dir()), ("user", user_models_dir()))
        self.folders = [(source, Path(folder)) for source, folder in folders]

    def entries(self) -> list[ModelEntry]:
        """Every model file in the folders, with its card (or the reason it has none).

        Files are sorted by name within each folder; folders that do not exist are skipped.
        """
        found: list[ModelEntry] = []
        for source, folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(p for p in folder.iterdir() if _is_model_file(p)):
                found.append(describe(path, source))
        return found

    def names(self) -> list[str]:
        """Names of the models with readable cards, in search order (duplicates removed)."""
        seen: list[str] = []
        for entry in self.entries():
            if entry.usable and entry.name not in seen:
                seen.append(entry.name)
        return seen

    def resolve(self, spec: str | os.PathLike[str]) -> Path:
        """The file for ``spec``: an existing path, else a model name or file stem in the folders.

        The first folder wins when several hold the same name (bundled before user).

        Raises
        ------
        ModelRejected
            When nothing matches, listing the known names.
        """
        text = os.fspath(spec)
        candidate = Path(text).expanduser()
        if candidate.is_file():
            return candidate
        entries = self.entries()
        for entry in entries:
            if entry.usable and entry.name == text:
                return entry.path
        for entry in entries:
            if entry.path.stem == text or entry.path.name == text:
                return entry.path
        looks_like_path = os.sep in text or Path(text).suffix in MODEL_SUFFIXES
        if looks_like_path:
            raise ModelRejected(f"{text}: no such model file")
        known = ", ".join(self.names()) or "none installed"
        raise ModelRejected(f"no model named {text!r} (known models: {known})")

    def load(
        self,
        spec: str | os.PathLike[str],
        task: str | tuple[str, ...] | None = None,
        device: str | torch.device = "cpu",
    ) -> LoadedModel:
        """Resolve, check and load a model, refusing it with a clear reason if unusable.

        Parameters
        ----------
        spec
            Model name (card name or file stem) or a path.
        task
            The task the caller needs (``super_resolution``, ``enhance``, ``segment``);
            ``None`` accepts any.
        device
            Where to load it.

        Raises
        ------
        ModelRejected
            No such model, no or malformed card, wrong task, or a failed dry run.
        """
        return load_checked(self.resolve(spec), task=task, device=device)


def describe(path: Path, source: str = "path") -> ModelEntry:
    """A :class:`ModelEntry` for ``path``, reading only its card."""
    try:
        return ModelEntry(path, source, read_card(path))
    except CardError as exc:
        return ModelEntry(path, source, None, str(exc))


def check_task(card: ModelCard, task: str | tuple[str, ...] | None, path: Path) -> None:
    """Refuse a card whose task is not ``task`` (or one of them; no check when ``None``)."""
    if task is None:
        return
    accepted = (task,) if isinstance(task, str) else task
    if card.task not in accepted:
        wanted = " or ".join(repr(t) for t in accepted)
        raise ModelRejected(f"{path}: model {card.name!r} is a {card.task!r} model, not {wanted}")


def load_checked(
    path: str | os.PathLike[str],
    task: str | tuple[str, ...] | None = None,
    device: str | torch.device = "cpu",
    trust: TrustStore | None = None,
    interrupted: threading.Event | None = None,
) -> LoadedModel:
    """Load ``path`` after checking its card, task and trust, then dry-run it (:func:`dry_run`).

    ``interrupted``, when set, stops the dry run at once (the application is closing).

    Raises
    ------
    ModelNeedsTrust
        A TorchScript / ``torch.export`` file that is not trusted.
    ModelRejected
        Every other reason a model cannot be used, naming the file.
    """
    target = Path(path)
    try:
        card = read_card(target)
    except CardError as exc:
        raise ModelRejected(str(exc)) from exc
    check_task(card, task, target)
    try:
        loaded = load_model(target, device=device, trust=trust)
    except UntrustedModel as exc:
        raise ModelNeedsTrust(exc) from exc
    except CardError as exc:
        raise ModelRejected(str(exc)) from exc
    if loaded.card != card:
        raise ModelRejected(f"{target}: the file changed while it was being loaded")
    dry_run(loaded, device, interrupted)
    return loaded


def expected_output_shape(card: ModelCard, height: int, width: int) -> tuple[int, ...]:
    """The output shape the card promises for a ``(1, in_channels, height, width)`` input."""
    if card.task == "classify":
        return (1, card.out_channels)
    return (1, card.out_channels, height * card.scale, width * card.scale)


def dry_run(
    loaded: LoadedModel,
    device: str | torch.device = "cpu",
    interrupted: threading.Event | None = None,
) -> None:
    """Run the model once on a tiny input and check the output shape against its card.

    The call is bounded by the card's ``tile_timeout_s`` and by ``interrupted``.

    Raises
    ------
    ModelRejected
        When the model raises, returns a non-tensor, a wrong shape, or non-finite values.
    """
    import torch

    from medsr_viewer.models.inference import InferenceError, call_bounded, describe_exception

    card, path = loaded.card, loaded.path
    size = DRY_RUN_SIZE
    x = torch.from_numpy(
        np.linspace(0.0, 1.0, card.in_channels * size * size, dtype=np.float32)
    ).reshape(1, card.in_channels, size, size)

    def call() -> Any:
        with torch.inference_mode():
            return loaded.module(x.to(device))

    try:
        y = call_bounded(call, card.tile_timeout_s, interrupted, what=f"{path}: dry run")
    except InferenceError as exc:
        raise ModelRejected(str(exc)) from exc
    except Exception as exc:
        raise ModelRejected(
            f"{path}: dry run on a {size}x{size} input failed ({describe_exception(exc)})"
        ) from exc
    if isinstance(y, (tuple, list)) and y:
        y = y[0]
    if not isinstance(y, torch.Tensor):
        raise ModelRejected(f"{path}: model returned {type(y).__name__}, not a tensor")
    expected = expected_output_shape(card, size, size)
    if tuple(y.shape) != expected:
        raise ModelRejected(
            f"{path}: output shape {tuple(y.shape)} does not match the card "
            f"({card.task}, scale {card.scale}, {card.out_channels} output channel(s)): "
            f"expected {expected} for input {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(y).all()):
        raise ModelRejected(f"{path}: dry run produced NaN or infinite values")


def _is_model_file(path: Path) -> bool:
    return path.is_file() and path.suffix in MODEL_SUFFIXES and not path.name.startswith(".")
