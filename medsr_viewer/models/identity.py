"""What a model *is*: hashes of its file and of its weights, never the name its card claims.

Two identities are used:

- :func:`file_sha256`, the SHA-256 of the model file's bytes, keys loaded models, trust
  decisions and cached results: two different files can never share an entry, whatever
  their cards say, and a file edited in place is a new model.
- :func:`weights_sha256` / :func:`tensors_sha256`, the SHA-256 over the weight tensors (names
  and bytes, in the network's state-dict order, at the stored precision), is what a card's
  ``sha256`` field claims; loading checks the claim against the weights as read.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the functions that hash tensors (not at start-up)
    import torch

_CHUNK = 1024 * 1024
_file_hashes: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def bytes_sha256(data: bytes | memoryview) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, remembered per (real path, size, modification time).

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    real = os.path.realpath(path)
    stat = os.stat(real)
    key = (real, stat.st_size, stat.st_mtime_ns)
    with _lock:
        known = _file_hashes.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(real, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _file_hashes[key] = value
    return value


def tensors_sha256(items: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 over ``(name, tensor)`` pairs: each name, then the tensor's raw bytes."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in items:
        digest.update(key.encode())
        data = tensor.detach().cpu().contiguous()
        if data.dtype == torch.bfloat16:  # numpy has no bfloat16: hash the raw 16-bit words
            data = data.view(torch.int16)
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over the module's state-dict tensors (names and bytes, in order)."""
    return tensors_sha256(module.state_dict().items())


def real_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with symbolic links and ``..`` resolved (for comparing locations)."""
    return Path(os.path.realpath(path))
