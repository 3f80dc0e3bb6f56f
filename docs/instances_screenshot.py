"""Make docs/instances.png: seg-em-cells' instance overlay on a held-out ISBI image.

The viewer opens ISBI image 22 (held out), runs the bundled ``seg-em-cells`` on the slice
(Segment Slice), selects one cell by clicking it (outline highlighted, its row in the metrics
dock's object table) and compares the layer against the reference cells (the connected
components of label 255, added as an instance layer) in the layer-overlap panel. Run from the
repository root (offscreen, with a private config folder)::

    MEDSR_DATA=../shared/data python docs/instances_screenshot.py [--image 22] [--model PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["MEDSR_CONFIG_DIR"] = tempfile.mkdtemp(prefix="medsr-shot-")


def main() -> int:
    """Make the screenshot; prints what it shows."""
    data = Path(os.environ.get("MEDSR_DATA", "../shared/data"))
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="22")
    parser.add_argument("--model", type=Path, default=Path("resources/models/seg-em-cells.safetensors"))
    parser.add_argument("--out", type=Path, default=Path("docs/instances.png"))
    args = parser.parse_args()

    import numpy as np
    from PIL import Image
    from scipy import ndimage

    from medsr_viewer.core.geometry import Orientation
    from medsr_viewer.core.labels import LabelMap
    from medsr_viewer.core.labels.instances import instance_table
    from medsr_viewer.core.metrics.instances import connected_instances
    from medsr_viewer.core.volume import Volume
    from medsr_viewer.gui.export.screenshot import screenshot_window, settle, wait_until

    with screenshot_window((1400, 900)) as (app, window):
        em = data / "isbi2012_em"
        window.open_paths([em / "images" / f"{args.image}.png"])
        wait_until(app, lambda: window.view_model.display is not None)
        dock = window.label_dock
        dock.show()
        runner = dock.runner
        error = runner.add_model_path(args.model)
        if error:
            raise SystemExit(error)
        layers: list[object] = []
        runner.finished.connect(layers.append)
        dock.segment_current_slice()
        wait_until(app, lambda: bool(layers))
        layer = layers[0]
        overlay = window.label_overlay
        study = window.viewer.volume
        truth = connected_instances(np.asarray(Image.open(em / "labels" / f"{args.image}.png")) == 255)
        overlay.add_layer(LabelMap(Volume(truth[None].astype(np.uint32), study.affine.copy(),
                                          modality="SEG"), instance_table(truth, "cell"),
                                   "reference cells"), "reference cells", instances=True)
        overlay.layers[-1].visible = False
        overlay.set_active(0)
        metrics = window.metrics_dock
        comparison = metrics.layer_comparison
        comparison.reference_combo.setCurrentIndex(1)
        comparison.test_combo.setCurrentIndex(0)
        comparison.compare()
        panel = metrics.instances
        ids = np.asarray(layer.labels[0])  # type: ignore[attr-defined]
        areas = np.bincount(ids.ravel())
        medium = [v for v in range(1, len(areas)) if 1500 <= areas[v] <= 6000] or [int(ids.max())]
        target = medium[len(medium) // 2]  # a mid-sized cell, so that its outline shows
        row, col = np.unravel_index(int(np.argmax(ndimage.distance_transform_edt(ids == target))),
                                    ids.shape)
        display = window.viewer.display
        panel.select_at(Orientation.AXIAL, np.asarray(display.display_to_canonical(
            Orientation.AXIAL, int(row), int(col), 0), dtype=float))
        overlay.redraw()
        settle(app, 30)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        print(f"{args.out}: {panel.summary.text()}; selected {panel.selected}; "
              f"{comparison.result.text()}")
    return 0


if __name__ == "__main__":
    from medsr_viewer.core.process_exit import exit_process

    exit_process(main())  # as the viewer ends: a warm-up call may still run (core.process_exit)
