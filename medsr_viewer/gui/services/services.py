"""The services the window's parts are handed, made once per window.

Parts receive what they use (the worker, the model registry ...) from here instead of
reaching for it through other widgets (``compare.worker``, ``model_picker.registry``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from medsr_viewer.core.notify import Notifier
from medsr_viewer.gui.dialogs.trust_prompt import TrustPrompt
from medsr_viewer.gui.services.settings import RecentFiles
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.gui.workers.study_loader import StudyLoader
from medsr_viewer.models.registry import ModelRegistry


@dataclass
class Services:
    """Background workers, model registry, settings and trust decisions of one window.

    Attributes
    ----------
    worker
        Runs models for the panes (tile by tile, latest request wins).
    registry
        Where models are listed from (bundled and user folders).
    loader
        Loads studies in the background.
    notifier
        Warnings and errors posted by background work (shown in the banners).
    recent
        The recent-files list (in the settings file).
    trust_prompt
        Asks before a model file that can run code is used.
    """

    worker: InferenceWorker
    registry: ModelRegistry
    loader: StudyLoader
    notifier: Notifier
    recent: RecentFiles
    trust_prompt: TrustPrompt

    @classmethod
    def create(cls, parent: QWidget, settings: QSettings | None = None,
               worker: InferenceWorker | None = None,
               registry: ModelRegistry | None = None) -> Services:
        """The services of a new window (defaults: a worker on the ``auto`` device, the
        bundled and user model folders, the user's settings file)."""
        worker = worker if worker is not None else InferenceWorker(parent)
        return cls(worker=worker,
                   registry=registry if registry is not None else ModelRegistry(),
                   loader=StudyLoader(parent), notifier=worker.notifier,
                   recent=RecentFiles(settings), trust_prompt=TrustPrompt(parent))
