"""Make docs/classification.png: the Series Type panel with the Grad-CAM overlay.

Run from the repository root (offscreen, with a private config folder)::

    MEDSR_DATA=../shared/data python docs/classification_screenshot.py [STUDY] [--slice N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
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

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from medsr_viewer.gui.main_window import MainWindow

    settings = QSettings(os.path.join(os.environ["MEDSR_CONFIG_DIR"], "s.ini"),
                         QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 820)
    window.show()

    def wait(condition, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the viewer did not get there in time")
            app.processEvents()
            time.sleep(0.02)

    window.open_paths([args.study])
    wait(lambda: window.view_model.display is not None)
    from medsr_viewer.core.geometry import Orientation

    window.set_orientation(Orientation(args.plane))
    action = window.studies.classification
    action.set_saliency(True)
    wait(lambda: action.result is not None)
    if args.slice is not None:
        window.view_model.set_slice(args.slice, action.result.orientation)
    orientation = action.result.orientation
    view = window.viewer.views[orientation]
    wait(lambda: orientation in action.saliency and action.items[orientation].isVisible())
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(f"{args.out}: {action.dock.volume_text}; {action.dock.slice_text}; "
          f"slice {view.slice_index + 1}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
