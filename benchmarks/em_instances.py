"""Benchmark: instance segmentation of held-out ISBI 2012 images, baselines against seg-em-cells.

Scores on the ISBI images 20-23 (never trained on by ``seg-em-membrane``, ``seg-em-cells`` or
the weights it started from), reference cells = connected components of label 255:

- ``membrane CC``: connected components of ``seg-em-membrane``'s argmax "background" (cell
  interior) class;
- ``membrane CC tuned``: its membrane probability smoothed (Gaussian sigma 1), interior where it
  is below 0.3, components of at least 50 px, grown by 1 px (``skimage expand_labels``);
- ``seg-em-cells``: the bundled instance model with its card's post-processing.

Prints DSB mAP@[.5:.95], AP50, AP75, adapted Rand error and VI split/merge (means over the
images) and the seconds per 512² image. Usage: ``python benchmarks/em_instances.py``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

DATA = Path(os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[1].parent / "shared"
                           / "data"))
HELD_OUT = ("20", "21", "22", "23")
KEYS = ("dsb_map", "ap50", "ap75", "rand_error", "vi_split", "vi_merge")


def main() -> int:
    """Print the table."""
    from scipy import ndimage
    from skimage.segmentation import expand_labels

    from medsr_viewer.core.metrics.instances import connected_instances, instance_metrics
    from medsr_viewer.models.archive import load_model
    from medsr_viewer.models.evaluation.instances import predict_probabilities, reference_instances
    from medsr_viewer.models.instance_output import instance_params, instances_from_output
    from medsr_viewer.models.registry import bundled_models_dir
    from medsr_viewer.models.study_volumes import load_image_pairs
    from medsr_viewer.models.training.patches import percentile_bounds

    em = DATA / "isbi2012_em"
    pairs = [p for p in load_image_pairs(em / "images", em / "labels") if p[0] in HELD_OUT]
    membrane = load_model(bundled_models_dir() / "seg-em-membrane.safetensors").module

    def membrane_cc(image: np.ndarray) -> np.ndarray:
        probs = predict_probabilities(membrane, image, percentile_bounds(image))
        return connected_instances(probs.argmax(0) == 0)

    def membrane_tuned(image: np.ndarray) -> np.ndarray:
        probs = predict_probabilities(membrane, image, percentile_bounds(image))
        ids = connected_instances(ndimage.gaussian_filter(probs[1], 1.0) < 0.3)
        small = np.bincount(ids.ravel()) < 50
        small[0] = False
        ids[small[ids]] = 0
        return np.asarray(expand_labels(ids, 1))

    methods = {"membrane CC": membrane_cc, "membrane CC tuned": membrane_tuned}
    cells_path = bundled_models_dir() / "seg-em-cells.safetensors"
    if cells_path.is_file():
        cells = load_model(cells_path)
        params = instance_params(cells.card)

        def seg_em_cells(image: np.ndarray) -> np.ndarray:
            import torch

            lo, hi = percentile_bounds(image)
            x = torch.from_numpy(((image - lo) / (hi - lo)).astype(np.float32))[None, None]
            with torch.inference_mode():
                return instances_from_output(cells.module(x)[0].numpy(), params)

        methods["seg-em-cells"] = seg_em_cells
    print(f"{'method':<20}" + "".join(f"{k:>11}" for k in KEYS) + f"{'s/image':>9}")
    for name, method in methods.items():
        scores, seconds = [], 0.0
        for _n, image, label in pairs:
            start = time.perf_counter()
            ids = method(image)
            seconds += time.perf_counter() - start
            scores.append(instance_metrics(reference_instances(label, 255), ids))
        row = "".join(f"{np.mean([getattr(s, k) for s in scores]):>11.3f}" for k in KEYS)
        print(f"{name:<20}{row}{seconds / len(pairs):>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
