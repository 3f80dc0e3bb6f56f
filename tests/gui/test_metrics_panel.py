"""ROI metrics panel and exports against independent computations (issue #4).

A real FLAIR with its real lesion labels (cropped to a few slices) is opened as a user would;
an ROI is put on the displayed slice; the panel's Dice/IoU/Hausdorff and statistics are
checked against plain NumPy/SciPy on the displayed pixels, then on the SR grid, and the CSV
and JSON exports must hold the same numbers as the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import (
    close_model_window,
    cpu_model_window,
    label_here,
    open_and_wait,
    write_flair_crop,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from scipy.ndimage import binary_erosion
from scipy.spatial.distance import directed_hausdorff

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.metrics.export import read_metrics_csv, read_metrics_json
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.roi import EllipseRoi, load_rois
from medsr_viewer.gui.docks.metrics_panel import COLUMNS, format_cell
from medsr_viewer.gui.main_window import MainWindow

AXIAL = Orientation.AXIAL
LESION = 2


@pytest.fixture(scope="module")
def flair_pair(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 6-slice crop of the real FLAIR and its lesion label map (same grid)."""
    labels = nib.load(str(data_dir / "labelled" / "flair_lesion" / "lesion.nii.gz"))
    k = int(np.argmax((np.asarray(labels.dataobj) == LESION).sum((0, 1))))
    box = (slice(20, 104), slice(30, 130), slice(k - 3, k + 3))
    return write_flair_crop(data_dir, tmp_path_factory.mktemp("flair"), box)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    win = cpu_model_window(qtbot, tmp_path, zoo["bicubic-x2"].parent)
    yield win
    close_model_window(win)


def lesion_roi(win: MainWindow) -> tuple[EllipseRoi, np.ndarray, np.ndarray]:
    """An ellipse around the lesion on the shown axial slice; also the slice's labels/image."""
    display = win.viewer.display
    assert display is not None and win.active_label_map() is not None
    index = win.viewer.slice_index(AXIAL)
    labels = DisplayVolume(win.active_label_map().volume).slice_array(AXIAL, index)
    rows, cols = np.nonzero(labels == LESION)
    row_mm, col_mm = display.pixel_spacing(AXIAL)
    roi = EllipseRoi(display_plane(display, AXIAL, index), cu=cols.mean() * col_mm,
                     cv=rows.mean() * row_mm, ru=7.0, rv=5.0, name="lesion box")
    return roi, np.asarray(labels), np.asarray(display.slice_array(AXIAL, index))


def ellipse_mask(roi: EllipseRoi, shape: tuple[int, int], spacing: tuple[float, float],
                 scale: int = 1) -> np.ndarray:
    """Pixel-centre-in-ellipse mask computed directly in display pixels (no world maths)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(float)
    u = ((cols + 0.5) / scale - 0.5) * spacing[1]
    v = ((rows + 0.5) / scale - 0.5) * spacing[0]
    return ((u - roi.cu) / roi.ru) ** 2 + ((v - roi.cv) / roi.rv) ** 2 <= 1


def surface_points(mask: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    edge = mask & ~binary_erosion(mask)
    return np.argwhere(edge) * np.asarray(spacing)


def open_flair_with_labels(qtbot: QtBot, win: MainWindow, pair: tuple[Path, Path]) -> None:
    open_and_wait(qtbot, win, [pair[0]])
    assert win.open_label_map(pair[1])
    display = win.viewer.display
    assert display is not None
    labels = DisplayVolume(win.active_label_map().volume).voxels  # canonical (z, y, x)
    best = int(np.argmax((labels == LESION).sum((1, 2))))
    win.viewer.set_slice(best, AXIAL)


def table_rows(win: MainWindow) -> list[list[str]]:
    table = win.metrics_panel.table
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_panel_matches_independent_overlap_and_stats_and_follows_edits(
    qtbot: QtBot, window: MainWindow, flair_pair: tuple[Path, Path]
) -> None:
    open_flair_with_labels(qtbot, window, flair_pair)
    roi, labels, image = lesion_roi(window)
    window.roi_editor.add(roi)
    qtbot.waitUntil(lambda: window.metrics_panel.table.rowCount() == 1, timeout=3000)

    spacing = window.viewer.display.pixel_spacing(AXIAL)
    mask = ellipse_mask(roi, labels.shape, spacing)
    assert spacing == pytest.approx((1.0, 1.0), abs=1e-6)  # label_here's margin is in pixels
    ref = label_here(labels == LESION, mask)  # the lesion here, not the slice's others
    inter = int((mask & ref).sum())
    dice = 2 * inter / (mask.sum() + ref.sum())
    iou = inter / int((mask | ref).sum())
    hd_max = max(directed_hausdorff(surface_points(ref, spacing),
                                    surface_points(mask, spacing))[0],
                 directed_hausdorff(surface_points(mask, spacing),
                                    surface_points(ref, spacing))[0])
    (record,) = window.metrics_panel.records()
    assert record.label.startswith(f"{LESION}")  # "auto" picked the lesion under the ROI
    assert record.metrics["count"] == mask.sum()
    assert record.metrics["dice"] == pytest.approx(dice, abs=1e-9)
    assert record.metrics["iou"] == pytest.approx(iou, abs=1e-9)
    assert record.metrics["hd_max_mm"] == pytest.approx(hd_max, abs=1e-6)
    assert record.metrics["mean"] == pytest.approx(float(image[mask].mean()), rel=1e-6)
    assert record.metrics["median"] == pytest.approx(float(np.median(image[mask])), rel=1e-6)
    assert record.metrics["area_mm2"] == pytest.approx(mask.sum() * spacing[0] * spacing[1])
    # what the table shows is the record, formatted
    row = table_rows(window)[0]
    for c, (_h, key, fmt) in enumerate(COLUMNS):
        assert row[c] == format_cell(record, key, fmt)
    assert row[0] == "lesion box" and float(row[COLUMNS.index(("Dice", "dice", "{:.3f}"))]) == \
        pytest.approx(dice, abs=5e-4)

    # edits update the panel live; undo restores the numbers exactly
    window.roi_editor.move(roi.roi_id, 3.0, 0.0)
    qtbot.waitUntil(lambda: window.metrics_panel.records()[0].metrics["dice"] != dice,
                    timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.metrics_panel.records()[0].metrics["dice"] == dice,
                    timeout=3000)

    # choosing "None" drops the overlap columns; another label value compares with it
    window.metrics_panel.set_label_choice(None)
    assert "dice" not in window.metrics_panel.records()[0].metrics
    window.metrics_panel.set_label_choice(LESION)
    assert window.metrics_panel.records()[0].metrics["dice"] == dice
    with pytest.raises(ValueError, match="not in the label map"):
        window.metrics_panel.set_label_choice(99)

    # deleting the ROI removes its row
    window.roi_editor.remove(roi.roi_id)
    qtbot.waitUntil(lambda: window.metrics_panel.table.rowCount() == 0, timeout=3000)


def test_sr_rows_deltas_and_exports_hold_the_table_numbers(
    qtbot: QtBot, window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    open_flair_with_labels(qtbot, window, flair_pair)
    roi, labels, _image = lesion_roi(window)
    window.roi_editor.add(roi)
    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: window.compare.complete, timeout=10000)
    qtbot.waitUntil(lambda: len(window.metrics_panel.records()) == 3, timeout=3000)
    original, sr, delta = window.metrics_panel.records()
    assert (original.grid, sr.grid, delta.grid) == ("original", "sr", "delta")
    assert sr.model == "bicubic-x2" and original.model == "bicubic-x2"

    spacing = window.viewer.display.pixel_spacing(AXIAL)
    sr_image = window.compare.sr_image()
    fine = ellipse_mask(roi, sr_image.shape, spacing, scale=2)
    assert sr.metrics["count"] == fine.sum()
    assert sr.metrics["mean"] == pytest.approx(float(sr_image[fine].mean()), rel=1e-5)
    assert delta.metrics["mean"] == pytest.approx(sr.metrics["mean"] - original.metrics["mean"])
    # issue #15, bug 9: the delta compares like with like: areas in mm², never pixel counts of
    # two grids (the SR grid has four times as many pixels for the same region)
    assert sr.metrics["count"] > 3 * original.metrics["count"]
    assert delta.metrics["count"] is None
    assert delta.metrics["area_mm2"] == pytest.approx(
        sr.metrics["area_mm2"] - original.metrics["area_mm2"])
    assert abs(delta.metrics["area_mm2"]) < 0.05 * original.metrics["area_mm2"]
    pixels = next(c for c, (_h, key, _f) in enumerate(COLUMNS) if key == "count")
    assert [row[pixels] for row in table_rows(window)] == [
        str(original.metrics["count"]), str(sr.metrics["count"]), "–"]
    # issue #15, bug 5: the Slice column names the slice as the pane caption does
    caption = window.viewer.views[AXIAL].caption()  # "axial 4/6"
    assert {row[COLUMNS.index(("Slice", "slice", ""))] for row in table_rows(window)} == {
        caption.split("/")[0]}
    # Dice on the SR grid: the lesion resampled (nearest) onto the finer grid
    ref_fine = label_here(np.kron(labels == LESION, np.ones((2, 2), bool)), fine, 10.0)
    inter = int((fine & ref_fine).sum())
    assert sr.metrics["dice"] == pytest.approx(2 * inter / (fine.sum() + ref_fine.sum()))

    # exports: the same numbers, with file, series, model and sha256 context
    csv_path = window.roi_files.export_metrics(tmp_path / "metrics.csv")
    json_path = window.roi_files.export_metrics(tmp_path / "metrics.json")
    assert csv_path is not None and json_path is not None
    for read in (read_metrics_csv(csv_path), read_metrics_json(json_path)):
        assert [r.grid for r in read] == ["original", "sr", "delta"]
        for got, want in zip(read, (original, sr, delta), strict=True):
            assert got.file == str(flair_pair[0]) and got.roi_name == "lesion box"
            assert got.sha256 == want.sha256 and got.model == "bicubic-x2"
            for key, value in want.metrics.items():
                assert got.metrics[key] == (
                    None if value is None else pytest.approx(value, rel=1e-9, abs=1e-12))


def test_rois_export_and_reimport_exactly_as_one_undo_step(
    qtbot: QtBot, window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    open_flair_with_labels(qtbot, window, flair_pair)
    roi, _labels, _image = lesion_roi(window)
    window.roi_editor.add(roi)
    window.roi_editor.add(roi.translated(10.0, 4.0).__class__(
        roi.plane, cu=roi.cu + 10, cv=roi.cv, ru=3.0, rv=3.0, name="second"))
    path = window.roi_files.export_rois(tmp_path / "rois.json")
    assert path is not None
    before = list(window.rois)
    for roi_id in window.rois.ids():
        window.roi_editor.remove(roi_id)
    assert len(window.rois) == 0
    assert window.roi_files.import_rois(path) == 2
    assert list(window.rois) == before == load_rois(path)
    window.history.undo()
    assert len(window.rois) == 0
    # a broken file is reported with its name; nothing changes
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert window.roi_files.import_rois(bad) == -1
    assert str(bad) in window.error_banner.text()


def test_metrics_dock_appears_with_the_first_roi(
    qtbot: QtBot, window: MainWindow, flair_pair: tuple[Path, Path]
) -> None:
    open_flair_with_labels(qtbot, window, flair_pair)
    assert not window.metrics_dock.isVisible()
    roi, _labels, _image = lesion_roi(window)
    window.roi_editor.add(roi)
    assert window.metrics_dock.isVisible()
    window.metrics_dock.hide()  # the user closes it: later ROIs do not force it back
    window.roi_editor.add(EllipseRoi(roi.plane, cu=roi.cu, cv=roi.cv, ru=2.0, rv=2.0))
    assert not window.metrics_dock.isVisible()


def test_layer_against_layer_overlap_on_slice_and_volume_joins_the_export(
    qtbot: QtBot, window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    from scipy.ndimage import binary_erosion as erode

    open_flair_with_labels(qtbot, window, flair_pair)
    reference = window.active_label_map()
    assert reference is not None
    eroded = np.where(erode(reference.labels == LESION), LESION, 0).astype(np.uint8)
    window.label_overlay.add_layer(reference.with_labels(eroded), "eroded")
    comparison = window.layer_comparison
    assert comparison.isEnabled() and comparison.test_combo.currentText() == "eroded"
    comparison.set_choice(0, 1, LESION)
    qtbot.mouseClick(comparison.compare_button, Qt.MouseButton.LeftButton)
    on_slice, volume = comparison.rows

    ref3, test3 = reference.labels == LESION, eroded == LESION
    assert volume.metrics["dice"] == pytest.approx(2 * (ref3 & test3).sum() / (ref3.sum()
                                                                            + test3.sum()))
    index = window.viewer.slice_index(AXIAL)
    ref2 = np.asarray(DisplayVolume(reference.volume).slice_array(AXIAL, index)) == LESION
    test2 = np.asarray(DisplayVolume(reference.with_labels(eroded).volume)
                       .slice_array(AXIAL, index)) == LESION
    assert on_slice.metrics["dice"] == pytest.approx(2 * (ref2 & test2).sum() / (ref2.sum()
                                                                              + test2.sum()))
    assert on_slice.slice == f"axial {index + 1}" and volume.slice == "volume"
    spacing = reference.volume.spacing
    hd_max = max(directed_hausdorff(surface_points(ref3, spacing),
                                    surface_points(test3, spacing))[0],
                 directed_hausdorff(surface_points(test3, spacing),
                                    surface_points(ref3, spacing))[0])
    assert volume.metrics["hd_max_mm"] == pytest.approx(hd_max, abs=1e-6)
    assert "Dice" in comparison.result.text()
    rows = read_metrics_csv(window.roi_files.export_metrics(tmp_path / "m.csv"))
    assert [r.grid for r in rows] == ["layers: eroded vs lesion"] * 2
    assert rows[1].metrics["dice"] == pytest.approx(volume.metrics["dice"])
