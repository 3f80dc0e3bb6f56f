"""The question the viewer asks before a model file that can run code is used.

Every way a model file enters the viewer (File ▸ Open Model File, the segmentation dock's
Open Model, a session naming a model) passes through :meth:`TrustPrompt.allow`. Files in the
safe format, and files the user already trusted (by folder or by the hash of their bytes,
:mod:`medsr_viewer.models.trust`), pass silently. Any other TorchScript or ``torch.export``
file is shown in a dialog that names the file, what it claims to be and its SHA-256; only
an explicit "Trust and Load" records the hash (so the question is asked once per file
content) and lets it through. The worker refuses untrusted files too, so a path that skips
this dialog still runs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from medsr_viewer.models.archive import read_card, runs_code
from medsr_viewer.models.card import CardError
from medsr_viewer.models.identity import file_sha256
from medsr_viewer.models.trust import TrustError, TrustStore

#: ``confirm(path, card name, sha256) -> trust it?``
Confirm = Callable[[Path, str, str], bool]


class TrustPrompt:
    """Asks the user, once per file content, before a code-bearing model file is used.

    Parameters
    ----------
    parent
        The dialog's parent window.
    store
        Where decisions are kept (default: the user's trust store).
    confirm
        Replaces the dialog (for scripted use); default :meth:`ask`.

    Attributes
    ----------
    last_problem
        Why the last :meth:`allow` refused ("" when it allowed), for the caller's banner.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        store: TrustStore | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        self.parent = parent
        self.store = store if store is not None else TrustStore()
        self.confirm: Confirm = confirm if confirm is not None else self.ask
        self.last_problem = ""

    def allow(self, path: str | Path) -> bool:
        """Whether the model at ``path`` may be loaded, asking the user when needed."""
        target = Path(path)
        self.last_problem = ""
        if not runs_code(target):
            return True
        try:
            digest = file_sha256(target)
            name = read_card(target).name
        except (OSError, CardError) as exc:
            self.last_problem = str(exc)
            return False
        if self.store.is_trusted(target, digest):
            return True
        if not self.confirm(target, name, digest):
            self.last_problem = (f"{target}: not loaded – the model file can run code and was "
                                 "not trusted")
            return False
        try:
            self.store.trust_file(target, name)
        except TrustError as exc:
            self.last_problem = str(exc)
            return False
        return True

    def ask(self, path: Path, name: str, digest: str) -> bool:
        """The dialog: file, claimed name and hash; "Trust and Load" or "Cancel" (default)."""
        box = QMessageBox(self.parent)
        box.setObjectName("trustModelDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Trust this model file?")
        box.setText(f"“{path.name}” can run code on this computer when it is loaded.")
        box.setInformativeText(
            f"It is a TorchScript / torch.export archive that calls itself “{name}”. Such a "
            "file can read, change or send your files. Load it only if you trust where it came "
            f"from.\n\nFile: {path}\nSHA-256: {digest}\n\nThe decision is remembered for "
            "exactly this file content."
        )
        trust = box.addButton("Trust and Load", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is trust
