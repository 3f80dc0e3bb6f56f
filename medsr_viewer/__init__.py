"""MedSR Viewer: a medical image viewer with on-demand deep-learning super-resolution.

Layers (enforced by import-linter contracts in ``pyproject.toml``):

- :mod:`medsr_viewer.core` -- Qt-free, torch-free data model, I/O, geometry and metrics.
- :mod:`medsr_viewer.models` -- torch models, cards, registry, tiled inference, training.
- :mod:`medsr_viewer.cli` and :mod:`medsr_viewer.gui` -- the two front ends.
"""

__version__ = "0.1.0"
