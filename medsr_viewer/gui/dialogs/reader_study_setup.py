"""Tools ▸ Blinded Reader Study…: who reads, which two methods, which slices, which seed.

The methods are the model picker's super-resolution and enhancement models and the
baselines (bicubic; the original pixels repeated). The slices are spread evenly through the
plane shown, or the current slice and its neighbours. The seed fixes the trial order and
the sides (a new random one each time, editable to repeat a study).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

TITLE = "Blinded Reader Study"
#: Slices of a study by default (evenly spaced), and the radius around the current slice.
DEFAULT_COUNT, DEFAULT_RADIUS = 10, 2
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class ReaderSetup:
    """What the setup dialog asked for.

    Parameters
    ----------
    reader
        The reader's name.
    methods
        The two methods: model file paths or ``bicubic`` / ``original``.
    evenly
        Slices spread evenly through the plane (``True``) or around the current one.
    count
        Number of evenly spaced slices.
    radius
        Slices each side of the current one.
    seed
        Seed of the trial order and sides.
    """

    reader: str
    methods: tuple[str, str]
    evenly: bool
    count: int
    radius: int
    seed: int


class ReaderSetupDialog(QDialog):
    """Asks for a :class:`ReaderSetup`; Start is enabled once the reader is named and the
    two methods differ.

    Parameters
    ----------
    choices
        ``(label, method)`` of every method offered, in order.
    defaults
        The two methods selected at first.
    plane_text
        The plane and its slice count (``"axial, 120 slices"``).
    n_slices
        Slices in the plane (the largest count).
    reader
        The reader's name at first (the last one used).
    parent
        Dialog parent.
    """

    def __init__(self, choices: Sequence[tuple[str, str]], defaults: tuple[str, str],
                 plane_text: str, n_slices: int, reader: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.reader_edit = QLineEdit(reader, self)
        self.reader_edit.setPlaceholderText("your name (written to the results)")
        self.method_boxes = (QComboBox(self), QComboBox(self))
        for box, default in zip(self.method_boxes, defaults):
            for label, method in choices:
                box.addItem(label, method)
            found = box.findData(default)
            box.setCurrentIndex(max(found, 0))
        self.evenly_radio = QRadioButton(f"Evenly spaced through the plane ({plane_text}):",
                                         self)
        self.around_radio = QRadioButton("The current slice and its neighbours, ±", self)
        group = QButtonGroup(self)
        group.addButton(self.evenly_radio)
        group.addButton(self.around_radio)
        self.evenly_radio.setChecked(True)
        self.count_spin = QSpinBox(self)
        self.count_spin.setRange(1, max(1, n_slices))
        self.count_spin.setValue(min(DEFAULT_COUNT, max(1, n_slices)))
        self.count_spin.setSuffix(" slices")
        self.radius_spin = QSpinBox(self)
        self.radius_spin.setRange(0, max(0, n_slices - 1))
        self.radius_spin.setValue(min(DEFAULT_RADIUS, max(0, n_slices - 1)))
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setValue(secrets.randbelow(MAX_SEED))
        self.problem_label = QLabel("", self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        start = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        start.setText("Start")
        self.start_button = start
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Reader:", self.reader_edit)
        form.addRow("Method 1:", self.method_boxes[0])
        form.addRow("Method 2:", self.method_boxes[1])
        form.addRow("Seed:", self.seed_spin)
        evenly = QHBoxLayout()
        evenly.addWidget(self.evenly_radio)
        evenly.addWidget(self.count_spin)
        around = QHBoxLayout()
        around.addWidget(self.around_radio)
        around.addWidget(self.radius_spin)
        note = QLabel("Each slice is shown once per pair, in random order and with the sides "
                      "drawn at random; the method names are hidden until the results file.",
                      self)
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(evenly)
        layout.addLayout(around)
        layout.addWidget(note)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)
        self.reader_edit.textChanged.connect(self._check)
        for box in self.method_boxes:
            box.currentIndexChanged.connect(self._check)
        self._check()

    def values(self) -> ReaderSetup:
        """What the dialog holds now."""
        first, second = (str(box.currentData()) for box in self.method_boxes)
        return ReaderSetup(self.reader_edit.text().strip(), (first, second),
                           self.evenly_radio.isChecked(), self.count_spin.value(),
                           self.radius_spin.value(), self.seed_spin.value())

    def problem(self) -> str:
        """Why the study cannot start yet ("" when it can)."""
        setup = self.values()
        if not setup.reader:
            return "Enter the reader's name."
        if setup.methods[0] == setup.methods[1]:
            return "Choose two different methods."
        return ""

    def _check(self, *_args: object) -> None:
        problem = self.problem()
        self.problem_label.setText(problem)
        self.start_button.setEnabled(not problem)
