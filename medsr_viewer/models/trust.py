"""Which model files may run code: trusted locations and files the user confirmed, by hash.

The project's own model format (:mod:`medsr_viewer.models.safe_format`: a card plus
``safetensors`` weights, the network rebuilt from :mod:`medsr_viewer.models.architectures`)
cannot execute code, so it is always allowed. TorchScript (``.pt``/``.ts``) and
``torch.export`` (``.pt2``) archives can: loading one runs code from the file (pickled
objects, TorchScript operators that read and write files). Such a file is loaded only when

- it lies in a trusted folder: the bundled models folder, the user's models folder
  (``$MEDSR_CONFIG_DIR/models``), a folder listed in ``$MEDSR_TRUSTED_MODEL_DIRS``
  (``os.pathsep``-separated, for site-wide model folders), or a folder the user trusted with
  ``medsr trust --folder``; or
- the SHA-256 of its bytes was trusted by the user (``medsr trust FILE``, or the viewer's
  confirmation dialog that names the file and the hash). A file changed after it was trusted
  has another hash and must be trusted again.

The decisions live in ``trusted_models.json`` in the config folder, written atomically.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from medsr_viewer.core.atomic import write_text_atomic
from medsr_viewer.core.config_dir import config_dir
from medsr_viewer.models.identity import file_sha256, real_path
from medsr_viewer.models.locations import bundled_models_dir, user_models_dir

#: Environment variable listing extra trusted model folders.
TRUSTED_DIRS_ENV = "MEDSR_TRUSTED_MODEL_DIRS"
_FORMAT = "medsr-trusted-models"


class TrustError(ValueError):
    """The trust store cannot be read or written (message names the file)."""


def default_store_path() -> Path:
    """``trusted_models.json`` in the user config folder."""
    return config_dir() / "trusted_models.json"


class TrustStore:
    """The user's trust decisions about model files that can run code.

    Parameters
    ----------
    path
        The JSON file holding the decisions (default :func:`default_store_path`). A missing
        file means nothing is trusted beyond the default folders.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()

    # -- reading ---------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"format": _FORMAT, "version": 1, "files": {}, "folders": []}
        except OSError as exc:
            raise TrustError(f"{self.path}: cannot read the trust store ({exc})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrustError(f"{self.path}: the trust store is not valid JSON ({exc})") from exc
        if (
            not isinstance(data, dict)
            or data.get("format") != _FORMAT
            or not isinstance(data.get("files", {}), dict)
            or not isinstance(data.get("folders", []), list)
        ):
            raise TrustError(f"{self.path}: not a MedSR trust store")
        data.setdefault("files", {})
        data.setdefault("folders", [])
        return data

    def files(self) -> dict[str, dict[str, Any]]:
        """Trusted file hashes -> what was recorded (path, name, time)."""
        try:
            return dict(self._data()["files"])
        except TrustError:
            return {}

    def trusted_folders(self) -> list[Path]:
        """Every folder whose model files are trusted, default folders first."""
        folders = [bundled_models_dir(), user_models_dir()]
        folders += [Path(p) for p in os.environ.get(TRUSTED_DIRS_ENV, "").split(os.pathsep) if p]
        try:
            folders += [Path(str(p)) for p in self._data()["folders"]]
        except TrustError:
            pass
        return folders

    def in_trusted_folder(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` lies directly in one of :meth:`trusted_folders`."""
        parent = real_path(Path(path).parent)
        return any(parent == real_path(folder) for folder in self.trusted_folders())

    def is_trusted(self, path: str | os.PathLike[str], sha256: str | None = None) -> bool:
        """Whether the code-bearing model file at ``path`` may be loaded.

        Parameters
        ----------
        path
            The file.
        sha256
            Its bytes' hash when already known (else computed).
        """
        if self.in_trusted_folder(path):
            return True
        try:
            digest = sha256 or file_sha256(path)
        except OSError:
            return False
        return digest in self.files()

    # -- writing ---------------------------------------------------------------------------
    def trust_file(self, path: str | os.PathLike[str], name: str = "") -> str:
        """Record the hash of ``path``'s bytes as trusted; returns the hash."""
        digest = file_sha256(path)
        data = self._data()
        data["files"][digest] = {
            "path": str(real_path(path)),
            "name": name,
            "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self._write(data)
        return digest

    def trust_folder(self, folder: str | os.PathLike[str]) -> Path:
        """Trust every model file directly in ``folder``; returns the folder as stored."""
        target = real_path(folder)
        if not target.is_dir():
            raise TrustError(f"{folder}: not a folder")
        data = self._data()
        if str(target) not in data["folders"]:
            data["folders"].append(str(target))
        self._write(data)
        return target

    def revoke(self, item: str) -> bool:
        """Forget a trusted hash or folder; returns whether anything was removed."""
        data = self._data()
        removed = data["files"].pop(item, None) is not None
        folder = str(real_path(item)) if not removed else ""
        if folder in data["folders"]:
            data["folders"].remove(folder)
            removed = True
        if removed:
            self._write(data)
        return removed

    def _write(self, data: dict[str, Any]) -> None:
        try:
            write_text_atomic(self.path, json.dumps(data, indent=1, sort_keys=True))
        except OSError as exc:
            raise TrustError(f"{self.path}: cannot write the trust store ({exc})") from exc
