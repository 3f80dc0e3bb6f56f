"""Window presets on a CT, the application entry point, the demo study and screenshots."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import drag, open_and_wait
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from medsr_viewer.core import demo
from medsr_viewer.core.geometry import EdgeLabels, Orientation
from medsr_viewer.core.windowing import CT_PRESETS, auto_window
from medsr_viewer.gui.app import build_parser, create_window
from medsr_viewer.gui.export.screenshot import save_screenshot
from medsr_viewer.gui.main_window import MainWindow


def _write_ct(path: Path, cal: tuple[float, float] | None = None) -> Path:
    """A small CT-like NIfTI in HU (air, soft tissue, bone) marked CT in its description."""
    rng = np.random.default_rng(1)
    data = np.full((40, 48, 12), -1000.0, dtype=np.float32)
    data[8:32, 8:40, :] = rng.normal(40, 20, size=(24, 32, 12))
    data[14:18, 10:30, :] = 900.0
    image = nib.Nifti1Image(data, np.diag([0.7, 0.7, 3.0, 1.0]))
    image.header["descrip"] = b"CT head"
    if cal is not None:
        image.header["cal_min"], image.header["cal_max"] = cal
    nib.save(image, path)
    return path


def _levels(main_window: MainWindow) -> tuple[float, float]:
    view = main_window.viewer.views[Orientation.AXIAL]
    low, high = view.image_item.getLevels()
    return (float(low), float(high))


def test_ct_presets_from_menu_shortcut_and_combo(
    qtbot: QtBot, main_window: MainWindow, tmp_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [_write_ct(tmp_path / "ct.nii.gz")])
    volume = main_window.viewer.volume
    assert volume is not None and volume.modality == "CT" and volume.units == "HU"
    combo = main_window.preset_combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["custom", "auto", *CT_PRESETS, "full", "high-contrast", "low-contrast"]
    assert combo.currentText() == "auto"
    assert _levels(main_window) == pytest.approx(auto_window(volume.voxels).levels)

    # Window menu entry
    main_window.preset_actions["lung"].trigger()
    assert _levels(main_window) == pytest.approx((-1350.0, 150.0))
    assert combo.currentText() == "lung"
    # keyboard shortcut: Ctrl+<position in the menu>; "bone" is the last CT preset
    bone_key = list(main_window.preset_actions).index("bone")
    qtbot.keyClick(
        main_window, Qt.Key(Qt.Key.Key_0 + bone_key), Qt.KeyboardModifier.ControlModifier
    )
    assert _levels(main_window) == pytest.approx((-500.0, 1300.0))
    # combo box choice
    combo.textActivated.emit("brain")
    assert _levels(main_window) == pytest.approx((0.0, 80.0))
    assert combo.currentText() == "brain"
    assert main_window.window_label.text() == "W 80 L 40"

    view = main_window.viewer.views[Orientation.AXIAL]
    drag(qtbot, view, Qt.MouseButton.RightButton, view.viewport().rect().center(), QPoint(30, 0))
    assert _levels(main_window)[1] - _levels(main_window)[0] > 80
    assert combo.currentText() == "custom"
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert combo.currentText() == "auto"


def test_ct_with_stored_window_opens_with_it(
    qtbot: QtBot, main_window: MainWindow, tmp_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [_write_ct(tmp_path / "ct_cal.nii.gz", (-160.0, 240.0))])
    assert _levels(main_window) == pytest.approx((-160.0, 240.0))
    assert main_window.preset_combo.currentText() == "stored"
    assert "stored" in main_window.preset_actions


def test_mr_offers_auto_and_presets_of_its_values(
    qtbot: QtBot, main_window: MainWindow, t1_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    assert list(main_window.preset_actions) == ["auto", "full", "high-contrast", "low-contrast"]
    main_window.preset_actions["full"].trigger()
    volume = main_window.viewer.volume
    assert volume is not None
    assert _levels(main_window) == pytest.approx((float(np.nanmin(volume.voxels)),
                                                  float(np.nanmax(volume.voxels))))
    assert main_window.preset_combo.currentText() == "full"


def test_demo_from_the_command_line(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path))
    window = create_window(["--demo"])
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.loader.loaded, timeout=30000):
        pass
    volume = window.viewer.volume
    assert volume is not None
    assert volume.shape == (189, 233, 197)
    assert volume.metadata["source"] == str(demo.demo_study_path())
    axial = window.viewer.views[Orientation.AXIAL]
    assert axial.edge_labels() == EdgeLabels(top="A", bottom="P", left="R", right="L")
    assert (tmp_path / "settings.ini").is_file()  # recent files stored under MEDSR_CONFIG_DIR
    window.close()


def test_demo_paths_and_missing_demo(
    qtbot: QtBot, main_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in (
        demo.demo_study_path(),
        demo.demo_grey_matter_path(),
        demo.demo_white_matter_path(),
    ):
        assert path.is_file() and path.name.endswith(".nii.gz")
    monkeypatch.setattr(demo.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(demo.DemoUnavailable, match=r'pip install "medsr-viewer\[demo\]"'):
        demo.demo_study_path()
    main_window.open_demo()
    assert main_window.error_banner.isVisible()
    assert "medsr-viewer[demo]" in main_window.error_banner.text()
    assert not main_window.loader.is_loading


def test_command_line_parser() -> None:
    args = build_parser().parse_args(["a.nii.gz", "b", "--demo"])
    assert args.paths == ["a.nii.gz", "b"] and args.demo
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0


def test_screenshot_of_a_real_mr(qtbot: QtBot, tmp_path: Path, t1_path: Path) -> None:
    out = save_screenshot(tmp_path / "shot.png", [t1_path], "axial", (640, 480))
    image = QImage(str(out))
    assert (image.width(), image.height()) == (640, 480)
    greys = {
        image.pixelColor(x, y).value() for x in range(100, 540, 20) for y in range(100, 400, 20)
    }
    assert len(greys) > 20  # anatomy, not a blank or black pane
    assert not list(tmp_path.glob("*.png.*")) and not list(tmp_path.glob("tmp*"))
