"""Qt-free and torch-free core: the Volume data model, I/O, geometry, ROIs and metrics."""

from medsr_viewer.core.volume import Volume

__all__ = ["Volume"]
