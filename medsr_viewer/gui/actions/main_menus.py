"""The main window's menu bar and toolbars, assembled from the action registry.

Menus list the registry's actions of each menu in table order
(:data:`~medsr_viewer.gui.actions.table.ACTIONS`); the features' own menus (Edit, Tools,
Segmentation, Window) and toolbars are added where they belong. Two toolbar rows fit the
default 1200 px width without an overflow menu: files, planes, window and labels; then
super-resolution (model, mode, interpolation, device, progress) and the ROI tools.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QToolBar, QWidget

from medsr_viewer.gui.actions.registry import ActionRegistry
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


def build_menus(window: QMainWindow, actions: ActionRegistry, recent: QMenu,
                feature_menus: dict[str, QMenu]) -> None:
    """File, Edit, View, Tools, Segmentation and Window menus.

    ``feature_menus`` maps a menu name to the menu a feature built ("Edit", "Tools",
    "Segmentation", "Window"); File and View are made from the table here.
    """
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    actions.fill_menu(file_menu, "File")
    file_menu.insertMenu(actions.action("file.open_demo"), recent)
    for name in ("Edit", "View", "Tools", "Segmentation", "Window"):
        if name == "View":
            view_menu = bar.addMenu("&View")
            actions.fill_menu(view_menu, "View")
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
