"""Entry script of the frozen (PyInstaller) app: ``medsr-viewer`` as the console script runs it.

``packaging/medsr_viewer.spec`` freezes this file; it only calls
:func:`medsr_viewer.gui.app.entry`, so the frozen app takes the same arguments
(``--demo``, ``--selftest``, ``--check-display``, paths).
"""

from __future__ import annotations

import multiprocessing

from medsr_viewer.gui.app import entry

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a child process of the frozen app runs its task only
    entry()
