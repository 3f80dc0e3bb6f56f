"""The main window's menu bar and toolbars, assembled from the action registry.

Menus list the registry's actions of each menu in table order
(:data:`~medsr_viewer.gui.actions.table.ACTIONS`); the features' own menus (Edit, Tools,
Segmentation, W/L: the window/level presets) and toolbars are added where they belong. The
Window menu shows and hides the docks and toolbars; Help has the keyboard shortcuts (read
from the registry) and the About box. Two toolbar rows fit the
default 1200 px width without an overflow menu: files, planes, window and labels; then
super-resolution (model, mode, interpolation, device, progress) and the ROI tools.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QToolBar, QWidget

from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.actions.table import MENUS
from medsr_viewer.gui.dialogs.help_dialogs import show_about, show_shortcuts
from medsr_viewer.gui.services.settings import RecentFiles


class RecentMenu(QMenu):
    """File ▸ Open Recent: the recent-files list, rebuilt each time it opens."""

    def __init__(self, recent: RecentFiles, open_path: Callable[[str], object],
                 parent: QWidget) -> None:
        super().__init__("Open &Recent", parent)
        self._recent = recent
        self._open = open_path
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        """List the recent studies (and Clear Recent)."""
        self.clear()
        paths = self._recent.paths()
        for path in paths:
            action = self.addAction(path)
            action.triggered.connect(lambda _c=False, p=path: self._open(p))
        if paths:
            self.addSeparator()
            self.addAction("Clear Recent", self._clear)
        self.setEnabled(bool(paths))

    def _clear(self) -> None:
        self._recent.clear()
        self.rebuild()


class WindowMenu(QMenu):
    """Window: show or hide each dock (its ``toggleViewAction``), then each toolbar; rebuilt
    each time it opens, so docks and toolbars added later are listed."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("&Window", window)
        self.setObjectName("windowMenu")
        self._window = window
        self.aboutToShow.connect(self.rebuild)

    def rebuild(self) -> None:
        """List the window's docks (by title), a separator, its toolbars (as laid out)."""
        self.clear()
        docks = sorted((d for d in self._window.findChildren(QDockWidget)
                        if d.parent() is self._window), key=lambda d: d.windowTitle())
        for dock in docks:
            self.addAction(dock.toggleViewAction())
        bars = sorted((b for b in self._window.findChildren(QToolBar)
                       if self._window.toolBarArea(b) != Qt.ToolBarArea.NoToolBarArea),
                      key=lambda b: (b.y(), b.x()))  # rows top to bottom, left to right
        if docks and bars:
            self.addSeparator()
        for bar in bars:
            toggle = bar.toggleViewAction()
            toggle.setText(f"{bar.windowTitle()} Toolbar")
            self.addAction(toggle)


def build_menus(window: QMainWindow, actions: ActionRegistry, recent: QMenu,
                feature_menus: dict[str, QMenu]) -> None:
    """File, Edit, View, Tools, Segmentation, W/L, Window and Help menus.

    ``feature_menus`` maps a menu name to the menu a feature built ("Edit", "Tools",
    "Segmentation", "W/L"); File, View and Help are made from the table here, Window lists
    the docks and toolbars (see :class:`WindowMenu`).
    """
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    actions.fill_menu(file_menu, "File")
    file_menu.insertMenu(actions.action("file.open_demo"), recent)
    actions.bind("help.shortcuts", lambda _c=False: show_shortcuts(window, actions.rows, MENUS))
    actions.bind("help.about", lambda _c=False: show_about(window))
    for name in MENUS:
        if name in ("View", "Help"):
            actions.fill_menu(bar.addMenu(f"&{name}"), name)
        elif name == "Window":
            bar.addMenu(WindowMenu(window))
        elif name in feature_menus:
            bar.addMenu(feature_menus[name])


def build_toolbars(window: QMainWindow, actions: ActionRegistry, window_box: QWidget,
                   sr_widgets: list[tuple[str, QWidget]], label_toolbar: QToolBar,
                   roi_toolbar: QToolBar) -> None:
    """The two toolbar rows. ``sr_widgets``: ``(label, widget)`` pairs after the SR button
    ("" = no label)."""
    main = window.addToolBar("Main")
    main.setObjectName("mainToolbar")
    for action_id in ("file.open", "file.open_folder", "-", "view.axial", "view.coronal",
                      "view.sagittal", "view.three_plane", "view.reset", "-"):
        if action_id == "-":
            main.addSeparator()
        else:
            main.addAction(actions.action(action_id))
    main.addWidget(QLabel(" Window: ", window))
    main.addWidget(window_box)
    window.addToolBar(label_toolbar)
    window.addToolBarBreak()
    sr_toolbar = window.addToolBar("Super-resolution")
    sr_toolbar.setObjectName("srToolbar")
    sr_toolbar.addAction(actions.action("view.sr"))
    for label, widget in sr_widgets:
        if label:
            sr_toolbar.addWidget(QLabel(label, window))
        sr_toolbar.addWidget(widget)
    window.addToolBar(roi_toolbar)
    for menu in window.findChildren(WindowMenu):
        menu.rebuild()  # list the toolbars now (the menu also rebuilds when it opens)
