"""``torch.compile`` for an execution plan, with its artefacts cached on disk.

Compiling a model (TorchInductor, with freezing: weights folded in and pre-packed for oneDNN)
costs seconds to tens of seconds per input shape and needs a C++ compiler at run time, so the
execution layer never compiles on its own: a plan asks for it (``...+compiled`` paths, used by
``medsr eval --paths`` and ``benchmarks/sr_paths.py``). After the first compiled call, torch's
cache artefacts (``torch.compiler.save_cache_artifacts``) are written to
``<user cache dir>/medsr-viewer/compiled/<key>.bin`` and loaded back before the next compile
of the same model, so a second process skips most of the work.

The key (:func:`cache_key`) is the model file's SHA-256, the plan and torch's version (and
the CPU's vector ISA on CPU): a new model file, another precision or a torch upgrade never
reuses old artefacts. The artefacts are code torch generated on this machine for this user
(like torch's own default cache in the temp folder); they never come with a model file.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import platformdirs
import torch

#: Environment variable overriding the cache folder.
CACHE_ENV = "MEDSR_CACHE_DIR"
_log = logging.getLogger(__name__)


def compile_cache_dir() -> Path:
    """``$MEDSR_CACHE_DIR/compiled``, else ``<platform user cache dir>/medsr-viewer/compiled``."""
    base = os.environ.get(CACHE_ENV)
    root = Path(base) if base else Path(platformdirs.user_cache_dir("medsr-viewer"))
    return root / "compiled"


def cache_key(model_sha256: str, path: str, device: str, torch_version: str | None = None,
              isa: str | None = None) -> str:
    """File-name-safe key of one model's compiled artefacts.

    Parameters
    ----------
    model_sha256
        SHA-256 of the model file's bytes (its identity everywhere in the application).
    path
        The plan's path name (``"bf16+channels_last+compiled"``).
    device
        ``"cpu"`` or ``"cuda"``.
    torch_version
        Default: ``torch.__version__``.
    isa
        Vector ISA the code was generated for (default on CPU:
        ``torch.backends.cpu.get_cpu_capability()``).
    """
    if not re.fullmatch(r"[0-9a-f]{16,64}", model_sha256):
        raise ValueError(f"not a sha256 hex digest: {model_sha256!r}")
    version = torch_version if torch_version is not None else torch.__version__
    if isa is None and device == "cpu":
        isa = torch.backends.cpu.get_cpu_capability()
    parts = [model_sha256[:32], path, device + (f"-{isa}" if isa else ""), f"torch{version}"]
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", "-".join(parts))


class CompiledModule(torch.nn.Module):
    """A compiled module that writes torch's cache artefacts after its first call.

    Parameters
    ----------
    module
        The module to compile (already in the plan's memory format and dtype).
    artefacts
        Where the artefacts live (loaded now when present, written after the first call).
    """

    def __init__(self, module: torch.nn.Module, artefacts: Path) -> None:
        super().__init__()
        self.artefacts = artefacts
        if artefacts.is_file():
            try:
                torch.compiler.load_cache_artifacts(artefacts.read_bytes())
            except Exception as exc:  # noqa: BLE001 - a stale or damaged cache only costs a compile
                _log.info("compiled artefacts %s not loaded (%s)", artefacts, exc)
        self.compiled = torch.compile(module, dynamic=False, options={"freezing": True})
        self._saved = artefacts.is_file()

    def forward(self, x: torch.Tensor) -> Any:
        """Run the compiled module; save the artefacts once after the first call."""
        y = self.compiled(x)
        if not self._saved:
            self._saved = True
            self._save()
        return y

    def _save(self) -> None:
        saved = torch.compiler.save_cache_artifacts()
        if saved is None:
            return
        try:
            self.artefacts.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.artefacts.with_suffix(".tmp")
            tmp.write_bytes(saved[0])
            tmp.replace(self.artefacts)
        except OSError as exc:  # a read-only cache only costs a compile next time
            _log.info("compiled artefacts not written to %s (%s)", self.artefacts, exc)


def compile_for(module: torch.nn.Module, key: str, cache_dir: Path | None = None
                ) -> CompiledModule:
    """``module`` compiled, with artefacts under ``cache_dir`` (default
    :func:`compile_cache_dir`) named by ``key`` (:func:`cache_key`)."""
    folder = cache_dir if cache_dir is not None else compile_cache_dir()
    return CompiledModule(module, folder / f"{key}.bin")
