"""User gestures for GUI tests: open a study, wheel, drag, hover, read the shown image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.slice_view import SliceView


def open_and_wait(
    qtbot: QtBot, window: MainWindow, paths: Sequence[Path], timeout: int = 30000
) -> None:
    """Open ``paths`` as the user would and wait until the study is shown."""
    with qtbot.waitSignal(window.loader.loaded, timeout=timeout):
        window.open_paths(paths)
    qtbot.wait(10)


def view_point(view: SliceView, row: float, col: float) -> QPoint:
    """Viewport pixel of the centre of display pixel ``(row, col)`` of a pane."""
    x, y = view.display_to_view(row, col)
    scene = view.view_box.mapViewToScene(QPointF(x, y))
    return view.mapFromScene(scene)


def wheel(
    view: SliceView,
    notches: int,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Turn the mouse wheel over the middle of a pane (positive: away from the user)."""
    viewport = view.viewport()
    pos = QPointF(viewport.rect().center())
    event = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def drag(
    qtbot: QtBot,
    view: SliceView,
    button: Qt.MouseButton,
    start: QPoint,
    delta: QPoint,
    steps: int = 6,
) -> None:
    """Press ``button`` at ``start``, move by ``delta`` in steps, release."""
    viewport = view.viewport()
    qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms to the previous one
    qtbot.mousePress(viewport, button, pos=start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(viewport, start + QPoint(delta.x() * i // steps, delta.y() * i // steps))
        qtbot.wait(12)
    qtbot.mouseRelease(viewport, button, pos=start + delta)


def hover(qtbot: QtBot, view: SliceView, pos: QPoint) -> None:
    """Move the mouse (no button) to ``pos`` in a pane."""
    qtbot.wait(15)
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.wait(15)


def shown_image(view: SliceView) -> np.ndarray:
    """The pixel array the pane's ImageItem holds."""
    image = view.image_item.image
    assert image is not None
    return np.asarray(image)


def cpu_model_window(qtbot: QtBot, tmp_path: Path, models_dir: Path,
                     size: tuple[int, int] = (1200, 800), show: bool = True) -> MainWindow:
    """A main window whose SR worker runs on the CPU and lists the models in ``models_dir``.

    Settings live in ``tmp_path`` (shared by windows made with the same ``tmp_path``, like
    two runs of the app). Close it with :func:`close_model_window`.
    """
    from PySide6.QtCore import QSettings

    from medsr_viewer.core.notify import Notifier
    from medsr_viewer.gui.workers.inference_worker import InferenceWorker
    from medsr_viewer.models.registry import ModelRegistry
    from medsr_viewer.models.slice_engine import SliceEngine

    engine = SliceEngine(ModelRegistry([("user", tmp_path / "none")]), device="cpu",
                         notifier=Notifier())
    worker = InferenceWorker(engine=engine, notifier=engine.notifier)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, worker=worker, registry=ModelRegistry([("user", models_dir)]))
    qtbot.addWidget(win)
    win.resize(*size)
    if show:
        win.show()
        qtbot.waitExposed(win)
    return win


def close_model_window(win: MainWindow) -> None:
    """Close a window from :func:`cpu_model_window`; its worker thread must have stopped."""
    win.close()
    assert not win.compare.worker.isRunning()


def write_nifti_crop(source: Path, box: tuple[slice, slice, slice], path: Path,
                     dtype: type | None = None) -> Path:
    """Write the ``box`` (stored i, j, k voxels) of the NIfTI ``source`` to ``path``.

    The affine follows the crop (nibabel's slicer), so the crop keeps its place in the world;
    ``dtype`` converts the voxels (``None`` keeps the stored type).
    """
    import nibabel as nib

    crop = nib.load(str(source)).slicer[box]
    nib.save(nib.Nifti1Image(np.asarray(crop.dataobj, dtype), crop.affine), str(path))
    return path


def write_flair_crop(data_dir: Path, out: Path, box: tuple[slice, slice, slice]
                     ) -> tuple[Path, Path]:
    """Crop the real FLAIR and its lesion labels (``labelled/flair_lesion``) identically.

    ``box`` indexes the stored (i, j, k) voxels; both files stay on one grid. Returns
    ``(FLAIR, lesion)`` paths in ``out``.
    """
    folder = data_dir / "labelled" / "flair_lesion"
    return (write_nifti_crop(folder / "FLAIR.nii.gz", box, out / "FLAIR.nii.gz"),
            write_nifti_crop(folder / "lesion.nii.gz", box, out / "lesion.nii.gz"))


def path_drag(qtbot: QtBot, view: SliceView, points: Sequence[QPoint],
              button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    """Press at the first point, move through the others, release at the last."""
    viewport = view.viewport()
    qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms to the previous one
    qtbot.mousePress(viewport, button, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(viewport, point)
        qtbot.wait(12)
    qtbot.mouseRelease(viewport, button, pos=points[-1])


def label_here(label: np.ndarray, roi_mask: np.ndarray, margin_px: float = 5.0) -> np.ndarray:
    """The parts of a 2-D ``label`` mask an ROI is compared with: 8-connected parts reaching
    the ROI mask's bounding box grown by half its size on each side (at least ``margin_px``,
    5 mm on 1 mm pixels), as README's ROI metrics describe it."""
    from scipy import ndimage

    parts, _n = ndimage.label(label, np.ones((3, 3), bool))
    box = []
    for coords, size in zip(np.nonzero(roi_mask), label.shape, strict=True):
        lo, hi = int(coords.min()), int(coords.max()) + 1
        grow = max((hi - lo) / 2, margin_px)
        box.append(slice(max(int(np.floor(lo - grow)), 0), min(int(np.ceil(hi + grow)), size)))
    return np.isin(parts, [v for v in np.unique(parts[tuple(box)]) if v])
