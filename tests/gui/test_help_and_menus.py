"""What users expect of the menus (issue #15): Help (keyboard shortcuts, About), a W/L menu for
the window/level presets and a Window menu for the docks and toolbars, readable model cards in
the picker's tooltip and an ROI Metrics dock no taller than its table needs."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import drag, open_and_wait, view_point
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QTextDocument
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.dialogs.help_dialogs import AboutDialog, ShortcutsDialog
from medsr_viewer.gui.main_window import MainWindow

LEFT = Qt.MouseButton.LeftButton


def _write_ct(path: Path) -> Path:
    """A small CT-like NIfTI in HU (it gets the CT window presets)."""
    data = np.full((40, 48, 6), -1000.0, dtype=np.float32)
    data[8:32, 8:40, :] = np.random.default_rng(2).normal(40, 20, size=(24, 32, 6))
    image = nib.Nifti1Image(data, np.diag([0.7, 0.7, 3.0, 1.0]))
    image.header["descrip"] = b"CT head"
    nib.save(image, path)
    return path


def _menu(window: MainWindow, title: str) -> QMenu:
    """The menu-bar menu titled ``title`` (as shown, mnemonic included)."""
    for action in window.menuBar().actions():
        if action.text() == title:
            menu = action.menu()
            assert isinstance(menu, QMenu)
            return menu
    raise AssertionError(f"no menu {title!r} in {[a.text() for a in window.menuBar().actions()]}")


def _click_menu_item(qtbot: QtBot, window: MainWindow, title: str, text: str) -> QAction:
    """Open menu ``title`` below its menu-bar entry and click its item ``text``."""
    menu = _menu(window, title)
    bar = window.menuBar()
    entry = next(a for a in bar.actions() if a.menu() is menu)
    menu.popup(bar.mapToGlobal(bar.actionGeometry(entry).bottomLeft()))
    qtbot.waitUntil(menu.isVisible)
    item = next((a for a in menu.actions() if a.text() == text), None)
    assert item is not None, [a.text() for a in menu.actions()]
    qtbot.mouseClick(menu, LEFT, pos=menu.actionGeometry(item).center())
    qtbot.waitUntil(lambda: not menu.isVisible())
    return item


def _shortcuts_dialog(window: MainWindow) -> ShortcutsDialog:
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_menu_bar_has_wl_window_and_help_menus(qtbot: QtBot, main_window: MainWindow,
                                               tmp_path: Path) -> None:
    titles = [a.text() for a in main_window.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Tools", "&Segmentation", "&W/L", "&Window",
                      "&Help"]
    open_and_wait(qtbot, main_window, [_write_ct(tmp_path / "ct.nii.gz")])
    # W/L: the study's presets, on Ctrl+0 ... (ids unchanged)
    entries = _menu(main_window, "&W/L").actions()
    n = len(main_window.preset_actions)
    presets = entries[:n]
    assert [a.text() for a in presets] == [a.text() for a in main_window.preset_actions.values()]
    assert presets[0].shortcut().toString() == "Ctrl+0"
    # then the colour maps and Invert (after a separator)
    assert entries[n].isSeparator()
    assert [a.text() for a in entries[n + 1:] if not a.isSeparator()] == [
        "&Grey", "&Hot", "&Inferno", "&Viridis", "Next &Colour Map", "In&vert"]
    _click_menu_item(qtbot, main_window, "&W/L", "Lung")
    assert main_window.preset_combo.currentText() == "lung"
    assert ActionRegistry.of(main_window).spec("window.preset.lung").menu == "W/L"

    # Window: show or hide the docks and the toolbars
    window_menu = _menu(main_window, "&Window")
    window_menu.aboutToShow.emit()
    texts = [a.text() for a in window_menu.actions() if not a.isSeparator()]
    assert texts[:2] == ["Labels", "ROI Metrics"]
    assert {"Main Toolbar", "Super-resolution Toolbar", "ROI Toolbar"} <= set(texts[2:])
    labels_shown = main_window.label_dock.isVisible()
    _click_menu_item(qtbot, main_window, "&Window", "Labels")
    assert main_window.label_dock.isVisible() is not labels_shown
    _click_menu_item(qtbot, main_window, "&Window", "Labels")
    assert main_window.label_dock.isVisible() is labels_shown
    _click_menu_item(qtbot, main_window, "&Window", "Main Toolbar")
    main_toolbar = main_window.findChild(type(main_window.roi_tools.toolbar), "mainToolbar")
    assert main_toolbar is not None and not main_toolbar.isVisible()
    _click_menu_item(qtbot, main_window, "&Window", "Main Toolbar")
    assert main_toolbar.isVisible()
    assert not main_window.metrics_dock.isVisible()
    _click_menu_item(qtbot, main_window, "&Window", "ROI Metrics")
    assert main_window.metrics_dock.isVisible()


def test_shortcuts_dialog_lists_the_registry_by_menu_and_follows_changes(
    qtbot: QtBot, main_window: MainWindow, tmp_path: Path
) -> None:
    registry = ActionRegistry.of(main_window)
    open_and_wait(qtbot, main_window, [_write_ct(tmp_path / "ct.nii.gz")])
    qtbot.keyClick(main_window, Qt.Key.Key_F1)  # Help ▸ Keyboard Shortcuts…
    dialog = _shortcuts_dialog(main_window)
    assert not dialog.isModal()
    shown = dialog.shown_rows()
    assert ("View", "Super-Resolution", "S") in shown
    assert ("W/L", "Bone", f"Ctrl+{list(main_window.preset_actions).index('bone')}") in shown
    assert ("Help", "Keyboard Shortcuts…", "F1") in shown
    # exactly the registry's rows, grouped by menu in menu-bar order
    assert sorted(shown) == sorted((m, a, k) for m, a, k, _tip in registry.rows())
    groups = [m for m, _a, _k in shown]
    assert groups.index("File") < groups.index("View") < groups.index("W/L")
    group_texts = [dialog.tree.topLevelItem(i).text(0)
                   for i in range(dialog.tree.topLevelItemCount())]
    assert len(group_texts) == len(set(group_texts))  # each menu is one group

    # the user types in the filter: only matching rows stay
    qtbot.keyClicks(dialog.filter_edit, "super")
    assert dialog.shown_rows() == [("View", "Super-Resolution", "S")]
    dialog.filter_edit.clear()
    assert len(dialog.shown_rows()) == len(shown)
    dialog.close()
    assert not dialog.isVisible()

    # a changed shortcut is shown when the dialog is opened again (from the Help menu)
    registry.with_shortcuts("view.sr", ("Ctrl+Alt+S",))
    _click_menu_item(qtbot, main_window, "&Help", "&Keyboard Shortcuts…")
    again = _shortcuts_dialog(main_window)
    assert again is dialog
    assert ("View", "Super-Resolution", "Ctrl+Alt+S") in again.shown_rows()
    assert ("View", "Super-Resolution", "S") not in again.shown_rows()


def test_about_shows_the_versions_as_selectable_text(qtbot: QtBot,
                                                     main_window: MainWindow) -> None:
    import platform

    from PySide6 import __version__ as pyside

    _click_menu_item(qtbot, main_window, "&Help", "&About MedSR Viewer")
    dialog = main_window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    doc = QTextDocument()
    doc.setHtml(dialog.label.text())
    text = doc.toPlainText()
    assert f"MedSR Viewer {metadata.version('medsr-viewer')}" in text
    for name, version in [("Python", platform.python_version()), ("PySide6", pyside),
                          ("NumPy", np.__version__), ("PyTorch", metadata.version("torch")),
                          ("pyqtgraph", metadata.version("pyqtgraph")),
                          ("pydicom", metadata.version("pydicom")),
                          ("NiBabel", nib.__version__)]:
        assert re.search(rf"{re.escape(name)}\s+{re.escape(version)}", text), (name, text)
    flags = dialog.label.textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.TextSelectableByMouse
    # the user selects all and copies: the clipboard holds the versions
    dialog.label.setFocus()
    qtbot.keyClick(dialog.label, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(dialog.label, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert np.__version__ in QApplication.clipboard().text()


def test_model_picker_tooltip_is_the_card_as_readable_text(qtbot: QtBot) -> None:
    from medsr_viewer.gui.views.model_picker import ModelPicker

    picker = ModelPicker()  # bundled and user folders
    qtbot.addWidget(picker)
    names = [picker.itemText(i) for i in range(picker.count())]
    picker.setCurrentIndex(names.index("sr-x2"))
    tip = picker.toolTip()
    assert re.search(r"<tr><td>PSNR</td><td[^>]*>3\d\.\d\d dB</td>", tip)
    assert "validation_subset." not in tip and "validation." not in tip
    doc = QTextDocument()
    doc.setHtml(tip)
    text = doc.toPlainText()
    assert "sr-x2" in text and "task: super_resolution" in text and "scale: x2" in text
    assert "training data: spm152" in text and "domain: MR, CT" in text
    assert "SSIM" in text and "bicubic" in text
    # the same card in the drop-down's item tooltip
    item_tip = picker.itemData(names.index("sr-x2"), Qt.ItemDataRole.ToolTipRole)
    assert item_tip == tip


@pytest.fixture
def big_window(qtbot: QtBot, main_window: MainWindow) -> MainWindow:
    main_window.resize(1200, 800)
    qtbot.waitUntil(lambda: main_window.height() == 800)
    return main_window


def test_metrics_dock_is_sized_to_its_table(qtbot: QtBot, big_window: MainWindow,
                                            tmp_path: Path) -> None:
    window = big_window
    open_and_wait(qtbot, window, [_write_ct(tmp_path / "ct.nii.gz")])
    view = window.viewer.views[Orientation.AXIAL]
    qtbot.keyClick(window, Qt.Key.Key_Q)  # Rectangle ROI tool
    start = view_point(view, 10, 10)
    drag(qtbot, view, LEFT, start, view_point(view, 25, 30) - start)
    assert len(window.rois) == 1
    dock = window.metrics_dock
    qtbot.waitUntil(lambda: dock.isVisible() and window.metrics_panel.table.rowCount() == 1)
    assert dock.height() < 0.35 * window.height()  # header, 3 rows and controls, not ~43 %
    assert dock.height() <= dock.sizeHint().height() + 2  # not stretched past its hint
    assert window.centralWidget().height() > 0.5 * window.height()  # the images keep most
    table = window.metrics_panel.table
    last = table.visualItemRect(table.item(0, 0))
    assert table.viewport().rect().contains(last)  # the row is fully shown

    # a user-chosen height is kept when the table changes
    window.resizeDocks([dock], [300], Qt.Orientation.Vertical)
    qtbot.wait(20)
    user_height = dock.height()
    start = view_point(view, 2, 2)
    drag(qtbot, view, LEFT, start, view_point(view, 6, 6) - start)
    qtbot.waitUntil(lambda: table.rowCount() == 2)
    qtbot.wait(20)
    assert dock.height() == user_height
