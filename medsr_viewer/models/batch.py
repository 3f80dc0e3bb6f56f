"""Batch processing of many studies, one study per task on a Dask cluster.

:func:`plan_studies` turns input paths (study files, DICOM folders, folders of studies, CSV
manifests) into :class:`BatchItem` s with their output paths; :func:`process_study` is the
task run on a Dask worker for one of them: it loads the model once per worker process (kept in
:data:`_MODELS`), skips a study whose output exists with the same model (resumable), and
returns a :class:`BatchRow` whatever happens, so one failing study never stops the others.
The CLI (``medsr batch``) submits the tasks to a ``LocalCluster`` or a given scheduler.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from medsr_viewer.core.atomic import write_text_atomic
from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.writers import read_nifti_provenance, save_volume

TASKS = ("sr", "enhance", "segment", "convert")
#: The model task of each batch task.
MODEL_TASKS = {"sr": "super_resolution", "enhance": "enhance", "segment": "segment"}
REPORT_NAME = "batch_report.csv"
#: File endings that are studies on their own (a DICOM folder is one too).
STUDY_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".mgh", ".dcm", ".png")
#: Models loaded in this worker process: (model, device) -> loaded model.
_MODELS: dict[tuple[str, str], Any] = {}


class BatchError(ValueError):
    """The batch's inputs cannot be planned (message names the path and why)."""


@dataclass(frozen=True)
class BatchItem:
    """One study to process and where its output goes."""

    study: str
    output: str


@dataclass(frozen=True)
class BatchRow:
    """One row of the report: what happened to one study."""

    study: str
    status: str  # "done", "skipped" (output up to date) or "failed"
    seconds: float
    output: str
    error: str = ""
    worker: str = ""


def _is_study_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and any(name.endswith(s) for s in STUDY_SUFFIXES)


def _is_dicom_folder(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() and p.suffix.lower() in ("", ".dcm", ".ima")
                                 for p in path.iterdir())


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", *STUDY_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def plan_studies(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                 suffix: str = ".nii.gz") -> list[BatchItem]:
    """The studies named by ``inputs`` and their outputs in ``out_dir`` (``<name><suffix>``).

    Each input is a study file, a DICOM folder (files directly in it), a folder of such
    studies, or a ``.csv`` manifest with a column ``input`` (and optionally ``output``; both
    relative to the manifest's folder unless absolute).
    """
    out = Path(out_dir)
    items: list[BatchItem] = []

    def add(study: Path, output: str | None = None) -> None:
        target = Path(output) if output else out / f"{_stem(study)}{suffix}"
        items.append(BatchItem(str(study), str(target)))

    for raw in inputs:
        path = Path(raw)
        if path.suffix.lower() == ".csv":
            try:
                rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise BatchError(f"{path}: cannot read the manifest ({exc})") from exc
            if not rows or "input" not in rows[0]:
                raise BatchError(f"{path}: a manifest needs a column 'input'")
            for row in rows:
                study, output = Path(row["input"]), row.get("output") or None
                if not study.is_absolute():  # relative to the manifest's folder
                    study = path.parent / study
                if output and not Path(output).is_absolute():
                    output = str(path.parent / output)
                add(study, output)
        elif _is_study_file(path) or _is_dicom_folder(path):
            add(path)
        elif path.is_dir():
            found = [p for p in sorted(path.iterdir()) if _is_study_file(p) or _is_dicom_folder(p)]
            if not found:
                raise BatchError(f"{path}: holds no studies (NIfTI/MGZ/PNG files or DICOM "
                                 "folders)")
            for study in found:
                add(study)
        else:
            raise BatchError(f"{path}: not found, or not a study, folder or .csv manifest")
    outputs = [i.output for i in items]
    duplicates = {o for o in outputs if outputs.count(o) > 1}
    if duplicates:
        raise BatchError(f"two studies would write the same output: {min(duplicates)}")
    return items


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


def _device(requested: str) -> str:
    """``requested``, or on a machine with GPUs one per worker (by the worker's number)."""
    if requested != "auto":
        return requested
    import torch

    count = torch.cuda.device_count()
    if count == 0:
        return "cpu"
    name = _worker_name()
    index = int(name) if name.isdigit() else abs(hash(name))
    return f"cuda:{index % count}"


def loaded_model(model: str, task: str, device: str) -> Any:
    """The model, loaded once per worker process and kept."""
    key = (model, device)
    if key not in _MODELS:
        from medsr_viewer.models.device import select_device
        from medsr_viewer.models.registry import ModelRegistry

        _MODELS[key] = ModelRegistry().load(model, task=task, device=select_device(device))
    return _MODELS[key]


def models_loaded() -> int:
    """How many models this process has loaded (for tests and the benchmark)."""
    return len(_MODELS)


def _up_to_date(output: Path, sha256: str, study: str) -> bool:
    if not output.is_file():
        return False
    try:
        provenance = read_nifti_provenance(output)
    except (OSError, ValueError):
        return False
    return provenance.get("sha256") == sha256 and provenance.get("batch_input") == study


def process_study(item: BatchItem, task: str, model: str | None, device: str = "auto",
                  axis: int | None = None, torch_threads: int | None = None) -> BatchRow:
    """Run ``task`` on one study (a Dask task); never raises: failures are a row.

    ``torch_threads`` sets the worker's torch threads (Dask starts its workers with one
    OpenMP thread each, which leaves cores idle when there are fewer workers than cores).
    """
    start = time.perf_counter()
    worker = _worker_name()
    if torch_threads and task != "convert":
        import torch

        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)

    def row(status: str, error: str = "") -> BatchRow:
        return BatchRow(item.study, status, round(time.perf_counter() - start, 3), item.output,
                        error, worker)

    try:
        output = Path(item.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        if task == "convert":
            if output.is_file():
                return row("skipped")
            volume = load_volume(item.study)
            save_volume(volume, output, description=volume.name[:80], input_path=item.study)
            return row("done")
        if model is None:
            return row("failed", f"--model is needed for {task}")
        device_name = _device(device)
        loaded = loaded_model(model, MODEL_TASKS[task], device_name)
        if _up_to_date(output, str(loaded.card.sha256), item.study):
            return row("skipped")
        from medsr_viewer.models.device import select_device
        from medsr_viewer.models.volume_processing import VolumeProcessor, default_axis

        volume = load_volume(item.study)
        processor = VolumeProcessor(loaded, volume, device=select_device(device_name))
        result = run_to_end(processor.iter_volume(default_axis(volume) if axis is None
                                                  else axis))
        card = loaded.card
        provenance = {**result.metadata["provenance"], "batch_input": item.study}
        save_volume(result, output, description=f"{card.name} v{card.version} sha256:"
                    f"{card.sha256}", extra=provenance, force=True, input_path=item.study)
        return row("done")
    except LoadError as exc:
        return row("failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - one study's failure is its row, not the batch's
        return row("failed", f"{type(exc).__name__}: {exc}")


def report_csv(rows: Iterable[BatchRow]) -> str:
    """The report as CSV text (one row per study, in the order given)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [f.name for f in fields(BatchRow)])
    writer.writeheader()
    for r in rows:
        writer.writerow(asdict(r))
    return buffer.getvalue()


def write_report(rows: Iterable[BatchRow], out_dir: str | os.PathLike[str]) -> Path:
    """Write :data:`REPORT_NAME` in ``out_dir`` atomically."""
    path = Path(out_dir) / REPORT_NAME
    write_text_atomic(path, report_csv(rows))
    return path
