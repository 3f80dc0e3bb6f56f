"""Qt front end: the only package that imports PySide6 and pyqtgraph."""

from medsr_viewer.gui.qt_compat import guard_bool_refcounts

guard_bool_refcounts()
