"""A MedSR Viewer run for the start-up test: torch is imported only when a model is needed.

Run as ``python startup_child.py STUDY`` with ``MEDSR_CONFIG_DIR`` and
``QT_QPA_PLATFORM=offscreen`` set. It imports the application, builds the real window, opens
``STUDY`` and records, at the first image, which heavy modules are loaded and how many models
the picker lists (their cards read); then it waits for the background warm-up to make the
model engine, presses S, waits for the first tile and the finished slice, and prints one
``REPORT {json}`` line.
"""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

import medsr_viewer.gui.app as app_module

REPORT = "REPORT "


def main(study: str) -> int:
    """Run the scenario; the report says what happened (exit 0 unless it timed out)."""
    report: dict[str, object] = {"torch_after_import": "torch" in sys.modules}
    app = QApplication([sys.argv[0]])
    window = app_module.create_window([study])
    window.show()
    report["torch_after_window"] = "torch" in sys.modules
    worker = window.compare.worker
    tiles: list[float] = []
    pressed: list[float] = []
    worker.tileReady.connect(lambda *_: tiles.append(time.monotonic()))

    def shown(*_: object) -> None:
        report["torch_at_first_image"] = "torch" in sys.modules
        report["highdicom_at_first_image"] = "highdicom" in sys.modules
        report["models_listed"] = window.compare.model_picker.count()
        report["device_label_before"] = window.compare.device_label.text().strip()
        QTimer.singleShot(50, wait_for_engine)

    def wait_for_engine() -> None:
        if worker.device_type and not worker.busy:  # the warm-up is done, in the background
            report["warmed_up"] = True
            press_s()
        else:
            QTimer.singleShot(50, wait_for_engine)

    def press_s() -> None:
        pressed.append(time.monotonic())
        QTest.keyClick(window, Qt.Key.Key_S)
        QTimer.singleShot(20, wait_for_slice)

    def wait_for_slice() -> None:
        if not window.compare.complete:
            QTimer.singleShot(20, wait_for_slice)
            return
        report["tiles"] = len(tiles)
        report["first_tile_s"] = tiles[0] - pressed[0] if tiles else None
        report["sr_shape"] = list(window.compare.shown_image().shape)
        report["device_label_after"] = window.compare.device_label.text().strip()
        report["torch_after_s"] = "torch" in sys.modules
        window.close()
        app.quit()

    window.loader.loaded.connect(shown)
    window.loader.failed.connect(lambda message: (report.update(failed=message), app.quit()))
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    print(REPORT + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    from medsr_viewer.core.process_exit import exit_process

    exit_process(main(sys.argv[1]))
