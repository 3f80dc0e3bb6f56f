"""Label names (issue #15): FreeSurfer's names in the Labels dock and under the mouse, a
colour table opened onto a layer, and the warning for a label map off the study's grid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import hover, open_and_wait, view_point, wheel, write_flair_crop
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot
from scipy import ndimage

from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelEntry, LabelLayer, LabelMap, LabelTable
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.docks.label_dock import NAME_COLUMN, LabelDock
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.readout import label_text

AXIAL = Orientation.AXIAL
HIPPOCAMPUS = 17


def pick_files(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """The open-file dialog answers ``paths``, one per call, as if the user chose them."""
    answers: Iterator[Path] = iter(paths)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *_a, **_k: (str(next(answers)), ""))


def dock_name(dock: LabelDock, value: int) -> str:
    """The name the Labels dock's table lists for a label value."""
    item = dock.table.item(dock.row_of(value), NAME_COLUMN)
    assert item is not None, f"label {value} is not listed"
    return item.text()


def hippocampus_edge(layer: LabelLayer) -> tuple[int, int, int, int]:
    """Axial slice ``k`` and display pixel ``(row, col)`` inside Left-Hippocampus (3x3) with
    one other label ``v`` (3x3) at the same pixel of slice ``k + 1``: ``(k, row, col, v)``."""
    shown = DisplayVolume(layer.label_map.volume)
    box = np.ones((3, 3), bool)
    axis = PLANE_AXES[AXIAL].slice_axis
    others = tuple(a for a in range(3) if a != axis)
    with_it = np.flatnonzero(np.any(shown.voxels == HIPPOCAMPUS, axis=others))
    for k in (int(k) for k in with_it if k + 1 < shown.n_slices(AXIAL)):
        here, above = shown.slice_array(AXIAL, k), shown.slice_array(AXIAL, k + 1)
        inside = ndimage.binary_erosion(here == HIPPOCAMPUS, box)
        flat = (ndimage.maximum_filter(above, 3) == ndimage.minimum_filter(above, 3))
        hits = np.argwhere(inside & flat & (above != HIPPOCAMPUS) & (above != 0))
        if len(hits):
            row, col = (int(v) for v in hits[0])
            return k, row, col, int(above[row, col])
    raise AssertionError("no Left-Hippocampus voxel below another label")


def test_freesurfer_names_in_the_dock_and_the_readout_and_a_colour_table(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subject = data_dir / "labelled" / "freesurfer_subject"
    open_and_wait(qtbot, main_window, [subject / "norm.mgz"], timeout=60000)
    aparc = subject / "aparc.a2009s+aseg.mgz"
    pick_files(monkeypatch, aparc)
    main_window.label_controls.open_action.trigger()  # File > Open Label Map…
    layer = main_window.label_overlay.active_layer
    assert layer is not None and layer.name == "aparc.a2009s+aseg"
    assert not main_window.warning_banner.isVisible()  # the subject's own grid: no warning
    dock = main_window.label_dock
    assert dock.isVisible()
    assert dock_name(dock, HIPPOCAMPUS) == "Left-Hippocampus"
    assert dock_name(dock, 11101) == "ctx_lh_G_and_S_frontomargin"
    # the mouse over a Left-Hippocampus voxel: its value and name in the readout
    k, row, col, above = hippocampus_edge(layer)
    view = main_window.viewer.views[AXIAL]
    wheel(view, k - view.slice_index)
    assert view.slice_index == k
    hover(qtbot, view, view_point(view, row, col))
    assert "aparc.a2009s+aseg: 17 Left-Hippocampus" in main_window.readout_label.text()
    # one slice on under the still mouse: the label of the slice shown now
    wheel(view, 1)
    text = main_window.readout_label.text()
    assert f"aparc.a2009s+aseg: {above} {layer.table.name(above)}" in text
    assert "Left-Hippocampus" not in text
    wheel(view, -1)
    assert "17 Left-Hippocampus" in main_window.readout_label.text()
    # the dock's Colour Table… button: an ITK-SNAP file renames 17 at once
    table = tmp_path / "renamed.label"
    table.write_text('17 10 20 30 1 1 1 "hippocampus (mine)"\n')
    bad = tmp_path / "broken_lut.txt"
    bad.write_text("17 Left-Hippocampus 220 216 20 0\n53 Right-Hippocampus 300 0 0 0\n")
    pick_files(monkeypatch, table, bad)
    dock.colour_table_button.click()
    assert dock_name(dock, HIPPOCAMPUS) == "hippocampus (mine)"
    assert layer.table.entry(HIPPOCAMPUS).color == (10, 20, 30)
    assert layer.table.name(53) == "Right-Hippocampus"  # not in the file: kept
    assert "17 hippocampus (mine)" in main_window.readout_label.text()
    dock.colour_table_button.click()  # a malformed file: named with its line, nothing lost
    assert "broken_lut.txt, line 2" in main_window.error_banner.text()
    assert layer.table.name(HIPPOCAMPUS) == "hippocampus (mine)"
    assert main_window.label_overlay.layers == (layer,)


def test_label_map_off_the_study_grid_is_warned_and_one_elsewhere_refused(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = (slice(20, 100), slice(30, 130), slice(55, 79))
    flair, lesion = write_flair_crop(data_dir, tmp_path, box)
    open_and_wait(qtbot, main_window, [flair])
    image = nib.nifti1.load(str(lesion))
    data = np.asarray(image.dataobj)
    moved, far = tmp_path / "lesion_moved.nii.gz", tmp_path / "lesion_far.nii.gz"
    for path, shift in ((moved, 2.5), (far, 1000.0)):
        affine = image.affine.copy()
        affine[0, 3] += shift
        nib.save(nib.Nifti1Image(data, affine), str(path))
    pick_files(monkeypatch, moved, far)
    main_window.label_controls.open_action.trigger()
    banner = main_window.warning_banner
    assert banner.isVisible()
    assert banner.text().startswith("lesion_moved.nii.gz: grid 80×100×24 at 1.0 mm, shifted "
                                    "2.5 mm from the study's — resampled to the study")
    assert [layer.name for layer in main_window.label_overlay.layers] == ["lesion_moved"]
    main_window.label_controls.open_action.trigger()
    assert "lesion_far.nii.gz: does not overlap the study" in main_window.error_banner.text()
    assert len(main_window.label_overlay.layers) == 1  # not opened; the other layer stays


def test_readout_label_wording_for_each_layer_shown() -> None:
    affine = np.diag([-1.0, -1.0, 2.0, 1.0])  # stored RAS: display flips x and y
    study = DisplayVolume(Volume(np.zeros((3, 4, 5), np.float32), affine))
    first = np.zeros((3, 4, 5), np.uint8)
    first[1, 2, 3] = 17
    second = np.full((3, 4, 5), 4, np.uint8)
    table = LabelTable([LabelEntry(17, "Left-Hippocampus", (220, 216, 20))])
    layers = [LabelLayer(LabelMap(Volume(first, affine), table), "aseg"),
              LabelLayer(LabelMap(Volume(second, affine)), "tissue")]
    canonical = study.voxel_to_canonical((1, 2, 3))
    assert label_text(study, canonical, layers) == ("aseg: 17 Left-Hippocampus  |  "
                                                    "tissue: 4 label 4")
    # background says nothing; nor does a label hidden in its table, nor a point outside
    assert label_text(study, study.voxel_to_canonical((0, 0, 0)), layers) == "tissue: 4 label 4"
    layers[1].update_label(4, visible=False)
    assert label_text(study, canonical, layers) == "aseg: 17 Left-Hippocampus"
    assert label_text(study, np.array([9.0, 0, 0]), layers) == ""
    assert label_text(study, None, layers) == ""
    # a layer of another grid (not yet put on this study's) is left out
    other = LabelLayer(LabelMap(Volume(np.ones((2, 2, 2), np.uint8), affine)), "old")
    assert label_text(study, canonical, [other]) == ""
