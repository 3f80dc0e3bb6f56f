"""The volume bar under the images: step through the volumes of a 4-D study.

A DWI, fMRI, multi-echo or multi-phase series holds several 3-D volumes on one grid
(:class:`~medsr_viewer.core.study.Study`); the bar shows which one is on screen (slider, spin
box "n / N" and its label, e.g. ``b=1000 dir 3 4/13`` or ``t=4/6``) and, when the series has
several kinds of image (magnitude and phase, a field map ...), a box to choose the kind. The
bar holds no state: it shows the :class:`Study` it is given and reports what the user asks
for; the main window changes the study. Hidden for 3-D studies.

Keys (actions of the main window, also in the View menu): Alt+Up or ``.`` next volume,
Alt+Down or ``,`` previous volume.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)

from medsr_viewer.core.study import Study
from medsr_viewer.gui.actions.registry import ActionRegistry


class VolumeSpinBox(QSpinBox):
    """The volume number: while it has the focus, Up/Down/PageUp/PageDown step *it* (the
    volume) instead of triggering the window's slice shortcuts."""

    STEP_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)

    def event(self, event: QEvent) -> bool:
        """Claim the step keys before the window's shortcuts see them."""
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and event.key() in self.STEP_KEYS \
                and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            event.accept()
            return True
        return super().event(event)


class VolumeBar(QWidget):
    """Slider, spin box, label and kind of image of the shown volume of a 4-D study.

    Parameters
    ----------
    window
        The main window: owner of the next/previous volume actions (so their keys work
        whatever has the focus) and the bar's parent.

    Signals
    -------
    volumeRequested(int)
        The user chose volume ``index`` (0-based) of the shown group.
    stepRequested(int)
        The user asked for the volume ``delta`` places on (the keys).
    groupRequested(int)
        The user chose another kind of image (group index).
    """

    volumeRequested = Signal(int)
    stepRequested = Signal(int)
    groupRequested = Signal(int)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("volumeBar")
        self.title = QLabel("Volume", self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        # no keyboard focus: Up/Down must keep paging slices after the slider was dragged
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setMinimumWidth(160)
        self.slider.setToolTip("Volume of the series (Alt+Up / Alt+Down, or . and ,)")
        self.spin = VolumeSpinBox(self)
        self.spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.spin.setKeyboardTracking(False)  # typing "12" asks once, for 12
        self.spin.setToolTip("Volume number (1-based)")
        self.label = QLabel(self)
        self.label.setObjectName("volumeLabel")
        self.label.setMinimumWidth(180)
        self.label.setStyleSheet("font-weight: bold;")
        self.kind_title = QLabel(" Image: ", self)
        self.kind_combo = QComboBox(self)
        self.kind_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.kind_combo.setToolTip("Kind of image of the series (magnitude, phase, field map …)")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.title)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        row.addWidget(self.label)
        row.addWidget(self.kind_title)
        row.addWidget(self.kind_combo)

        actions = ActionRegistry.of(window)  # window actions: the keys work with menus hidden
        self.next_action = actions.bind("volume.next", lambda: self.stepRequested.emit(1))
        self.previous_action = actions.bind("volume.previous",
                                            lambda: self.stepRequested.emit(-1))
        self._filling = False
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.show_study(None)

    @property
    def actions_list(self) -> list[QAction]:
        """The next and previous volume actions (for the View menu)."""
        return [self.next_action, self.previous_action]

    def show_study(self, study: Study | None) -> None:
        """Show which volume of ``study`` is on screen; hidden when there is nothing to step
        (``None``, or a study of one volume of one kind)."""
        self._filling = True
        try:
            multi = study is not None and study.is_multi_volume
            self.setVisible(multi)
            several = study is not None and study.n_volumes > 1
            for action in self.actions_list:
                action.setEnabled(several)
            if study is None or not multi:
                self.label.setText("")
                return
            count = study.n_volumes
            for widget in (self.title, self.slider, self.spin):
                widget.setVisible(several)
            self.slider.setRange(0, count - 1)
            self.slider.setValue(study.shown_index)
            self.spin.setRange(1, count)
            self.spin.setSuffix(f" / {count}")
            self.spin.setValue(study.shown_index + 1)
            self.label.setText(study.shown_label() or study.group.kind)
            kinds = [f"{g.kind} ({g.n_volumes} volume{'s' if g.n_volumes > 1 else ''})"
                     for g in study.groups]
            if [self.kind_combo.itemText(i) for i in range(self.kind_combo.count())] != kinds:
                self.kind_combo.clear()
                self.kind_combo.addItems(kinds)
            self.kind_combo.setCurrentIndex(study.shown_group)
            self.kind_title.setVisible(len(kinds) > 1)
            self.kind_combo.setVisible(len(kinds) > 1)
        finally:
            self._filling = False

    def _on_slider(self, value: int) -> None:
        if not self._filling:
            self.volumeRequested.emit(int(value))

    def _on_spin(self, value: int) -> None:
        if not self._filling:
            self.volumeRequested.emit(int(value) - 1)

    def _on_kind(self, index: int) -> None:
        if not self._filling and index >= 0:
            self.groupRequested.emit(int(index))
