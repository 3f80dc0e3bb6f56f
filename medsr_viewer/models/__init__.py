"""Torch-side of MedSR Viewer: model cards, model archives, registry, inference and training.

Nothing here imports Qt; the GUI drives these pieces through a worker thread.
"""
