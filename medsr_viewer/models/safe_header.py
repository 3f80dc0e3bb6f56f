"""Reading the header and card of a ``.safetensors`` model file, without torch.

A ``.safetensors`` file is an 8-byte little-endian header length, a JSON header (tensor
names, dtypes, shapes and byte offsets, plus a string-to-string ``__metadata__`` map) and the
raw tensor bytes; the model card travels in ``__metadata__["medsr_card"]``. Listing models
(the viewer's model picker, ``medsr models``) reads only this, so it needs neither torch nor
the network: :mod:`medsr_viewer.models.safe_format` loads the weights (and re-exports these
names).

Reading is bounded before anything is allocated: the header length is checked against
:data:`MAX_HEADER_BYTES` and the file size, and every tensor's offsets against the data
section.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medsr_viewer.models.card import CardError, ModelCard

#: Conventional suffix of the project's model files.
SAFE_SUFFIX = ".safetensors"
#: ``__metadata__`` key holding the card JSON.
CARD_KEY = "medsr_card"
#: ``__metadata__`` key naming the format and its version.
FORMAT_KEY = "medsr_format"
FORMAT_VALUE = "medsr-model/1"
#: Largest JSON header accepted (the card is limited separately, to 1 MiB).
MAX_HEADER_BYTES = 4 * 1024 * 1024
#: Bytes per element of the tensor dtypes accepted (safetensors' names).
ITEM_BYTES = {
    "F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1,
}


def is_safe_model_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is laid out as a ``safetensors`` file (by content, not by name).

    A zip archive (TorchScript, ``torch.export``) starts with ``PK``; a safetensors file with
    an 8-byte length followed by ``{``. Only the layout is checked here; :func:`read_header`
    validates the rest (and such a file never runs code, valid or not).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and not head.startswith(b"PK")


def read_header(path: str | os.PathLike[str], data: bytes | None = None) -> dict[str, Any]:
    """The validated JSON header of a safetensors file (``data``: its bytes, if read already).

    Raises
    ------
    CardError
        Naming the file when the header is too large, truncated, not JSON, or describes
        tensors that do not fit in the file.
    """
    name = Path(path)
    try:
        if data is None:
            with open(path, "rb") as handle:
                prefix = handle.read(8)
                size = os.fstat(handle.fileno()).st_size
                if len(prefix) < 8:
                    raise CardError(f"{name}: not a model file (too short)")
                (length,) = struct.unpack("<Q", prefix)
                _check_header_length(name, length, size)
                text = handle.read(length)
        else:
            size = len(data)
            if size < 8:
                raise CardError(f"{name}: not a model file (too short)")
            (length,) = struct.unpack("<Q", data[:8])
            _check_header_length(name, length, size)
            text = data[8 : 8 + length]
    except FileNotFoundError as exc:
        raise CardError(f"{name}: no such model file") from exc
    except OSError as exc:
        raise CardError(f"{name}: cannot read the model file ({exc})") from exc
    try:
        header = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CardError(f"{name}: the weights header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CardError(f"{name}: the weights header is not a JSON object")
    _check_tensors(name, header, size - 8 - length)
    return header


def read_safe_card(path: str | os.PathLike[str], data: bytes | None = None) -> ModelCard:
    """The card stored in a safetensors model file; reads only the header.

    Raises
    ------
    CardError
        Naming the file: no card, a card that fails the schema, or a bad header.
    """
    return card_of(Path(path), read_header(path, data))


def card_of(path: Path, header: Mapping[str, Any]) -> ModelCard:
    """The validated card in a header already read by :func:`read_header`."""
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or not isinstance(meta.get(CARD_KEY), str):
        raise CardError(f"{path}: model file has no {CARD_KEY} card in its metadata")
    try:
        return ModelCard.from_json(meta[CARD_KEY])
    except CardError as exc:
        raise CardError(f"{path}: {exc}") from exc


def _check_header_length(name: Path, length: int, size: int) -> None:
    if length > MAX_HEADER_BYTES:
        raise CardError(
            f"{name}: weights header of {length} bytes exceeds the {MAX_HEADER_BYTES} allowed"
        )
    if length + 8 > size:
        raise CardError(f"{name}: truncated model file (header of {length} bytes, file {size})")


def _check_tensors(name: Path, header: Mapping[str, Any], data_size: int) -> None:
    """Every tensor entry is well-formed and lies inside the data section."""
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(v, str) for v in entry.values()
            ):
                raise CardError(f"{name}: malformed __metadata__ in the weights header")
            continue
        if not isinstance(entry, dict):
            raise CardError(f"{name}: malformed entry for tensor {key!r}")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in ITEM_BYTES:
            raise CardError(f"{name}: tensor {key!r} has unsupported dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise CardError(f"{name}: tensor {key!r} has a malformed shape {shape!r}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(n, int) for n in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise CardError(f"{name}: tensor {key!r} lies outside the file")
        count = 1
        for n in shape:
            count *= n
        if count * ITEM_BYTES[dtype] != offsets[1] - offsets[0]:
            raise CardError(f"{name}: tensor {key!r} size disagrees with its shape")
