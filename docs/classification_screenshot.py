"""Make docs/classification.png: the Series Type panel with the Grad-CAM overlay.

Run from the repository root (offscreen, with a private config folder)::

    MEDSR_DATA=../shared/data python docs/classification_screenshot.py [STUDY] [--slice N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["MEDSR_CONFIG_DIR"] = tempfile.mkdtemp(prefix="medsr-shot-")


def main() -> int:
    data = Path(os.environ.get("MEDSR_DATA", "../shared/data"))
    parser = argparse.ArgumentParser()
    parser.add_argument("study", nargs="?", type=Path,
                        default=data / "dicom_qa/series/dcm_qa_decubitus/HFS/3_t1_fl2d_sag")
    parser.add_argument("--slice", type=int, default=None)
    parser.add_argument("--plane", default="sagittal", choices=("axial", "coronal", "sagittal"))
    parser.add_argument("--out", type=Path, default=Path("docs/classification.png"))
    args = parser.parse_args()

    from medsr_viewer.core.geometry import Orientation
    from medsr_viewer.gui.export.screenshot import screenshot_window, settle, wait_until

    with screenshot_window((1400, 820)) as (app, window):
        window.open_paths([args.study])
        wait_until(app, lambda: window.view_model.display is not None)
        window.set_orientation(Orientation(args.plane))
        action = window.studies.classification
        action.set_saliency(True)
        wait_until(app, lambda: action.result is not None)
        if args.slice is not None:
            window.view_model.set_slice(args.slice, action.result.orientation)
        orientation = action.result.orientation
        view = window.viewer.views[orientation]
        wait_until(app, lambda: orientation in action.saliency
                   and action.items[orientation].isVisible())
        settle(app, 20)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        print(f"{args.out}: {action.dock.volume_text}; {action.dock.slice_text}; "
              f"slice {view.slice_index + 1}")
    return 0


if __name__ == "__main__":
    from medsr_viewer.core.process_exit import exit_process

    exit_process(main())  # as the viewer ends: a warm-up call may still run (core.process_exit)
