"""medsr train classify's task: a short run on synthetic series exports a scored, honest card
and resumes from its checkpoint."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from medsr_viewer.models.archive import load_model
from medsr_viewer.models.training.classify_task import ClassifyTrainSpec, train_classifier
from medsr_viewer.models.training.schedule import CardText, TrainSchedule
from medsr_viewer.models.training.series_type_data import LabelledSeries

CLASSES = ("bright", "dark")


def _series(root: Path, name: str, level: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    voxels = rng.uniform(0, 0.1, (32, 32, 28)).astype(np.float32)
    voxels[6:26, 6:26, 4:24] += level * rng.uniform(0.8, 1.0, (20, 20, 20))
    nib.save(nib.Nifti1Image(voxels, np.eye(4)), str(root / f"{name}.nii.gz"))


def test_short_run_exports_a_scored_card_and_resumes(tmp_path):
    entries = []
    for i, (label, level) in enumerate([("bright", 1.0), ("bright", 0.9), ("dark", 0.3),
                                        ("dark", 0.25)]):
        _series(tmp_path, f"s{i}", level, i)
        entries.append(LabelledSeries(f"s{i}.nii.gz", label, f"subject{i}",
                                      "train" if i % 2 == 0 else "val", "synthetic"))
    train = [e for e in entries if e.split == "train"]
    val = [e for e in entries if e.split == "val"]
    spec = ClassifyTrainSpec(name="tiny", classes=CLASSES, arch_kwargs={"base": 4},
                             input_size=32,
                             schedule=TrainSchedule(steps=6, batch_size=4, val_every=3,
                                                    checkpoint_every=3, stop_at=3),
                             card_text=CardText(command="medsr train classify x"))
    out, ckpt = tmp_path / "tiny.safetensors", tmp_path / "tiny.ckpt"
    lines: list[str] = []
    train_classifier(spec, train, val, tmp_path, out, ckpt, log=lines.append)
    assert ckpt.is_file() and not out.exists()  # stopped at step 3
    spec.schedule.stop_at = None
    spec.card_text.command = "medsr train classify x --resume tiny.ckpt"
    card = train_classifier(spec, train, val, tmp_path, out, ckpt, resume=ckpt,
                            log=lines.append)
    assert any("resumed" in line for line in lines)
    loaded = load_model(out)
    assert loaded.card == card and card.task == "classify" and card.class_names == CLASSES
    training = card.training
    assert training["command"].count("medsr train classify") == 2
    assert training["exported_step"] == 6 and len(training["validation_curve"]) == 2
    assert training["subjects"]["bright"] == {"train_series": 1, "train_subjects": 1,
                                              "held_out_series": 1, "held_out_subjects": 1}
    held = card.scores["held_out"]
    assert held["slices"]["samples"] > 0 and set(held["series_recall"]) == set(CLASSES)
    assert set(card.scores["per_class_recall"]) == set(CLASSES)
