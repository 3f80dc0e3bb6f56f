"""Session files: what a user had open (study, models, ROIs, label maps, view) saved and restored.

A session is plain JSON (``*.medsr.json``), written atomically (temporary file, then rename).
Paths are stored absolute and, where possible, also relative to the session file, so a study
folder moved together with its session still restores. Sessions are never written into the
study's input folder unless the caller explicitly allows it.

Crash-recovery autosaves (written through this module's :func:`save_session`) are kept by
:mod:`medsr_viewer.core.recovery`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsr_viewer.core.atomic import write_text_atomic
from medsr_viewer.core.labels.table import LabelTable
from medsr_viewer.core.roi.serialize import (
    RoiFormatError,
    roi_to_dict,
    rois_from_data,
)
from medsr_viewer.core.roi.shapes import Roi

SESSION_FORMAT = "medsr-session"
SESSION_VERSION = 1
#: File-name suffix of session files.
SESSION_SUFFIX = ".medsr.json"


class SessionError(ValueError):
    """A session file cannot be read or written (message names the file and the problem)."""


@dataclass
class ModelRef:
    """A model used in the session: where it is, what it is, and which weights."""

    path: str
    name: str = ""
    task: str = ""
    sha256: str = ""
    role: str = ""  # e.g. "sr", "enhance", "segment": which pane/layer it feeds


@dataclass
class LabelMapRef:
    """A label layer: its file (NIfTI/MGZ/DICOM SEG) and how it is shown."""

    path: str
    name: str = ""
    visible: bool = True
    opacity: float = 0.5
    style: str = "fill"  # "fill", "outline" or "both"
    table: LabelTable | None = None  # the user's edited names/colours, if any
    instances: bool = False  # an instance map (one id per object), e.g. seg-em-cells output


@dataclass
class Session:
    """Everything needed to restore the viewer's state.

    Attributes
    ----------
    study_path
        The study that was open (file or DICOM folder).
    models
        Models in use.
    rois
        ROIs in drawing order.
    label_maps
        Label layers.
    view_state
        Free-form JSON-serialisable view settings (layout, slice indices, window, zoom ...),
        owned by the GUI.
    reference_path
        Optional reference volume for PSNR/SSIM.
    """

    study_path: str = ""
    models: list[ModelRef] = field(default_factory=list)
    rois: list[Roi] = field(default_factory=list)
    label_maps: list[LabelMapRef] = field(default_factory=list)
    view_state: dict[str, Any] = field(default_factory=dict)
    reference_path: str = ""

    def missing_files(self) -> list[str]:
        """Paths the session refers to that do not exist (to warn the user on restore)."""
        paths = [self.study_path, self.reference_path]
        paths += [m.path for m in self.models] + [lm.path for lm in self.label_maps]
        return [p for p in paths if p and not Path(p).exists()]


def input_folder(study_path: str | os.PathLike[str]) -> Path:
    """The folder a study was read from (the folder itself for a DICOM folder)."""
    path = Path(study_path).expanduser().resolve()
    return path if path.is_dir() else path.parent


def session_to_dict(session: Session, base: Path | None = None) -> dict[str, Any]:
    """JSON-ready dict; ``base`` (the session file's folder) adds relative paths."""

    def ref(path: str) -> dict[str, str]:
        return _path_entry(path, base)

    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "study": ref(session.study_path),
        "reference": ref(session.reference_path),
        "models": [{**ref(m.path), "name": m.name, "task": m.task, "sha256": m.sha256,
                    "role": m.role} for m in session.models],
        "label_maps": [{**ref(lm.path), "name": lm.name, "visible": lm.visible,
                        "opacity": lm.opacity, "style": lm.style,
                        "table": lm.table.to_list() if lm.table is not None else None,
                        "instances": lm.instances}
                       for lm in session.label_maps],
        "rois": [roi_to_dict(r) for r in session.rois],
        "view_state": session.view_state,
    }


def session_from_dict(data: Any, base: Path | None = None) -> Session:
    """Inverse of :func:`session_to_dict`; raises :class:`SessionError` naming the problem."""
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise SessionError("not a MedSR session file")
    if int(data.get("version", 1)) > SESSION_VERSION:
        raise SessionError(f"session version {data['version']} is newer than this program")
    try:
        models = [ModelRef(_resolve(m, base), str(m.get("name", "")), str(m.get("task", "")),
                           str(m.get("sha256", "")), str(m.get("role", "")))
                  for m in data.get("models", [])]
        label_maps = [
            LabelMapRef(_resolve(lm, base), str(lm.get("name", "")), bool(lm.get("visible", True)),
                        float(lm.get("opacity", 0.5)), str(lm.get("style", "fill")),
                        LabelTable.from_list(lm["table"]) if lm.get("table") else None,
                        bool(lm.get("instances", False)))
            for lm in data.get("label_maps", [])
        ]
        rois = rois_from_data(data.get("rois", []))
        view_state = data.get("view_state", {})
        if not isinstance(view_state, dict):
            raise SessionError("view_state must be a JSON object")
        return Session(
            study_path=_resolve(data.get("study", {}), base),
            models=models,
            rois=rois,
            label_maps=label_maps,
            view_state=view_state,
            reference_path=_resolve(data.get("reference", {}), base),
        )
    except RoiFormatError as exc:
        raise SessionError(f"bad ROI in session: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, SessionError):
            raise
        raise SessionError(f"malformed session ({exc.__class__.__name__}: {exc})") from exc


def save_session(session: Session, path: str | os.PathLike[str],
                 allow_input_folder: bool = False) -> Path:
    """Write ``session`` to ``path`` atomically.

    Raises :class:`SessionError` if ``path`` lies inside the study's input folder and
    ``allow_input_folder`` is false (the user must ask for that explicitly), or if it cannot
    be written.
    """
    target = Path(path).expanduser()
    if session.study_path and not allow_input_folder:
        folder = input_folder(session.study_path)
        if _is_within(target.resolve(), folder):
            raise SessionError(f"{target}: not saving into the study's input folder {folder} "
                               "unless asked")
    try:
        text = json.dumps(session_to_dict(session, target.resolve().parent), indent=1,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SessionError(f"{target}: session holds values JSON cannot store ({exc})") from exc
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        raise SessionError(f"{target}: cannot write session ({exc.strerror or exc})") from exc
    return target


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read a session file; raises :class:`SessionError` naming the file and the problem."""
    source = Path(path).expanduser()
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SessionError(f"{source}: cannot read session ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SessionError(f"{source}: not valid JSON ({exc})") from exc
    try:
        return session_from_dict(data, source.resolve().parent)
    except SessionError as exc:
        raise SessionError(f"{source}: {exc}") from exc


def _path_entry(path: str, base: Path | None) -> dict[str, str]:
    if not path:
        return {"path": ""}
    absolute = Path(path).expanduser().resolve()
    entry = {"path": str(absolute)}
    if base is not None:
        try:
            entry["relative"] = os.path.relpath(absolute, base)
        except ValueError:  # different drives on Windows
            pass
    return entry


def _resolve(entry: Any, base: Path | None) -> str:
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        raise SessionError(f"bad path entry {entry!r}")
    path = str(entry.get("path", ""))
    relative = entry.get("relative")
    if path and not Path(path).exists() and relative and base is not None:
        candidate = (base / relative).resolve()
        if candidate.exists():
            return str(candidate)
    return path


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True
