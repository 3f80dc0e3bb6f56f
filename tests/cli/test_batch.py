"""``medsr batch`` (issue #17): many studies on a Dask cluster, resumable, with a report."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.cli.main import main
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.writers import read_nifti_provenance
from medsr_viewer.models.batch import BatchError, BatchItem, plan_studies, process_study

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_zoo import BicubicUp, sr_card, trust_folder_for_tests

from medsr_viewer.models.archive import save_torchscript


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch-zoo")
    trust_folder_for_tests(folder)  # the workers inherit the environment
    path = folder / "bicubic-x2.pt"
    save_torchscript(BicubicUp(2), sr_card("bicubic-x2", 2), path)
    return path


@pytest.fixture
def studies(tmp_path: Path) -> Path:
    folder = tmp_path / "studies"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        data = rng.random((24, 20, 3)).astype(np.float32) * 100
        nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 3.0, 1.0])), folder / f"s{k}.nii.gz")
    (folder / "broken.nii.gz").write_bytes(b"not a nifti")
    return folder


def report(out: Path) -> list[dict[str, str]]:
    with (out / "batch_report.csv").open() as f:
        return list(csv.DictReader(f))


def test_batch_on_a_local_cluster_is_resumable_and_reports_failures(
    model: Path, studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["batch", str(studies), "--task", "sr", "--model", str(model), "--out",
                 str(out), "--workers", "2", "--quiet"]) == 1  # the broken study failed
    rows = {Path(r["study"]).name: r for r in report(out)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "broken.nii.gz": "failed", "s0.nii.gz": "done", "s1.nii.gz": "done",
        "s2.nii.gz": "done"}
    assert "broken.nii.gz" in rows["broken.nii.gz"]["error"]
    result = load_volume(out / "s0.nii.gz")
    assert result.shape == (3, 40, 48)  # x2 in plane
    assert read_nifti_provenance(out / "s0.nii.gz")["model"] == "bicubic-x2"
    assert "3 done, 0 skipped, 1 failed" in capsys.readouterr().out
    # Again: the outputs with the same model are skipped.
    assert main(["batch", str(studies), "--task", "sr", "--model", str(model), "--out",
                 str(out), "--workers", "1", "--quiet"]) == 1
    assert [r["status"] for r in report(out)].count("skipped") == 3


def test_one_model_load_per_worker_and_plans(model: Path, studies: Path, tmp_path: Path
                                             ) -> None:
    from medsr_viewer.models import batch

    batch._MODELS.clear()
    items = plan_studies([studies], tmp_path / "o")
    assert [Path(i.study).name for i in items] == ["broken.nii.gz", "s0.nii.gz", "s1.nii.gz",
                                                   "s2.nii.gz"]
    rows = [process_study(i, "sr", str(model), "cpu") for i in items[1:]]
    assert [r.status for r in rows] == ["done"] * 3 and batch.models_loaded() == 1
    manifest = tmp_path / "m.csv"  # relative inputs are the manifest's folder's
    manifest.write_text("input,output\nstudies/s1.nii.gz,\nstudies/s2.nii.gz,o/two.nii.gz\n",
                        encoding="utf-8")
    planned = plan_studies([manifest], tmp_path / "o")
    assert [Path(i.study) for i in planned] == [studies / "s1.nii.gz", studies / "s2.nii.gz"]
    assert [Path(i.output).name for i in planned] == ["s1.nii.gz", "two.nii.gz"]
    with pytest.raises(BatchError, match="needs a column 'input'"):
        bad = tmp_path / "bad.csv"
        bad.write_text("path\nx\n", encoding="utf-8")
        plan_studies([bad], tmp_path / "o")
    with pytest.raises(BatchError, match="not found"):
        plan_studies([tmp_path / "missing"], tmp_path / "o")
    assert process_study(BatchItem(str(studies / "s0.nii.gz"), str(tmp_path / "c.nii.gz")),
                         "convert", None).status == "done"


@pytest.fixture
def scheduler() -> Iterator[str]:
    """A Dask scheduler and one worker started as separate processes, as on a cluster."""
    port_file = Path(f"/tmp/medsr-sched-{time.monotonic_ns()}.json")
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                              "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(port_file)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        import json

        address = json.loads(port_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                   address, "--nthreads", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield address
    finally:
        for process in (worker, sched):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)
        port_file.unlink(missing_ok=True)


def test_batch_against_a_separately_started_scheduler(
    model: Path, studies: Path, tmp_path: Path, scheduler: str
) -> None:
    out = tmp_path / "out"
    (studies / "broken.nii.gz").unlink()
    assert main(["batch", str(studies / "s0.nii.gz"), str(studies / "s2.nii.gz"), "--task",
                 "sr", "--model", str(model), "--out", str(out), "--scheduler", scheduler,
                 "--quiet"]) == 0
    assert [r["status"] for r in report(out)] == ["done", "done"]
    assert (out / "s2.nii.gz").is_file()
