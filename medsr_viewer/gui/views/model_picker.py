"""A combo box of the models that can run beside the original (super-resolution, enhance);
each entry's tooltip is its card as readable text (:func:`card_tooltip`)."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from medsr_viewer.models.card import ModelCard
from medsr_viewer.models.registry import ModelEntry, ModelRegistry

#: Tasks the compare view runs: their output is an image on the original's (or a finer) grid.
COMPARE_TASKS = ("super_resolution", "enhance", "through_plane_sr")


#: Score rows shown in a tooltip at most (the card may hold many).
MAX_SCORE_LINES = 12
#: Longest text value shown in a tooltip line.
MAX_TEXT = 80
#: Score blocks of a card in order of preference (the first present is shown).
SCORE_BLOCKS = ("validation", "test", "evaluation")
#: Quality metrics by their card key, as the tooltip names them.
METRIC_NAMES = {"psnr": "PSNR", "ssim": "SSIM", "dice": "Dice", "iou": "IoU",
                "hd95_px": "HD95 (px)", "hd95_mm": "HD95 (mm)", "mae": "MAE", "rmse": "RMSE",
                "lpips": "LPIPS", "nrmse": "NRMSE", "dsb_map": "DSB mAP", "ap50": "AP50",
                "ap75": "AP75", "rand_error": "Rand error"}
#: Baselines a model's numbers are compared with, in order of preference.
BASELINES = ("bicubic", "cubic", "gaussian", "linear", "bilinear", "noisy")
#: Readable names of the card's tasks.
TASK_NAMES = {"super_resolution": "in-plane super-resolution", "enhance": "enhancement on the "
              "same grid", "through_plane_sr": "through-plane super-resolution",
              "segment": "segmentation", "classify": "classification",
              "segment_instances": "instance segmentation (one id per object)"}

KeyPath = tuple[str, ...]


def _leaves(scores: object, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, float]]:
    """``(key path, value)`` of every numeric leaf of a nested scores mapping."""
    if isinstance(scores, dict):
        for key, value in scores.items():
            yield from _leaves(value, (*prefix, str(key)))
    elif isinstance(scores, int | float) and not isinstance(scores, bool):
        yield prefix, float(scores)


def _short(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _value(metric: str, value: float) -> str:
    return f"{value:.2f} dB" if metric == "psnr" else f"{value:.4g}"


def score_rows(scores: dict[str, object]) -> tuple[str, list[tuple[str, str, str]]]:
    """The card's headline scores as ``(baseline name, [(metric, model, baseline)])``.

    One block is shown (``validation``, else ``test``, else the first nested one; subsets
    such as ``validation_subset`` are left to ``medsr models --json``), its ``overall``
    numbers when it has them, else those of each data set; the model's numbers beside the
    first baseline found (bicubic, cubic, …; "" when none).

    Parameters
    ----------
    scores
        The card's ``scores`` mapping.

    Returns
    -------
    tuple
        The baseline's name and the rows (metric with its data set, model value, baseline
        value or "").
    """
    block_name = next((b for b in SCORE_BLOCKS if isinstance(scores.get(b), dict)),
                      next((k for k, v in scores.items() if isinstance(v, dict)), ""))
    block = scores.get(block_name, scores) if block_name else scores
    leaves = dict(_leaves(block))
    if any(path[-1] in METRIC_NAMES for path in leaves):
        leaves = {p: v for p, v in leaves.items() if p[-1] in METRIC_NAMES}
    compared = any("model" in path for path in leaves)
    if compared:
        leaves = {p: v for p, v in leaves.items() if "model" in p}
    if any("overall" in path for path in leaves):
        leaves = {p: v for p, v in leaves.items() if "overall" in p}
    all_leaves = dict(_leaves(block))
    baseline = next((b for b in BASELINES if compared and any(
        tuple(b if k == "model" else k for k in p) in all_leaves for p in leaves)), "")
    rows = []
    for path, value in leaves.items():
        metric = METRIC_NAMES.get(path[-1], path[-1])
        where = [k for k in path[:-1] if k not in ("model", "overall")]
        label = f"{metric} · {' · '.join(where)}" if where else metric
        other = all_leaves.get(tuple(baseline if k == "model" else k for k in path))
        rows.append((label, _value(path[-1], value),
                     "" if other is None or not baseline else _value(path[-1], other)))
    return baseline, rows


def _span(low: str, high: str) -> str:
    return low if low == high else f"{low}–{high}"


def _domain(card: ModelCard) -> str:
    """Modalities, pixel spacing and image size the model was trained on, in words."""
    domain = card.training.get("domain")
    domain = domain if isinstance(domain, dict) else {}
    modalities = card.modalities or tuple(domain.get("modalities", ()))
    parts = [", ".join(str(m) for m in modalities)] if modalities else []
    spacing = card.spacing_range_mm or domain.get("spacing_mm")
    if spacing and len(spacing) == 2:
        parts.append(f"{_span(f'{float(spacing[0]):.2g}', f'{float(spacing[1]):.2g}')} mm "
                     "pixels")
    size = domain.get("size_px")
    if size and len(size) == 2:
        parts.append(f"{_span(str(size[0]), str(size[1]))} px images")
    return "; ".join(parts)


def card_tooltip(entry: ModelEntry) -> str:
    """A model's card as rich text for a tooltip: name, task, scale, description, training
    data and domain, and the headline scores as a table (metric, model, baseline).

    Parameters
    ----------
    entry
        The registry's entry of the model (a broken file: its error is shown).

    Returns
    -------
    str
        HTML (Qt rich text).
    """
    card = entry.card
    if card is None:
        return f"{entry.path.name}: {entry.error}"
    scale = (f"x{card.scale}" if card.task == "super_resolution" else
             "by the study's slice spacing" if card.task == "through_plane_sr" else "x1")
    lines = [f"<b>{escape(card.name)}</b> ({escape(entry.source)})",
             f"task: {escape(card.task)} ({TASK_NAMES.get(card.task, '')}) · scale: {scale}"]
    if card.description:
        lines.append(escape(_short(card.description, 2 * MAX_TEXT)))
    trained = card.training.get("train_volumes") or card.training.get("data")
    if trained:
        text = ", ".join(map(str, trained)) if isinstance(trained, list) else str(trained)
        lines.append(f"training data: {escape(_short(text))}")
    domain = _domain(card)
    if domain:
        lines.append(f"domain: {escape(domain)}")
    if card.training.get("degradation"):
        lines.append(f"degradation: {escape(_short(card.training['degradation']))}")
    html = "<br>".join(lines)
    baseline, rows = score_rows(card.scores)
    if rows:
        head = "<th align='left'>metric</th><th align='right'>model</th>" + (
            f"<th align='right'>{escape(baseline)}</th>" if baseline else "")
        body = "".join(
            f"<tr><td>{escape(m)}</td><td align='right'>{v}</td>"
            + (f"<td align='right'>{b}</td>" if baseline else "") + "</tr>"
            for m, v, b in rows[:MAX_SCORE_LINES])
        more = (f"<br>… {len(rows) - MAX_SCORE_LINES} more (medsr models --json)"
                if len(rows) > MAX_SCORE_LINES else "")
        html += f"<table cellspacing='0' cellpadding='2'><tr>{head}</tr>{body}</table>{more}"
    return f"<qt>{html}<br><small>{escape(str(entry.path))}</small></qt>"


#: Characters of a model name the picker shows without eliding.
PICKER_NAME_CHARS = 14


class ModelPicker(QComboBox):
    """Lists the registry's super-resolution and enhancement models; data = file path.

    Parameters
    ----------
    registry
        Where models are found (default: bundled and user folders).
    parent
        Qt parent.
    """

    def __init__(self, registry: ModelRegistry | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.registry = registry if registry is not None else ModelRegistry()
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # a fixed width (names longer than this are elided; the tooltip has the card): a long
        # model name must not push the SR controls off the toolbar
        self.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(PICKER_NAME_CHARS)
        self._entries: list[ModelEntry] = []
        self.currentIndexChanged.connect(self._update_tooltip)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the registry's folders (keeps explicitly added paths)."""
        extra = [e for e in self._entries if e.source == "path"]
        self.clear()
        self._entries = []
        for entry in [*self.registry.entries(), *extra]:
            if entry.card is not None and entry.card.task in COMPARE_TASKS:
                self._append(entry)
        # The toggle is "Super-Resolution": start on an SR model, not the first name in order,
        # and on a fidelity one: a perceptual variant (which may invent detail) is never what
        # S shows unasked, although "sr-x2-perceptual" sorts before "sr-x2".
        cards = [e.card for e in self._entries]
        sr = [i for i, c in enumerate(cards) if c is not None and c.task == "super_resolution"]
        fidelity = [i for i, c in enumerate(cards) if i in sr and c is not None
                    and not c.perceptual]
        if sr:
            self.setCurrentIndex((fidelity or sr)[0])
        self._update_tooltip()

    def _append(self, entry: ModelEntry) -> None:
        self._entries.append(entry)
        perceptual = entry.card is not None and entry.card.perceptual
        self.addItem(f"{entry.name} (perceptual)" if perceptual else entry.name, str(entry.path))
        self.setItemData(self.count() - 1, card_tooltip(entry), Qt.ItemDataRole.ToolTipRole)

    def add_path(self, path: str | Path) -> ModelEntry:
        """Add a model file by path (any task is listed only if it is an image task) and select it.

        Raises
        ------
        medsr_viewer.models.registry.ModelRejected
            When the path is not a model file.
        """
        from medsr_viewer.models.registry import describe

        entry = describe(Path(self.registry.resolve(path)), "path")
        self._append(entry)
        self.setCurrentIndex(self.count() - 1)
        return entry

    def entry_at(self, index: int) -> ModelEntry | None:
        """The model listed at ``index``, or ``None`` out of range."""
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def current_entry(self) -> ModelEntry | None:
        """The selected model, or ``None`` when the list is empty."""
        index = self.currentIndex()
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def _update_tooltip(self, *_args: object) -> None:
        entry = self.current_entry()
        self.setToolTip(card_tooltip(entry) if entry else "No super-resolution model installed")
