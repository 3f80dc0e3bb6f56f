"""Label layers: several layers, styles, the SR pane, label edits in the dock, save, sessions."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import open_and_wait, wheel, write_flair_crop
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import (
    LabelEntry,
    LabelMap,
    LabelTable,
    OverlayStyle,
    format_freesurfer_lut,
    load_label_file,
    outline_mask,
)
from medsr_viewer.core.labels.render import outline_alpha_factor
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.docks.label_dock import COLOUR_COLUMN, NAME_COLUMN, VISIBLE_COLUMN
from medsr_viewer.gui.main_window import MainWindow

#: A crop of the FLAIR/lesion pair holding all three lesion labels (x, y, z voxel ranges).
CROP = (slice(20, 100), slice(30, 130), slice(55, 79))
AXIAL = Orientation.AXIAL


@pytest.fixture(scope="module")
def flair_pair(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small real FLAIR and its lesion labels, cropped identically (same grid)."""
    return write_flair_crop(data_dir, tmp_path_factory.mktemp("flair_layers"), CROP)


@pytest.fixture(scope="module")
def second_layer(flair_pair: tuple[Path, Path]) -> Path:
    """The lesion labels split differently (label 1 -> 5, 2/3 -> 6) with a FreeSurfer LUT."""
    lesion = nib.load(str(flair_pair[1]))
    data = np.asarray(lesion.dataobj)
    remapped = np.select([data == 1, data >= 2], [5, 6], 0).astype(np.uint8)
    path = flair_pair[1].with_name("regions.nii.gz")
    nib.save(nib.Nifti1Image(remapped, lesion.affine), str(path))
    table = LabelTable([LabelEntry(5, "periventricular", (10, 200, 20)),
                        LabelEntry(6, "deep_white", (200, 20, 220))])
    path.with_name("regions_lut.txt").write_text(format_freesurfer_lut(table))
    return path


def labels_zyx(path: Path) -> np.ndarray:
    """The label array of a NIfTI file in the project's (z, y, x) order."""
    return np.asarray(nib.load(str(path)).dataobj).transpose(2, 1, 0).astype(np.int64)


def shown_slice(window: MainWindow, labels: np.ndarray, orientation: Orientation = AXIAL,
                view=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The labels of the slice a pane shows, reoriented exactly like the study."""
    study = window.viewer.volume
    assert study is not None
    view = view or window.viewer.views[orientation]
    return DisplayVolume(Volume(labels, study.affine)).slice_array(view.orientation,
                                                                    view.slice_index)


def drawn(window: MainWindow, orientation: Orientation = AXIAL) -> np.ndarray:
    """The RGBA the overlay item of a study pane shows."""
    item = window.label_overlay.items[orientation]
    assert item.isVisible() and item.image is not None
    return np.asarray(item.image)


def go_to_labelled_slice(window: MainWindow, labels: np.ndarray) -> None:
    """Scroll the axial pane (wheel) to the slice with most labelled voxels."""
    view = window.viewer.views[AXIAL]
    best = max(range(view.n_slices), key=lambda k: int(
        (DisplayVolume(Volume(labels, window.viewer.volume.affine)).slice_array(AXIAL, k) > 0
         ).sum()))  # type: ignore[union-attr]
    wheel(view, best - view.slice_index)
    assert view.slice_index == best


def test_two_layers_switch_active_style_and_visibility(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], second_layer: Path
) -> None:
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    overlay, dock = main_window.label_overlay, main_window.label_dock
    assert not dock.isVisible()
    assert main_window.open_label_map(lesion)
    assert dock.isVisible()  # the Labels dock appears with the first layer
    assert main_window.open_label_map(second_layer)
    assert [layer.name for layer in overlay.layers] == ["lesion", "regions"]
    assert overlay.active_layer_name == "regions" and dock.layer_list.currentRow() == 1
    assert dock.listed_values() == [5, 6]
    assert dock.table.item(0, NAME_COLUMN).text() == "periventricular"  # from the sidecar LUT
    first, second = labels_zyx(lesion), labels_zyx(second_layer)
    go_to_labelled_slice(main_window, first)
    bottom, top = shown_slice(main_window, first), shown_slice(main_window, second)
    rgba = drawn(main_window)
    # The top layer (active) is drawn over the bottom one ("over" compositing).
    one = (top == 5) & (bottom == 1)
    assert one.any()
    a = round(255 * 0.5) / 255  # both layers at the default opacity
    green, below = np.array([10, 200, 20]), np.array(overlay.layers[0].table.entry(1).color)
    alpha = a + a * (1 - a)
    assert np.allclose(rgba[one][:, :3], (green * a + below * a * (1 - a)) / alpha, atol=1)
    assert np.all(rgba[one][:, 3] == round(255 * alpha))
    only_top = (top > 0) & (bottom == 0)
    assert np.all(rgba[only_top][:, 3] == round(255 * a))

    # Clicking the first layer in the list makes it active: its labels fill the table.
    row = dock.layer_list.visualItemRect(dock.layer_list.item(0)).center()
    qtbot.mouseClick(dock.layer_list.viewport(), Qt.MouseButton.LeftButton, pos=row)
    assert overlay.active_index == 0 and overlay.active_layer_name == "lesion"
    assert dock.listed_values() == [1, 2, 3]
    assert main_window.label_overlay.active_label_map().labels.shape == first.shape

    # Opacity acts on the active layer only; unticking the top layer hides it.
    main_window.label_controls.opacity_slider.setValue(100)
    assert overlay.layers[0].opacity == 1.0 and overlay.layers[1].opacity == 0.5
    dock.layer_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert not overlay.layers[1].visible
    rgba = drawn(main_window)
    lut = overlay.layers[0].lut()
    assert np.all(rgba[bottom > 0, 3] == 255)
    assert np.all(rgba[bottom > 0, :3] == lut[bottom[bottom > 0], :3])
    assert np.all(rgba[bottom == 0] == 0)

    # Shift+O cycles the active layer's style: outline, both, fill.
    view = main_window.viewer.views[AXIAL]
    main_window.label_controls.opacity_slider.setValue(40)
    edge = outline_mask(bottom)
    assert edge.any() and (bottom > 0).sum() > edge.sum()
    qtbot.keyClick(view, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)
    assert overlay.style == OverlayStyle.OUTLINE and dock.style_combo.currentText() == "outline"
    rgba = drawn(main_window)
    line = round(255 * outline_alpha_factor(0.4))
    assert np.all(rgba[edge, 3] == line) and np.all(rgba[~edge, 3] == 0)
    qtbot.keyClick(view, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)
    rgba = drawn(main_window)
    inner = (bottom > 0) & ~edge
    assert np.all(rgba[edge, 3] == line) and np.all(rgba[inner, 3] == round(255 * 0.4))
    qtbot.keyClick(view, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)
    assert overlay.style == OverlayStyle.FILL
    assert np.all(drawn(main_window)[bottom > 0, 3] == round(255 * 0.4))
    # O still hides everything and shows it again.
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert not overlay.items[AXIAL].isVisible()
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert overlay.items[AXIAL].isVisible()
    main_window.label_dock.remove_active_layer()
    assert [layer.name for layer in overlay.layers] == ["regions"]


def test_label_edits_in_the_dock_change_the_drawn_pixels(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.open_label_map(lesion)
    labels = labels_zyx(lesion)
    go_to_labelled_slice(main_window, labels)
    shown = shown_slice(main_window, labels)
    value = int(np.bincount(shown[shown > 0]).argmax())
    dock, overlay = main_window.label_dock, main_window.label_overlay
    row = dock.row_of(value)
    assert row >= 0
    # Colour: what the colour dialog sets; the swatch and the pixels follow.
    dock.set_label_colour(value, (12, 34, 56))
    assert np.all(drawn(main_window)[shown == value, :3] == (12, 34, 56))
    assert dock.table.item(row, COLOUR_COLUMN).background().color().getRgb()[:3] == (12, 34, 56)
    # Visibility: untick the label's box.
    dock.table.item(row, VISIBLE_COLUMN).setCheckState(Qt.CheckState.Unchecked)
    rgba = drawn(main_window)
    assert np.all(rgba[shown == value] == 0)
    others = (shown > 0) & (shown != value)
    assert np.all(rgba[others, 3] > 0)
    dock.table.item(row, VISIBLE_COLUMN).setCheckState(Qt.CheckState.Checked)
    assert np.all(drawn(main_window)[shown == value, 3] > 0)
    # Name: type a new one into the name cell.
    dock.table.item(row, NAME_COLUMN).setText("enhancing lesion")
    assert overlay.active_label_map().table.name(value) == "enhancing lesion"  # type: ignore[union-attr]
    assert dock.table.item(dock.row_of(value), NAME_COLUMN).text() == "enhancing lesion"
    # Saved as NIfTI, the labels and the edited names/colours come back.
    out = tmp_path / "edited.nii.gz"
    assert main_window.label_controls.save_active_layer(out)
    again = load_label_file(out)
    assert np.array_equal(again.labels, overlay.label_map.labels)  # type: ignore[union-attr]
    assert again.table.entry(value).name == "enhancing lesion"
    assert again.table.entry(value).color == (12, 34, 56)
    # ... and never over the study's own file.
    before = flair.read_bytes()
    assert not main_window.label_controls.save_active_layer(flair)
    assert "FLAIR.nii.gz" in main_window.error_banner.text()
    assert flair.read_bytes() == before


def test_overlay_on_the_sr_pane_lines_up_with_the_original(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path]
) -> None:
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.open_label_map(lesion)
    labels = labels_zyx(lesion)
    go_to_labelled_slice(main_window, labels)
    compare = main_window.compare
    assert compare.model_picker.findText("sr-x2") >= 0
    compare.model_picker.setCurrentIndex(compare.model_picker.findText("sr-x2"))
    with qtbot.waitSignal(compare.srReady, timeout=30000):
        qtbot.keyClick(main_window.viewer.views[AXIAL], Qt.Key.Key_S)
    assert compare.enabled and compare.scale == 2
    sr_item = main_window.label_overlay.sr_item
    assert sr_item is not None and sr_item.isVisible()
    original_view, sr_view = compare.original_view, compare.sr_view
    assert sr_item.mapRectToParent(sr_item.boundingRect()) == sr_view.image_rect()
    original = drawn(main_window)
    fine = np.asarray(sr_item.image)
    assert fine.shape[:2] == compare.sr_image().shape  # type: ignore[union-attr]
    # The same world point (view mm, shared by the linked panes) has the same label colour.
    row_mm, col_mm = original_view.pixel_spacing
    rows, cols = original.shape[:2]
    ys = np.linspace(0.01, rows * row_mm - 0.01, 157)
    xs = np.linspace(0.01, cols * col_mm - 0.01, 143)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    coarse = original[(yy // row_mm).astype(int), (xx // col_mm).astype(int)]
    sr = fine[(yy // (row_mm / 2)).astype(int), (xx // (col_mm / 2)).astype(int)]
    assert np.array_equal(coarse, sr) and (coarse[..., 3] > 0).any()
    # Swipe and difference modes keep it; outlines on the SR grid are one fine pixel wide.
    for mode in ("swipe", "difference"):
        compare.set_mode(mode)
        assert sr_item.isVisible() and np.array_equal(np.asarray(sr_item.image), fine)
    main_window.label_overlay.set_style("outline")
    fine_outline = np.asarray(sr_item.image)[..., 3] > 0
    coarse_outline = drawn(main_window)[..., 3] > 0
    assert 0 < fine_outline.sum() < 4 * coarse_outline.sum()
    main_window.set_sr_enabled(False)
    assert not compare.sr_view.isVisible()


def test_snapshot_and_restore_round_trip(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path / "config"))
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    overlay = main_window.label_overlay
    assert main_window.open_label_map(lesion)
    overlay.update_label(2, name="juxtacortical", color=(1, 2, 3))
    overlay.set_style("both")
    study = main_window.viewer.volume
    assert study is not None
    # A layer without a file, as a model run makes it.
    derived = np.where(labels_zyx(lesion) > 0, 7, 0).astype(np.uint8)
    overlay.add_layer(LabelMap(Volume(derived, study.affine), LabelTable(), "any lesion"),
                      model="threshold")
    overlay.set_opacity(0.8)
    changes: list[int] = []
    overlay.changed.connect(lambda: changes.append(1))
    refs = overlay.snapshot()
    assert [r.name for r in refs] == ["lesion", "any lesion"]
    assert Path(refs[0].path) == lesion
    stored = Path(refs[1].path)
    assert stored.parent == tmp_path / "config" / "label_layers" and stored.is_file()
    stamp = stored.stat().st_mtime_ns
    assert Path(overlay.snapshot()[1].path) == stored and stored.stat().st_mtime_ns == stamp
    assert refs[0].style == "both" and refs[1].opacity == 0.8
    expected = [(layer.name, layer.labels.copy(), layer.table.to_list()) for layer in overlay.layers]

    overlay.clear()
    assert overlay.active_label_map() is None and changes
    missing = tmp_path / "gone.nii.gz"
    refs_with_missing = [*refs, type(refs[0])(str(missing), "gone")]
    problems = overlay.restore(refs_with_missing)
    assert len(problems) == 1 and "gone.nii.gz" in problems[0]
    assert [layer.name for layer in overlay.layers] == ["lesion", "any lesion"]
    for layer, (name, labels, table) in zip(overlay.layers, expected, strict=True):
        assert layer.name == name and np.array_equal(layer.labels, labels)
        assert layer.table.to_list() == table
    assert overlay.layers[0].style == OverlayStyle.BOTH and overlay.layers[1].opacity == 0.8
    assert overlay.active_layer_name == "any lesion"
    assert main_window.label_dock.layer_list.count() == 2


def test_bad_label_files_are_named_and_the_app_stays_usable(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], data_dir: Path,
    tmp_path: Path,
) -> None:
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.open_label_map(lesion)
    not_seg = data_dir / "dicom" / "vs_seg_001_t1" / "1-001.dcm"
    assert not main_window.open_label_map(not_seg)
    assert "1-001.dcm" in main_window.error_banner.text()
    assert "not a DICOM Segmentation" in main_window.error_banner.text()
    text = tmp_path / "labels.nii.gz"
    text.write_text("hello")
    assert not main_window.open_label_map(text)
    assert "labels.nii.gz" in main_window.error_banner.text()
    assert [layer.name for layer in main_window.label_overlay.layers] == ["lesion"]
    assert main_window.label_overlay.items[AXIAL].isVisible()
    wheel(main_window.viewer.views[AXIAL], 2)
    assert main_window.open_label_map(lesion)
    assert len(main_window.label_overlay.layers) == 2


def test_screenshot_of_layers(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], second_layer: Path
) -> None:
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    assert main_window.open_label_map(second_layer)
    assert main_window.open_label_map(lesion)
    main_window.label_overlay.set_style("both")
    main_window.set_three_plane(True)
    go_to_labelled_slice(main_window, labels_zyx(lesion))
    qtbot.wait(20)
    out = Path("/tmp/labels")
    out.mkdir(exist_ok=True)
    assert main_window.grab().save(str(out / "layers.png"))


def test_dicom_seg_save_for_a_dicom_study_reloads(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path, tmp_path: Path
) -> None:
    folder = data_dir / "dicom" / "vs_seg_001_t1"
    open_and_wait(qtbot, main_window, [folder], timeout=60000)
    study = main_window.viewer.volume
    assert study is not None and study.shape == (120, 512, 512)
    # Labels from the real image: bright tissue in a block of slices, split in two values.
    labels = np.zeros(study.shape, np.uint8)
    block = study.voxels[58:62, 200:320, 200:320]
    level = float(np.percentile(block, 70))
    labels[58:62, 200:320, 200:260][block[:, :, :60] > level] = 1
    labels[58:62, 200:320, 260:320][block[:, :, 60:] > level] = 4
    table = LabelTable([LabelEntry(1, "bright left", (250, 30, 30)),
                        LabelEntry(4, "bright right", (30, 30, 250))])
    overlay = main_window.label_overlay
    overlay.add_layer(LabelMap(Volume(labels, study.affine), table, "bright"))
    controls = main_window.label_controls
    # Never over the study's own files.
    source = folder / "1-001.dcm"
    before = source.stat().st_mtime_ns
    assert not controls.save_active_layer(source)
    assert "1-001.dcm" in main_window.error_banner.text()
    assert source.stat().st_mtime_ns == before
    out = tmp_path / "bright_seg.dcm"
    assert controls.save_active_layer(out)
    # File > Open Label Map reads the SEG back as a second layer on the study grid.
    assert main_window.open_label_map(out)
    again = overlay.active_layer
    assert again is not None and again.source == out and len(overlay.layers) == 2
    assert np.array_equal(again.labels, labels)
    assert again.table.name(1) == "bright left" and again.table.name(4) == "bright right"
    assert again.table.entry(4).color == pytest.approx((30, 30, 250), abs=3)
    seg = load_label_file(out)
    assert seg.volume.metadata["referenced_series_uid"] == study.metadata["series_uid"]


def test_freesurfer_parcellation_outlines_and_sr_screenshot(
    qtbot: QtBot, main_window: MainWindow, data_dir: Path
) -> None:
    folder = data_dir / "labelled" / "freesurfer_subject"
    open_and_wait(qtbot, main_window, [folder / "norm.mgz"], timeout=60000)
    aparc = folder / "aparc.a2009s+aseg.mgz"
    assert main_window.open_label_map(aparc)
    overlay, dock = main_window.label_overlay, main_window.label_dock
    layer = overlay.active_layer
    assert layer is not None
    values = layer.present_values()
    assert len(values) > 150 and max(values) > 11000  # Destrieux cortical labels
    assert dock.listed_values() == values
    overlay.set_style("outline")
    view = main_window.viewer.views[AXIAL]
    shown = overlay.slice_labels(AXIAL)
    assert shown is not None
    rgba = drawn(main_window)
    edge = outline_mask(shown)
    lut = layer.lut()
    assert np.all(rgba[edge, :3] == lut[shown[edge], :3]) and np.all(rgba[~edge] == 0)
    assert np.array_equal(shown, shown_slice(main_window, load_label_file(aparc).on_grid(
        main_window.viewer.volume).labels, view=view))  # type: ignore[arg-type]
    compare = main_window.compare
    compare.model_picker.setCurrentIndex(compare.model_picker.findText("sr-x2"))
    with qtbot.waitSignal(compare.srReady, timeout=60000):
        main_window.set_sr_enabled(True)
    sr = np.asarray(overlay.sr_item.image)  # type: ignore[union-attr]
    assert sr.shape[:2] == (2 * rgba.shape[0], 2 * rgba.shape[1])
    assert np.array_equal(sr[..., 3] > 0, outline_mask(np.repeat(np.repeat(shown, 2, 0), 2, 1)))
    compare.fit_views()
    qtbot.wait(50)
    out = Path("/tmp/labels")
    out.mkdir(exist_ok=True)
    assert main_window.grab().save(str(out / "freesurfer_sr.png"))


def test_layers_follow_a_same_subject_grid_change_and_edits_are_stored(
    qtbot: QtBot, main_window: MainWindow, flair_pair: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path / "config"))
    flair, lesion = flair_pair
    open_and_wait(qtbot, main_window, [flair])
    overlay = main_window.label_overlay
    assert main_window.open_label_map(lesion)
    overlay.update_label(1, name="renamed")
    fine = main_window.viewer.display
    assert fine is not None
    original = overlay.layers[0].labels.copy()
    # The same subject on a 2x coarser grid (as a simulated low-resolution study is).
    hr = fine.volume
    coarse_affine = hr.affine @ np.diag([2.0, 2.0, 2.0, 1.0])
    coarse_affine[:3, 3] = hr.affine[:3, 3] + hr.affine[:3, :3] @ np.array([0.5, 0.5, 0.5])
    coarse = Volume(np.ascontiguousarray(hr.voxels[::2, ::2, ::2]), coarse_affine)
    main_window.viewer.set_study(DisplayVolume(coarse), main_window.viewer.display_window)
    overlay.regrid()
    layer = overlay.layers[0]
    assert layer.labels.shape == coarse.shape and layer.table.name(1) == "renamed"
    assert np.array_equal(layer.labels, load_label_file(lesion).on_grid(coarse).labels)
    assert np.all(drawn(main_window)[shown_slice(main_window, layer.labels) > 0, 3] > 0)
    main_window.viewer.set_study(fine, main_window.viewer.display_window)
    overlay.regrid()
    assert np.array_equal(overlay.layers[0].labels, original)  # back without loss
    # An edited file layer is stored by the snapshot, not referred to by its file.
    edited = original.copy()
    edited[edited == 3] = 0
    overlay.set_layer_labels(edited)
    assert 3 not in overlay.layers[0].present_values()
    ref = overlay.snapshot()[0]
    assert Path(ref.path) != lesion and Path(ref.path).parent.name == "label_layers"
    assert np.array_equal(load_label_file(ref.path).labels, edited)
