"""``medsr eval segment`` for ``segment_instances`` models: DSB mAP, AP50/AP75, Rand and VI.

Each image's reference objects are the connected components of the label value the card
names (``training.object_value``, else ``--object-value``, default 255 = ISBI cell interior);
the model's output goes through the card's post-processing (its ``instances`` block), as in
``medsr segment``, and the two instance maps are compared
(:mod:`medsr_viewer.models.evaluation.instances`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from medsr_viewer.cli.main import CliError

#: Columns of the printed table: (score key, heading, digits).
COLUMNS = (("dsb_map", "mAP", 4), ("ap50", "AP50", 4), ("ap75", "AP75", 4),
           ("rand_error", "Rand", 4), ("vi_split", "VIsplit", 3), ("vi_merge", "VImerge", 3),
           ("n_ref", "ref", 0), ("n_pred", "pred", 0))


def evaluate_instance_model(loaded: Any, pairs: list[tuple[str, np.ndarray, np.ndarray]],
                            object_value: int, bounds: Any) -> dict[str, Any]:
    """Per-image and overall scores of an instance model on image/label pairs."""
    from medsr_viewer.models.evaluation.instances import (
        evaluate_instances,
        predict_probabilities,
        reference_instances,
    )
    from medsr_viewer.models.instance_output import instance_params

    params = instance_params(loaded.card)
    probs = [(name, predict_probabilities(loaded.module, image, bounds(image)),
              reference_instances(label, object_value)) for name, image, label in pairs]
    return evaluate_instances(probs, params)


def format_table(scores: dict[str, Any]) -> str:
    """The scores as a fixed-width table, one row per image and ``overall``."""
    lines = [f"{'image':<12}" + "".join(f"{h:>9}" for _k, h, _d in COLUMNS)]
    for name, row in scores.items():
        cells = "".join(f"{row[k]:>9.{d}f}" if d else f"{int(row[k]):>9d}" for k, _h, d in COLUMNS)
        lines.append(f"{name:<12}{cells}")
    return "\n".join(lines)


def run_instances(args: argparse.Namespace, loaded: Any,
                  pairs: list[tuple[str, np.ndarray, np.ndarray]], bounds: Any) -> int:
    """Score and print (``--json``: one JSON object)."""
    card = loaded.card
    value = args.object_value if args.object_value is not None else \
        int(card.training.get("object_value", 255))
    try:
        scores = evaluate_instance_model(loaded, pairs, value, bounds)
    except ValueError as exc:
        raise CliError(f"{loaded.path}: {exc}") from exc
    if args.json:
        print(json.dumps({"model": card.name, "object_value": value,
                          "instances": card.instances, "scores": scores}, indent=2))
        return 0
    print(f"{card.name}: instances = connected components of label {value} "
          f"(DSB mAP@[.5:.95], COCO AP50/AP75, adapted Rand error, VI split/merge)")
    print(format_table(scores))
    return 0
