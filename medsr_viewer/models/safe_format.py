"""The project's own model format: a card and ``safetensors`` weights, nothing that can run.

A ``.safetensors`` file is an 8-byte little-endian header length, a JSON header (tensor
names, dtypes, shapes and byte offsets, plus a string-to-string ``__metadata__`` map) and the
raw tensor bytes. Nothing in it is executable, unlike TorchScript or pickled archives. The
model card travels in ``__metadata__["medsr_card"]``; the network is rebuilt from the
project's architecture registry (:mod:`medsr_viewer.models.architectures`) by the card's
``architecture`` name and ``arch_kwargs``, and the weights are loaded into it strictly (every
tensor named, shaped and typed as the network expects).

The header and card are read without torch by :mod:`medsr_viewer.models.safe_header` (names
re-exported here). Reading is bounded before anything is allocated: the header length is
checked against :data:`MAX_HEADER_BYTES` and the file size, every tensor's offsets against
the data section, the network's shapes (built first on the ``meta`` device, which allocates
nothing) against the header, and the weights' hash against the card's ``sha256`` claim.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.models.architectures import ARCHITECTURES, built_as
from medsr_viewer.models.card import CardError, ModelCard
from medsr_viewer.models.identity import tensors_sha256
from medsr_viewer.models.safe_header import (  # noqa: F401 - re-exported
    CARD_KEY,
    FORMAT_KEY,
    FORMAT_VALUE,
    MAX_HEADER_BYTES,
    SAFE_SUFFIX,
    card_of,
    is_safe_model_file,
    read_header,
    read_safe_card,
)

#: Largest integer accepted in ``arch_kwargs`` (channels, blocks, depth ...).
MAX_ARCH_INT = 4096
_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def network_spec(card: ModelCard) -> tuple[type[torch.nn.Module], dict[str, Any]]:
    """The registered architecture class and the complete keyword arguments for ``card``.

    ``scale`` (super-resolution) and ``classes`` (segmentation) come from the card's
    ``scale`` and ``out_channels`` when the architecture takes them.

    Raises
    ------
    CardError
        Unknown architecture, one meant for another task, unknown or out-of-range arguments.
    """
    if card.architecture not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise CardError(f"unknown architecture {card.architecture!r} (known: {known})")
    cls, task = ARCHITECTURES[card.architecture]
    # A segmentation network also serves instance segmentation (its card adds the
    # post-processing of the class probabilities).
    if task != card.task and (task, card.task) != ("segment", "segment_instances"):
        raise CardError(f"architecture {card.architecture!r} is for {task!r}, card says "
                        f"{card.task!r}")
    params = {
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    legacy = card.training.get("arch_kwargs")  # where training recorded them first
    kwargs = dict(card.arch_kwargs or (legacy if isinstance(legacy, dict) else {}))
    implied = {"scale": card.scale, "classes": card.out_channels}
    for key, value in implied.items():
        if key in params and kwargs.setdefault(key, value) != value:
            raise CardError(f"arch_kwargs {key}={kwargs[key]} contradicts the card's {value}")
    unknown = sorted(set(kwargs) - params)
    if unknown:
        raise CardError(f"architecture {card.architecture!r} takes no argument(s) "
                        f"{', '.join(unknown)}")
    for key, value in kwargs.items():
        ok = value is None or isinstance(value, (bool, float)) or (
            isinstance(value, int) and 0 <= value <= MAX_ARCH_INT
        )
        if not ok:
            raise CardError(f"arch_kwargs {key}={value!r} is out of range")
    return cls, kwargs


def build_network(card: ModelCard, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Instantiate the card's network (random weights) on ``device`` (``meta``: no memory)."""
    cls, kwargs = network_spec(card)
    try:
        with torch.device(device):
            return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CardError(f"cannot build {card.architecture!r} with {kwargs}: {exc}") from exc


def save_safe_model(
    module: torch.nn.Module, card: ModelCard, path: str | os.PathLike[str]
) -> ModelCard:
    """Write ``module``'s weights and ``card`` as a safetensors model file, atomically.

    The module must be an instance of a registered architecture. When it was made by
    :func:`~medsr_viewer.models.architectures.build_architecture`, the card's missing
    ``architecture`` and ``arch_kwargs`` are taken from how it was built. Its weights are
    stored at the card's ``weights_dtype`` and the card written gets the complete
    ``arch_kwargs`` and the weights' ``sha256``. Returns that card.

    Raises
    ------
    CardError
        When the card's architecture cannot rebuild ``module`` (names, shapes).
    """
    origin = built_as(module)
    if origin is not None:
        name, built_kwargs = origin
        if card.architecture and card.architecture != name:
            raise CardError(f"{path}: module was built as {name!r}, card says "
                            f"{card.architecture!r}")
        card = replace(card, architecture=name, arch_kwargs={**built_kwargs, **card.arch_kwargs})
    cls, kwargs = network_spec(card)
    if not isinstance(module, cls):
        raise CardError(f"{path}: module is a {type(module).__name__}, card says "
                        f"{card.architecture!r} ({cls.__name__})")
    stored = getattr(torch, card.weights_dtype)
    state = {
        key: (t.detach().to(stored) if t.is_floating_point() else t.detach()).cpu().contiguous()
        for key, t in module.state_dict().items()
    }
    expected = build_network(replace(card, arch_kwargs=kwargs), "meta").state_dict()
    _check_names_and_shapes(Path(path), expected, {k: (tuple(v.shape), v.dtype) for k, v in
                                                    state.items()}, check_dtype=False)
    card = replace(card, arch_kwargs=kwargs, sha256=tensors_sha256(state.items()))
    card = ModelCard.from_json(card.to_json())  # exactly what reading the file gives back
    payload = save_safetensors_bytes(
        state, metadata={CARD_KEY: card.to_json(), FORMAT_KEY: FORMAT_VALUE}
    )
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(payload))
    return card


def load_safe_model(
    path: str | os.PathLike[str],
    data: bytes,
    device: str | torch.device = "cpu",
) -> tuple[torch.nn.Module, ModelCard]:
    """Rebuild the network of a safetensors model file from its bytes ``data``.

    Raises
    ------
    CardError
        Naming the file: bad header or card, a network that does not match the weights,
        or weights whose hash differs from the card's claim.
    """
    name = Path(path)
    header = read_header(name, data)
    card = card_of(name, header)
    try:
        expected = build_network(card, "meta").state_dict()
    except CardError as exc:
        raise CardError(f"{name}: {exc}") from exc
    found = {
        key: (tuple(entry["shape"]), _DTYPES[entry["dtype"]])
        for key, entry in header.items()
        if key != "__metadata__"
    }
    _check_names_and_shapes(name, expected, found, check_dtype=False)
    try:
        tensors = load_safetensors_bytes(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise CardError(f"{name}: unreadable weights ({exc.__class__.__name__}: {exc})") from exc
    digest = tensors_sha256((key, tensors[key]) for key in expected)
    if card.sha256 != digest:
        raise CardError(
            f"{name}: the weights do not match the card (card claims sha256 "
            f"{card.sha256[:12] or 'none'}…, the weights hash to {digest[:12]}…)"
        )
    network = build_network(card, "cpu")
    network.load_state_dict(tensors, strict=True)  # cast to the network's float32
    return network.eval().to(device), card


def _check_names_and_shapes(
    name: Path,
    expected: Mapping[str, torch.Tensor],
    found: Mapping[str, tuple[tuple[int, ...], torch.dtype]],
    check_dtype: bool,
) -> None:
    """The weights name exactly the network's tensors, with the same shapes."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:5])}")
        raise CardError(f"{name}: weights do not fit the card's network ({'; '.join(parts)})")
    for key, tensor in expected.items():
        shape, dtype = found[key]
        if shape != tuple(tensor.shape):
            raise CardError(f"{name}: tensor {key!r} has shape {shape}, the card's network "
                            f"needs {tuple(tensor.shape)}")
        if tensor.is_floating_point() != dtype.is_floating_point or (
            check_dtype and dtype != tensor.dtype
        ):
            raise CardError(f"{name}: tensor {key!r} is {dtype}, the network needs "
                            f"{tensor.dtype}")
