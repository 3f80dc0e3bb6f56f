"""Adding model files to the SR pane's picker: the card is checked, code-running formats
need the user's trust first.

Only the card is read here (no model code runs); the worker checks the model with a dry run
before its first real slice. A TorchScript / ``torch.export`` file, which runs code when
loaded, is used only once trusted: the trust prompt asks, naming the file and its hash,
unless its folder or content is trusted already.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow

from medsr_viewer.gui.dialogs.trust_prompt import TrustPrompt
from medsr_viewer.gui.views.model_picker import COMPARE_TASKS, ModelPicker
from medsr_viewer.models.registry import describe

MODEL_FILTER = "Model files (*.safetensors *.pt *.pt2 *.ts);;All files (*)"


class ModelOpening:
    """File ▸ Open Model File…, dropped model files, and sessions choosing their model.

    Parameters
    ----------
    window
        Dialog parent and status bar.
    picker
        The SR pane's model picker.
    trust_prompt
        Asks before a file that can run code is used.
    show_error
        Reports a refused file.
    """

    def __init__(self, window: QMainWindow, picker: ModelPicker, trust_prompt: TrustPrompt,
                 show_error: Callable[[str], None]) -> None:
        self._window = window
        self._picker = picker
        self._trust = trust_prompt
        self._show_error = show_error

    def open_model_dialog(self) -> None:
        """Ask for a model file and add it to the model picker (see :meth:`open_model`)."""
        path, _ = QFileDialog.getOpenFileName(self._window, "Open model file", "", MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        """Add the model at ``path`` to the picker and select it, or show why it is refused."""
        entry = describe(Path(path))
        if entry.card is None:
            self._show_error(entry.error or f"{path}: not a model file with a card")
            return False
        if entry.card.task not in COMPARE_TASKS:
            self._show_error(
                f"{path}: model {entry.card.name!r} is a {entry.card.task!r} model; "
                f"the compare view runs {' or '.join(COMPARE_TASKS)} models")
            return False
        if not self._trust.allow(path):
            self._show_error(self._trust.last_problem)
            return False
        self._picker.add_path(path)
        self._window.statusBar().showMessage(f"Model {entry.card.name} added", 5000)
        return True

    def select_model(self, path: str | Path) -> bool:
        """Choose the model at ``path`` in the picker (adding it if needed); ``False`` if
        absent or refused."""
        wanted = Path(path).resolve()
        for index in range(self._picker.count()):
            if Path(str(self._picker.itemData(index))).resolve() == wanted:
                self._picker.setCurrentIndex(index)
                return True
        return self.open_model(path) if Path(path).is_file() else False
