"""The bundled instance model (seg-em-cells) keeps its card's promises: split, scores, output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.models.archive import load_model
from medsr_viewer.models.evaluation.instances import (
    evaluate_instances,
    predict_probabilities,
    reference_instances,
)
from medsr_viewer.models.instance_output import instance_params, instances_from_output
from medsr_viewer.models.registry import bundled_models_dir
from medsr_viewer.models.study_volumes import load_image_pairs
from medsr_viewer.models.training.patches import percentile_bounds

MODEL = bundled_models_dir() / "seg-em-cells.safetensors"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="seg-em-cells not bundled")


def _pairs(data_dir: Path, names: list[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    em = data_dir / "isbi2012_em"
    pairs = [p for p in load_image_pairs(em / "images", em / "labels") if p[0] in set(names)]
    assert sorted(p[0] for p in pairs) == sorted(names)
    return pairs


def test_split_keeps_held_out_images_unseen() -> None:
    card = load_model(MODEL).card
    assert card.task == "segment_instances"
    train = set(card.training["train_images"])
    val = set(card.training["validation_images"])
    held = set(card.training["held_out_images"])
    assert held == {"20", "21", "22", "23"}  # seg-em-membrane's held-out images
    assert not train & held and not val & held and not train & val
    membrane = load_model(bundled_models_dir() / "seg-em-membrane.safetensors").card
    assert not set(membrane.training["train_images"]) & held  # the initial weights too
    assert card.instances["method"] in ("watershed", "components")


def test_held_out_scores_are_reproduced(data_dir: Path) -> None:
    loaded = load_model(MODEL)
    card = loaded.card
    object_value = int(card.training.get("object_value", 255))
    probs = [(name, predict_probabilities(loaded.module, image, percentile_bounds(image)),
              reference_instances(label, object_value))
             for name, image, label in _pairs(data_dir, card.training["held_out_images"])]
    got = evaluate_instances(probs, instance_params(card))["overall"]
    stored = card.scores["held_out"]["overall"]
    for key in ("dsb_map", "ap50", "ap75", "rand_error"):
        assert got[key] == pytest.approx(stored[key], abs=2e-3), key
    assert got["vi_split"] == pytest.approx(stored["vi_split"], abs=1e-2)
    assert got["vi_merge"] == pytest.approx(stored["vi_merge"], abs=1e-2)


def test_output_is_an_instance_map(data_dir: Path) -> None:
    loaded = load_model(MODEL)
    _name, image, _label = _pairs(data_dir, ["20"])[0]
    lo, hi = percentile_bounds(image)
    import torch

    x = torch.from_numpy(((image[:200, :300] - lo) / (hi - lo)).astype(np.float32))[None, None]
    with torch.inference_mode():
        ids = instances_from_output(loaded.module(x)[0].numpy(), instance_params(loaded.card))
    assert ids.dtype == np.uint32 and ids.shape == (200, 300)
    n = int(ids.max())
    assert n > 10 and set(np.unique(ids[ids > 0])) == set(range(1, n + 1))
