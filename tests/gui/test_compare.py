"""Before/after in the GUI: SR pane beside the original, acting as a user (issue #3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import (
    close_model_window,
    cpu_model_window,
    open_and_wait,
    wheel,
    write_nifti_crop,
)
from model_zoo import trust_folder_for_tests
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.compare_panel import CompareMode, Interpolation, upsample
from medsr_viewer.models.registry import ModelRegistry

AXIAL = Orientation.AXIAL


@pytest.fixture(scope="module")
def small_t1(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 72x80x6 crop of the real head MR, written as NIfTI (affine kept by the slicer)."""
    return write_nifti_crop(data_dir / "mri_ct" / "chris_t1.nii.gz",
                            np.s_[50:122, 70:150, 90:96],
                            tmp_path_factory.mktemp("compare-data") / "t1_crop.nii.gz",
                            np.float32)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, zoo: dict[str, Path]) -> Iterator[MainWindow]:
    """A main window whose SR worker runs on the CPU and lists no bundled models."""
    win = cpu_model_window(qtbot, tmp_path, zoo["raises"].parent, (1200, 600))
    yield win
    close_model_window(win)


def _choose(win: MainWindow, path: Path) -> None:
    """Pick a model by explicit path, as "add model file" does."""
    win.compare.model_picker.add_path(path)


def _press_s_and_wait(qtbot: QtBot, win: MainWindow) -> None:
    qtbot.keyClick(win, Qt.Key.Key_S)
    assert win.sr_action.isChecked()
    qtbot.waitUntil(lambda: win.compare.complete, timeout=10000)


def _expected(win: MainWindow) -> np.ndarray:
    display = win.viewer.display
    assert display is not None
    image = display.slice_array(AXIAL, win.viewer.slice_index(AXIAL))
    return upsample(image, 2, Interpolation.BICUBIC)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and float(np.max(np.abs(a - b))) <= 1e-3 * float(np.ptp(b) + 1)


def test_sr_pane_shows_bicubic_x2_aligned_and_follows_slices(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    open_and_wait(qtbot, window, [small_t1])
    _choose(window, zoo["bicubic-x2"])
    _press_s_and_wait(qtbot, window)
    compare = window.compare
    assert compare.isVisible() and compare.original_view.isVisible()
    shown = compare.shown_image()
    assert shown is not None and _close(shown, _expected(window))
    # Same extent in mm as the original: pixel size is spacing / 2 over the same edges.
    assert compare.sr_item.mapRectToParent(compare.sr_item.boundingRect()) == (
        compare.original_view.image_rect()
    )
    assert compare.sr_view.image_rect() == compare.original_view.image_rect()
    assert compare.device_label.text().strip() == "CPU"
    assert compare.progress_bar.value() == compare.progress_bar.maximum() > 0
    # Linked zoom/pan: both panes show the same mm range.
    qtbot.wait(20)
    np.testing.assert_allclose(
        compare.sr_view.view_box.viewRange(),
        compare.original_view.view_box.viewRange(),
        atol=0.05,
    )
    compare.sr_view.view_box.scaleBy(x=0.5, y=0.5)  # zoom in on the SR pane
    compare.sr_view.view_box.translateBy(x=3.0, y=-2.0)
    np.testing.assert_allclose(
        compare.original_view.view_box.viewRange(),
        compare.sr_view.view_box.viewRange(),
        atol=0.05,
    )
    # Same levels as the original.
    assert tuple(compare.sr_item.levels) == tuple(window.viewer.display_window.levels)

    # Scroll with the wheel over the SR pane, then with the keyboard: SR follows.
    start = window.viewer.slice_index(AXIAL)
    wheel(compare.sr_view, 1)
    assert window.viewer.slice_index(AXIAL) == start + 1
    assert compare.sr_view.slice_index == start + 1
    qtbot.waitUntil(lambda: compare.complete, timeout=10000)
    assert _close(compare.shown_image(), _expected(window))  # type: ignore[arg-type]
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert window.viewer.slice_index(AXIAL) == start - 1
    qtbot.waitUntil(
        lambda: compare.complete and _close(compare.shown_image(), _expected(window)),
        timeout=10000,
    )

    # Original pane drawn bicubic on the fine grid (default), nearest = native grid.
    original = np.asarray(compare.original_view.image_item.image)
    assert _close(original, _expected(window))
    compare.set_interpolation(Interpolation.NEAREST)
    native = window.viewer.display.slice_array(AXIAL, start - 1)  # type: ignore[union-attr]
    assert np.array_equal(np.asarray(compare.original_view.image_item.image), native)

    # Difference: SR minus bicubic is ~0 for the bicubic model, symmetric levels (computed
    # off the GUI thread: the SR image stays until the map arrives).
    compare.set_mode(CompareMode.DIFFERENCE)
    qtbot.waitUntil(lambda: compare.shown_map() is not None, timeout=5000)
    diff = compare.shown_image()
    assert diff is not None and float(np.max(np.abs(diff))) <= 1e-3 * float(np.ptp(native))
    low, high = compare.sr_item.levels
    assert low == -high

    # Swipe: one pane, SR left of the divider, original (nearest, as chosen) right.
    compare.set_mode(CompareMode.SWIPE)
    assert not compare.original_column.isVisible() and compare.divider.isVisible()
    rect = compare.sr_view.image_rect()
    compare.set_divider(rect.width() / 4)
    column = compare.swipe_column()
    assert column == pytest.approx(compare.sr_image().shape[1] / 4, abs=1)  # type: ignore[union-attr]
    shown = compare.shown_image()
    sr = compare.sr_image()
    original_fine = upsample(native, 2, Interpolation.NEAREST)
    assert shown is not None and sr is not None
    assert np.array_equal(shown[:, :column], sr[:, :column])
    assert np.array_equal(shown[:, column:], original_fine[:, column:])

    # Off again: the original pane alone, native grid.
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert not window.sr_action.isChecked() and not compare.isVisible()
    assert compare.original_column.isVisible()


def test_raising_model_shows_error_and_window_stays_usable(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    open_and_wait(qtbot, window, [small_t1])
    _choose(window, zoo["raises"])
    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=10000)
    assert "deliberate failure" in window.error_banner.text()
    start = window.viewer.slice_index(AXIAL)
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.viewer.slice_index(AXIAL) == start + 1
    # Switching to a working model recovers.
    _choose(window, zoo["bicubic-x2"])
    qtbot.waitUntil(lambda: window.compare.complete, timeout=10000)
    assert _close(window.compare.shown_image(), _expected(window))  # type: ignore[arg-type]


def test_sr_needs_a_study(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert not window.sr_action.isChecked()
    assert "Open a study" in window.error_banner.text()


def test_coronal_and_sagittal_compare_and_three_planes_switch_off(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    open_and_wait(qtbot, window, [small_t1])
    _choose(window, zoo["bicubic-x2"])
    _press_s_and_wait(qtbot, window)
    compare = window.compare
    display = window.viewer.display
    assert display is not None
    for key, orientation in (
        (Qt.Key.Key_2, Orientation.CORONAL),
        (Qt.Key.Key_3, Orientation.SAGITTAL),
    ):
        qtbot.keyClick(window, key)
        assert window.sr_action.isChecked() and compare.orientation == orientation
        qtbot.waitUntil(lambda: compare.complete, timeout=10000)
        # These planes are drawn upside down relative to the array: the result must be too.
        index = window.viewer.slice_index(orientation)
        expected = upsample(display.slice_array(orientation, index), 2, Interpolation.BICUBIC)
        assert _close(compare.shown_image(), expected)  # type: ignore[arg-type]
        assert compare.sr_view.image_rect() == window.viewer.views[orientation].image_rect()
        qtbot.keyClick(window, Qt.Key.Key_Up)
        qtbot.waitUntil(lambda: compare.complete, timeout=10000)
        expected = upsample(display.slice_array(orientation, index + 1), 2, Interpolation.BICUBIC)
        assert _close(compare.shown_image(), expected)  # type: ignore[arg-type]
    qtbot.keyClick(window, Qt.Key.Key_4)
    assert not window.sr_action.isChecked() and not window.compare.isVisible()


def test_tiles_paint_progressively_and_window_and_crosshair_follow(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    open_and_wait(qtbot, window, [small_t1])
    compare = window.compare
    _choose(window, zoo["bicubic-x2"])
    painted: list[float] = []  # fraction of the SR grid painted after each tile
    compare.worker.tileReady.connect(lambda *_a: painted.append(compare.painted_fraction()))
    _press_s_and_wait(qtbot, window)
    assert len(painted) >= 2 and painted[0] < 1.0 and painted == sorted(painted)

    # Window/level: a right-drag on the SR pane changes both panes' levels.
    before = window.viewer.display_window
    compare.sr_view.windowDragged.emit(40.0, -20.0)
    assert window.viewer.display_window != before
    assert tuple(compare.sr_item.levels) == tuple(window.viewer.display_window.levels)
    assert tuple(compare.original_view.image_item.levels) == tuple(compare.sr_item.levels)

    # Crosshair: a click in the SR pane moves the shared point; both crosshairs follow.
    display = window.viewer.display
    assert display is not None
    target = np.array([window.viewer.slice_index(AXIAL), 10.0, 20.0])
    compare.sr_view.pointClicked.emit(target)
    assert compare.sr_view.crosshair_position() == compare.original_view.crosshair_position()
    x, y = compare.original_view.crosshair_position()
    assert compare.original_view.view_to_canonical(x, y)[1:].tolist() == [10, 20]  # type: ignore[index]
    assert compare.sr_view.h_line.isVisible() and compare.original_view.h_line.isVisible()


def test_model_picker_lists_image_models_with_card_tooltips(qtbot: QtBot) -> None:
    from medsr_viewer.gui.views.model_picker import ModelPicker

    picker = ModelPicker()  # bundled and user folders
    qtbot.addWidget(picker)
    names = [picker.itemText(i) for i in range(picker.count())]
    assert {"sr-x2", "sr-x4", "denoise"} <= set(names)
    assert "seg-em-membrane" not in names  # segmentation is not an image-to-image model
    picker.setCurrentIndex(names.index("sr-x4"))
    tip = picker.toolTip()
    assert "task: super_resolution" in tip and "scale: x4" in tip


def test_open_model_file_adds_a_carded_model_and_refuses_others(
    window: MainWindow, zoo: dict[str, Path], tmp_path: Path
) -> None:
    """File ▸ Open Model File: a card-bearing SR model is added and selected; a segmentation
    model and a file without a card are refused with a message naming the file."""
    picker = window.compare.model_picker
    assert window.open_model(zoo["bicubic-x4"])
    entry = picker.current_entry()
    assert entry is not None and entry.card is not None and entry.card.scale == 4

    count = picker.count()
    assert not window.open_model(zoo["threshold-seg"])
    assert picker.count() == count
    assert window.error_banner.isVisible()
    assert "segment" in window.error_banner.text() and "threshold-seg" in window.error_banner.text()

    junk = tmp_path / "not-a-model.pt"
    junk.write_bytes(b"no card here")
    assert not window.open_model(junk)
    assert picker.count() == count
    assert str(junk) in window.error_banner.text()


def test_picker_starts_on_a_super_resolution_model(
    qtbot: QtBot, zoo: dict[str, Path], tmp_path: Path
) -> None:
    """With an enhance model listed before an SR model, the picker starts on the SR one."""
    import shutil

    from medsr_viewer.gui.views.model_picker import ModelPicker

    shutil.copy(zoo["smooth"], tmp_path / "a-smooth.pt")
    shutil.copy(zoo["bicubic-x2"], tmp_path / "b-bicubic.pt")
    picker = ModelPicker(ModelRegistry([("user", tmp_path)]))
    qtbot.addWidget(picker)
    assert [picker.itemText(i) for i in range(picker.count())] == ["smooth", "bicubic-x2"]
    entry = picker.current_entry()
    assert entry is not None and entry.card is not None
    assert entry.card.task == "super_resolution"


def test_picker_starts_on_a_fidelity_model_not_the_perceptual_variant(qtbot: QtBot) -> None:
    """The bundled folder lists sr-x2-perceptual before sr-x2 (file-name order): S must still
    show the fidelity model unless the user picks the one that may invent detail."""
    from medsr_viewer.gui.views.model_picker import ModelPicker
    from medsr_viewer.models.registry import bundled_models_dir

    if not (bundled_models_dir() / "sr-x2-perceptual.safetensors").is_file():
        pytest.skip("sr-x2-perceptual is not bundled")
    picker = ModelPicker(ModelRegistry([("bundled", bundled_models_dir())]))
    qtbot.addWidget(picker)
    names = [picker.itemText(i) for i in range(picker.count())]
    assert names.index("sr-x2-perceptual (perceptual)") < names.index("sr-x2")
    assert picker.itemText(picker.currentIndex()) == "sr-x2"


def test_perceptual_models_are_marked_in_picker_and_pane(
    qtbot: QtBot, window: MainWindow, zoo: dict[str, Path], small_t1: Path, tmp_path: Path
) -> None:
    """A model whose card says it was trained adversarially is never shown unmarked."""
    import dataclasses

    from medsr_viewer.models.archive import load_model, save_torchscript

    plain = load_model(zoo["bicubic-x2"])
    card = dataclasses.replace(plain.card, name="sharp-x2", sha256="",
                               training={"variant": "perceptual (adversarial)"})
    path = tmp_path / "sharp-x2.pt"
    save_torchscript(plain.module, card, path)
    trust_folder_for_tests(tmp_path)  # TorchScript runs code: the test trusts its own file
    picker = window.compare.model_picker
    _choose(window, path)
    assert picker.itemText(picker.currentIndex()) == "sharp-x2 (perceptual)"
    open_and_wait(qtbot, window, [small_t1])
    _press_s_and_wait(qtbot, window)
    assert window.compare.title.text() == "sharp-x2 (x2 perceptual: may invent detail)"
    _choose(window, zoo["bicubic-x2"])
    assert picker.itemText(picker.currentIndex()) == "bicubic-x2"
    assert window.compare.title.text() == "bicubic-x2 (x2 super_resolution)"


def test_upsample_takes_flipped_views_of_any_shape() -> None:
    """A displayed slice is often a flipped view; a flipped axis of length 1 keeps a negative
    stride through ``np.ascontiguousarray`` (issue #15, bug 3)."""
    rng = np.random.default_rng(3)
    for shape in [(1, 40), (40, 1), (2, 40), (12, 16)]:
        stored = rng.random(shape, dtype=np.float32)
        flipped = stored[::-1]
        for mode in Interpolation:
            assert np.array_equal(upsample(flipped, 2, mode), upsample(flipped.copy(), 2, mode))


def test_sr_on_a_2d_image_then_2_keeps_the_one_plane_and_its_result(
    qtbot: QtBot, window: MainWindow, data_dir: Path, zoo: dict[str, Path]
) -> None:
    """Issue #15, bug 3: a 2-D PNG, S, then 2 raised ``negative strides`` in ``upsample``:
    both panes black, no banner, progress still complete. A 2-D image has one plane."""
    open_and_wait(qtbot, window, [data_dir / "isbi2012_em" / "images" / "20.png"])
    _choose(window, zoo["bicubic-x2"])
    _press_s_and_wait(qtbot, window)
    before = window.compare.shown_image()
    assert before is not None and _close(before, _expected(window))
    assert not window.orientation_actions[Orientation.CORONAL].isEnabled()
    assert not window.three_plane_action.isEnabled()
    for key in (Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4):
        qtbot.keyClick(window, key)
    assert window.viewer.orientation == AXIAL and window.compare.enabled
    after = window.compare.shown_image()
    assert after is not None and np.array_equal(after, before)
    original = window.compare.original_view.image_item.image
    assert original is not None and _close(np.asarray(original), _expected(window))
    assert not window.error_banner.isVisible()


def test_a_failure_drawing_the_sr_pane_is_reported_in_the_banner(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_and_wait(qtbot, window, [small_t1])
    _choose(window, zoo["bicubic-x2"])
    _press_s_and_wait(qtbot, window)

    def broken(*_args: object) -> np.ndarray:
        raise ValueError("cannot resample this slice")

    monkeypatch.setattr("medsr_viewer.core.upsampling.upsample", broken)
    wheel(window.compare.original_view, 1)
    qtbot.waitUntil(window.error_banner.isVisible, timeout=5000)  # drawn off the GUI thread
    assert window.error_banner.isVisible()
    assert "cannot resample this slice" in window.error_banner.text()
    assert window.compare.progress_bar.value() == 0 and not window.compare.complete


def test_every_toolbar_control_is_shown_at_the_default_width(
    qtbot: QtBot, window: MainWindow, small_t1: Path, zoo: dict[str, Path]
) -> None:
    """Issue #15, bug 10: at 1200 px the toolbars overflowed into », hiding the
    interpolation choice and the SR progress."""
    from PySide6.QtWidgets import QToolBar, QToolButton

    assert window.width() == 1200
    open_and_wait(qtbot, window, [small_t1])
    _choose(window, zoo["bicubic-x2"])
    _press_s_and_wait(qtbot, window)
    compare = window.compare
    for control in (compare.model_picker, compare.mode_combo, compare.interp_combo,
                    compare.device_label, compare.progress_bar, window.preset_combo):
        assert control.isVisible(), control
    bar = compare.progress_bar
    assert bar.value() == bar.maximum() and bar.text() == f"SR {bar.maximum()}/{bar.maximum()}"
    toolbars = window.findChildren(QToolBar)
    assert len(toolbars) == 4
    for toolbar in toolbars:
        overflow = [b for b in toolbar.findChildren(QToolButton)
                    if b.objectName() == "qt_toolbar_ext_button"]
        assert not any(b.isVisible() for b in overflow), toolbar.windowTitle()
        for action in toolbar.actions():
            widget = toolbar.widgetForAction(action)
            assert widget is None or widget.isVisible(), (toolbar.windowTitle(), action.text())
        assert toolbar.geometry().right() < window.width()
