"""Instance segmentation in the viewer: colours, the object table, click to select, mAP."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import open_and_wait, view_point
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from scipy import ndimage

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.labels import LabelMap
from medsr_viewer.core.labels.instances import instance_table
from medsr_viewer.core.labels.layer import load_label_file
from medsr_viewer.core.metrics.instances import connected_instances, instance_metrics
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.models.registry import bundled_models_dir, load_checked
from medsr_viewer.models.volume_processing import VolumeProcessor

#: The bundled instance model (``MEDSR_TEST_INSTANCE_MODEL`` may name another file).
MODEL = Path(os.environ.get("MEDSR_TEST_INSTANCE_MODEL",
                            bundled_models_dir() / "seg-em-cells.safetensors"))
#: A crop of held-out ISBI image 21 (rows, cols).
BOX = (slice(128, 320), slice(160, 352))


@pytest.fixture(scope="module")
def em_crop(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """The crop as a PNG study and its reference cells (components of label 255)."""
    folder = data_dir / "isbi2012_em"
    image = np.asarray(Image.open(folder / "images" / "21.png"))[BOX]
    truth = np.asarray(Image.open(folder / "labels" / "21.png"))[BOX]
    path = tmp_path_factory.mktemp("em") / "em21_crop.png"
    Image.fromarray(image).save(path)
    return path, connected_instances(truth == 255)


def _run_model(qtbot: QtBot, window: MainWindow, path: Path) -> object:
    open_and_wait(qtbot, window, [path])
    dock = window.label_dock
    dock.toggleViewAction().trigger()
    assert dock.runner.add_model_path(MODEL) == ""
    with qtbot.waitSignal(dock.runner.finished, timeout=60000) as finished:
        qtbot.mouseClick(dock.segment_slice_button, Qt.MouseButton.LeftButton)
    return finished.args[0]


@pytest.mark.skipif(not MODEL.is_file(), reason="instance model not built")
def test_instances_coloured_listed_and_selected_by_click(
        qtbot: QtBot, main_window: MainWindow, em_crop: tuple[Path, np.ndarray]) -> None:
    path, truth = em_crop
    layer = _run_model(qtbot, main_window, path)
    volume = load_volume(path)
    expected = VolumeProcessor(load_checked(MODEL), volume).run_slice(0, 0)
    assert layer.instances and layer.labels.dtype == np.uint32  # type: ignore[attr-defined]
    ids = np.asarray(layer.labels[0])  # type: ignore[attr-defined]
    np.testing.assert_array_equal(ids, expected)
    n = int(ids.max())
    assert n > 10 and set(np.unique(ids[ids > 0])) == set(range(1, n + 1))

    # Distinct colours per object, background transparent.
    rgba = np.asarray(main_window.label_overlay.items[Orientation.AXIAL].image)
    assert np.all(rgba[ids == 0][:, 3] == 0)
    colours = {tuple(rgba[ids == v][0, :3]) for v in range(1, min(n, 12) + 1)}
    assert len(colours) == min(n, 12)

    # The metrics dock shows the objects of the slice: count, area px / mm², mean.
    dock = main_window.metrics_dock
    panel = dock.instances
    qtbot.waitUntil(lambda: dock.isVisible() and panel.isVisible(), timeout=5000)
    assert panel.table.rowCount() == n
    assert f"{n} objects" in panel.summary.text()
    image = np.asarray(Image.open(path), dtype=np.float64)
    area = np.bincount(ids.ravel())
    means = ndimage.mean(image, ids, index=np.arange(1, n + 1))
    for row in (0, n // 2, n - 1):
        value = int(panel.table.item(row, 0).text())
        assert int(panel.table.item(row, 1).text()) == area[value]
        assert float(panel.table.item(row, 2).text()) == pytest.approx(area[value], abs=0.01)
        assert float(panel.table.item(row, 3).text()) == pytest.approx(means[value - 1], abs=0.06)

    # Click inside the largest object on the pane: it is selected, outlined and its row chosen.
    target = int(np.argmax(area[1:])) + 1
    inside = ndimage.distance_transform_edt(ids == target)
    row, col = np.unravel_index(int(np.argmax(inside)), ids.shape)
    view = main_window.viewer.views[Orientation.AXIAL]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view_point(view, float(row), float(col)))
    qtbot.waitUntil(lambda: panel.selected == target, timeout=3000)
    chosen = panel.table.selectionModel().selectedRows()
    assert len(chosen) == 1 and panel.table.item(chosen[0].row(), 0).text() == str(target)
    rgba = np.asarray(main_window.label_overlay.items[Orientation.AXIAL].image)
    edge = (ids == target) & ~ndimage.binary_erosion(ids == target)
    assert np.all(rgba[edge] == (255, 255, 255, 255))
    # Selecting another row moves the highlight.
    other = 0 if panel.rows[0].value != target else 1
    panel.table.selectRow(other)
    assert panel.selected == panel.rows[other].value

    # Layer overlap: against the reference cells as an instance layer, mAP and AP50 shown.
    study = main_window.viewer.volume
    assert study is not None
    main_window.label_overlay.add_layer(
        LabelMap(Volume(truth[None].astype(np.uint32), study.affine.copy(), modality="SEG"),
                 instance_table(truth, "cell"), "reference cells"),
        "reference cells", instances=True)
    comparison = dock.layer_comparison
    comparison.reference_combo.setCurrentIndex(1)
    comparison.test_combo.setCurrentIndex(0)
    assert comparison.instances_check.isChecked() and not comparison.label_combo.isEnabled()
    qtbot.mouseClick(comparison.compare_button, Qt.MouseButton.LeftButton)
    scores = instance_metrics(truth, ids)
    text = comparison.result.text()
    assert f"mAP {scores.dsb_map:.3f}" in text and f"AP50 {scores.ap50:.3f}" in text
    assert comparison.rows[0].metrics["dsb_map"] == pytest.approx(scores.dsb_map)
    assert not main_window.error_banner.isVisible()


@pytest.mark.skipif(not MODEL.is_file(), reason="instance model not built")
def test_instance_layers_survive_a_session_and_instance_files_open_as_instances(
        qtbot: QtBot, main_window: MainWindow, em_crop: tuple[Path, np.ndarray],
        tmp_path: Path) -> None:
    path, _truth = em_crop
    layer = _run_model(qtbot, main_window, path)
    ids = np.asarray(layer.labels[0]).copy()  # type: ignore[attr-defined]
    session = main_window.session.save(tmp_path / "cells.medsr-session.json")
    assert session is not None
    main_window.label_overlay.remove_layer(0)
    assert not main_window.label_overlay.layers
    with qtbot.waitSignal(main_window.session.restored, timeout=30000):
        assert main_window.session.open(session)
    (restored,) = main_window.label_overlay.layers
    assert restored.instances and restored.name == layer.name  # type: ignore[attr-defined]
    np.testing.assert_array_equal(restored.labels[0], ids)
    panel = main_window.metrics_dock.instances
    qtbot.waitUntil(lambda: panel.table.rowCount() == int(ids.max()), timeout=5000)

    # A file that `medsr segment` wrote with the instance model opens as an instance layer,
    # its objects named after the card's object name.
    from medsr_viewer.cli import main as cli_main

    out = tmp_path / "cells.nii.gz"
    assert cli_main.main(["segment", str(path), str(out), "--model", str(MODEL), "--quiet"]) == 0
    main_window.label_overlay.remove_layer(0)
    opened = main_window.label_overlay.add_layer(load_label_file(out))
    assert opened.instances
    np.testing.assert_array_equal(opened.labels[0], ids)
    assert opened.table.name(int(ids.max())) == f"cell {int(ids.max())}"
    qtbot.waitUntil(lambda: panel.table.rowCount() == int(ids.max()), timeout=5000)
