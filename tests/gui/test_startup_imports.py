"""Torch is imported when a model is first needed, not at start-up (issue #18).

The window, the model picker (cards are JSON in the safetensors header) and the first image
come up without torch (about 1 s to import) and without highdicom; once a study is shown,
the inference worker makes its engine in the background, and the first S runs the model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from gui_helpers import write_nifti_crop
from pytestqt.qtbot import QtBot

from medsr_viewer.gui.workers.inference_worker import InferenceWorker

CHILD = Path(__file__).with_name("startup_child.py")
#: Modules whose import must not load torch (the GUI's start and the model listing).
TORCH_FREE = (
    "medsr_viewer.gui.app",
    "medsr_viewer.gui.main_window",
    "medsr_viewer.models.registry",
    "medsr_viewer.models.archive",
    "medsr_viewer.models.safe_header",
    "medsr_viewer.models.through_plane.apply",
    "medsr_viewer.models.through_plane.adapt",
)


def test_importing_the_gui_and_reading_cards_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in TORCH_FREE)
        + "from medsr_viewer.models.registry import ModelRegistry\n"
        "cards = [e.card for e in ModelRegistry().entries()]\n"
        "assert cards and all(c is not None for c in cards), cards\n"
        "heavy = [m for m in ('torch', 'highdicom') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = dict(os.environ, MEDSR_CONFIG_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_first_image_without_torch_then_first_s_runs_the_model(
    data_dir: Path, tmp_path: Path
) -> None:
    study = write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz",
                             np.s_[50:122, 70:150, 90:96], tmp_path / "t1_crop.nii.gz")
    env = dict(os.environ, MEDSR_CONFIG_DIR=str(tmp_path / "config"),
               QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(CHILD), str(study)], capture_output=True,
                            text=True, env=env, timeout=240, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-2000:]
    report = json.loads(lines[-1].removeprefix("REPORT "))
    assert report["torch_after_import"] is False and report["torch_after_window"] is False
    assert report["torch_at_first_image"] is False, report
    assert report["highdicom_at_first_image"] is False, report
    assert report["models_listed"] >= 1 and report["device_label_before"] == ""
    assert report["warmed_up"] is True and report["torch_after_s"] is True
    assert report["tiles"] >= 1 and report["first_tile_s"] is not None
    assert report["sr_shape"][0] > 0 and report["device_label_after"] == "CPU"


def test_the_worker_makes_its_engine_on_first_use_or_when_warmed_up(qtbot: QtBot) -> None:
    worker = InferenceWorker()
    assert worker.device_type == "" and worker._engine is None  # nothing made yet
    worker.warm_up()
    qtbot.waitUntil(lambda: worker.device_type != "" and not worker.busy, timeout=60000)
    assert worker.engine is worker.engine  # made once
    worker.warm_up()  # nothing more to do
    assert not worker.busy
    assert worker.stop()


def test_warm_up_readies_the_model_for_the_study_and_computes_nothing(
    qtbot: QtBot, zoo: dict[str, Path]
) -> None:
    from medsr_viewer.core.volume import Volume
    from medsr_viewer.models.registry import ModelRegistry
    from medsr_viewer.models.slice_engine import SliceEngine

    engine = SliceEngine(ModelRegistry([("user", zoo["conv-x2"].parent)]), device="cpu")
    worker = InferenceWorker(engine=engine)
    volume = Volume.from_spacing(np.random.default_rng(0).random((3, 90, 70), np.float32))
    worker.warm_up(str(zoo["conv-x2"]), "super_resolution", volume)
    qtbot.waitUntil(lambda: not worker.busy, timeout=60000)
    assert len(engine._models) == 1 and len(engine._processors) == 1  # loaded, fitted
    assert len(engine.cache) == 0  # no result computed
    tiles: list[object] = []
    worker.tileReady.connect(lambda *args: tiles.append(args))
    with qtbot.waitSignal(worker.sliceReady, timeout=60000):
        worker.submit("sr", volume, 1, str(zoo["conv-x2"]), axis=0, task="super_resolution")
    assert tiles and len(engine._processors) == 1  # the warmed processor was used
    # A model that cannot be used fails its warm-up silently; a request reports it.
    worker.warm_up(str(zoo["raises"]), "super_resolution", volume)
    qtbot.waitUntil(lambda: not worker.busy, timeout=60000)
    with qtbot.waitSignal(worker.failed, timeout=60000):
        worker.submit("sr", volume, 1, str(zoo["raises"]), axis=0, task="super_resolution")
    assert worker.stop()
