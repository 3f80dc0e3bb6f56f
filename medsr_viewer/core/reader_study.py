"""A blinded reader study: which of two super-resolution results of a slice looks better?

A reader is shown pairs of images of the same slice, each made by a different *method* (a
model, or the ``bicubic`` / ``original`` baselines), in a random left/right order with the
methods' names hidden, and answers each pair with the keyboard: a forced choice (left or
right) or a score from 1 to 5 on this scale:

===== ======================================
score meaning
===== ======================================
1     left much better
2     left better
3     no difference
4     right better
5     right much better
===== ======================================

:class:`ReaderStudy` is the plan and its answers. Trials are every slice of the list times
every pair of methods; the trial order and the sides are drawn by ``random.Random(seed)``
(the seed is recorded, so a plan is reproduced exactly by its inputs), and the sides are
balanced: half the trials (one more or less when odd) show the pair swapped. The identities
of the methods (their names and model-file sha256, or the baseline's name) appear only in
the results: :meth:`ReaderStudy.write_csv` writes one row per answered trial, atomically.
Nothing about the patient is written: the study is named by the volume's display name (file
or series description) only. :meth:`ReaderStudy.to_dict` / :meth:`ReaderStudy.from_dict`
(and :meth:`save_json` / :func:`load_json`) keep a half-done study to resume it.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from medsr_viewer.core.atomic import write_text_atomic

#: Baseline methods: bicubic upsampling of the original slice, and its pixels repeated.
BICUBIC, ORIGINAL = "bicubic", "original"
BASELINES = (BICUBIC, ORIGINAL)
LEFT, RIGHT, EQUAL = "left", "right", "equal"
#: Scores: 1 = left much better ... 3 = no difference ... 5 = right much better.
SCORES = (1, 2, 3, 4, 5)
SCORE_MEANINGS = {1: "left much better", 2: "left better", 3: "no difference",
                  4: "right better", 5: "right much better"}
#: Columns of the results CSV, in order.
CSV_COLUMNS = ("reader", "time", "study", "plane", "slice", "trial", "left_method",
               "right_method", "left_identity", "right_identity", "choice", "score",
               "preferred_method", "seconds", "seed")
#: Version of :meth:`ReaderStudy.to_dict`'s layout.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Method:
    """One way of making the image of a slice, as the results name it.

    Parameters
    ----------
    name
        The model's card name, or ``bicubic`` / ``original``.
    identity
        The SHA-256 of the model file's bytes, or the baseline's name.
    source
        The model file (to run it again when a study is resumed); "" for a baseline.
    """

    name: str
    identity: str
    source: str = ""

    @property
    def is_baseline(self) -> bool:
        """Whether the method is a baseline (no model runs)."""
        return self.identity in BASELINES

    @classmethod
    def baseline(cls, name: str) -> Method:
        """The ``bicubic`` or ``original`` baseline."""
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
        return cls(name, name)


@dataclass(frozen=True)
class Trial:
    """One pair shown: a slice, the method on the left and the one on the right.

    Parameters
    ----------
    number
        1-based position in the study.
    slice_index
        0-based index of the slice in the plane.
    left, right
        Indices into :attr:`ReaderStudy.methods`.
    """

    number: int
    slice_index: int
    left: int
    right: int


@dataclass(frozen=True)
class Answer:
    """The reader's answer to one trial.

    Parameters
    ----------
    choice
        ``left``, ``right`` or ``equal`` (score 3): the side preferred.
    score
        1–5 (see the module), or ``None`` for a forced choice.
    seconds
        Time from showing the pair to the answer.
    time
        When it was answered (ISO 8601, local time with its UTC offset).
    """

    choice: str
    score: int | None
    seconds: float
    time: str


def evenly_spaced(count: int, total: int) -> list[int]:
    """``count`` slice indices spread evenly through ``total`` slices (the centres of
    ``count`` equal parts; every slice when ``count >= total``)."""
    if total < 1:
        raise ValueError("the plane has no slices")
    count = max(1, min(int(count), total))
    return sorted({min(total - 1, int((i + 0.5) * total / count)) for i in range(count)})


def around(current: int, radius: int, total: int) -> list[int]:
    """The slices ``current - radius .. current + radius`` that exist in ``total``."""
    if not 0 <= current < total:
        raise ValueError(f"slice {current} outside 0..{total - 1}")
    radius = max(0, int(radius))
    return list(range(max(0, current - radius), min(total, current + radius + 1)))


def make_trials(slices: list[int] | tuple[int, ...], n_methods: int, seed: int,
                shuffle: bool = True) -> tuple[Trial, ...]:
    """Every slice times every pair of methods, in an order and with sides drawn from
    ``seed`` (half the trials swapped; see the module).

    Parameters
    ----------
    slices
        0-based slice indices.
    n_methods
        Number of methods (at least 2; every unordered pair is shown once per slice).
    seed
        Seed of ``random.Random``.
    shuffle
        Shuffle the trials (``False``: slice by slice, in the order given).
    """
    if n_methods < 2:
        raise ValueError("a reader study compares at least two methods")
    rng = random.Random(seed)
    units = [(s, pair) for s in slices for pair in itertools.combinations(range(n_methods), 2)]
    if shuffle:
        rng.shuffle(units)
    swapped = [i < len(units) // 2 for i in range(len(units))]
    if len(units) % 2:
        swapped[-1] = rng.random() < 0.5
    rng.shuffle(swapped)
    return tuple(Trial(number, s, b if swap else a, a if swap else b)
                 for number, ((s, (a, b)), swap) in enumerate(zip(units, swapped), start=1))


def now_iso() -> str:
    """The local time now, ISO 8601 with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class ReaderStudy:
    """The plan of a blinded reader study and the answers given so far.

    Parameters
    ----------
    reader
        The reader's name (as the results name them).
    study
        The study's display name (file or series description; never a patient identifier).
    plane
        ``axial``, ``coronal`` or ``sagittal``.
    n_slices
        Number of slices in the plane (for "axial 61/120").
    slices
        0-based indices of the slices shown.
    methods
        The methods compared (2 or more; every pair per slice).
    seed
        Seed of the trial order and sides.
    scale
        The grid the images are shown on (times the original's resolution).
    window
        The display window ``(low, high)`` of both images.
    trials
        The trials (made from the above by :func:`make_trials` when omitted).
    answers
        Trial number -> answer.
    """

    reader: str
    study: str
    plane: str
    n_slices: int
    slices: tuple[int, ...]
    methods: tuple[Method, ...]
    seed: int
    scale: int = 1
    window: tuple[float, float] = (0.0, 1.0)
    trials: tuple[Trial, ...] = ()
    answers: dict[int, Answer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reader = self.reader.strip()
        if not self.reader:
            raise ValueError("the reader's name is missing")
        self.slices = tuple(int(s) for s in self.slices)
        self.methods = tuple(self.methods)
        if not self.slices:
            raise ValueError("no slices to show")
        if len(set(self.slices)) != len(self.slices):
            raise ValueError("a slice is listed twice")
        bad = [s for s in self.slices if not 0 <= s < self.n_slices]
        if bad:
            raise ValueError(f"slice {bad[0] + 1} is outside 1..{self.n_slices}")
        if len(self.methods) < 2:
            raise ValueError("a reader study compares at least two methods")
        if len({m.identity for m in self.methods}) != len(self.methods):
            raise ValueError("the same method is listed twice (same model file or baseline)")
        if not self.trials:
            self.trials = make_trials(self.slices, len(self.methods), self.seed)
        n = len(self.methods)
        for trial in self.trials:
            if not (0 <= trial.left < n and 0 <= trial.right < n and trial.left != trial.right
                    and trial.slice_index in self.slices):
                raise ValueError(f"trial {trial.number} names a method or slice not in the "
                                 "study")

    # ---------------------------------------------------------------- progress

    @property
    def total(self) -> int:
        """Number of trials."""
        return len(self.trials)

    @property
    def complete(self) -> bool:
        """Whether every trial is answered."""
        return len(self.answers) == self.total

    def next_unanswered(self) -> int | None:
        """0-based position of the first trial without an answer (``None``: all done)."""
        return next((i for i, t in enumerate(self.trials) if t.number not in self.answers),
                    None)

    def slice_text(self, trial: Trial) -> str:
        """``"axial 61/120"``: the plane and the 1-based slice of a trial, as panes say."""
        return f"{self.plane} {trial.slice_index + 1}/{self.n_slices}"

    def left(self, trial: Trial) -> Method:
        """The method shown on the left of ``trial``."""
        return self.methods[trial.left]

    def right(self, trial: Trial) -> Method:
        """The method shown on the right of ``trial``."""
        return self.methods[trial.right]

    # ---------------------------------------------------------------- answering

    def pick(self, trial: Trial, side: str, seconds: float, when: str | None = None) -> Answer:
        """Record a forced choice: ``left`` or ``right`` is better."""
        if side not in (LEFT, RIGHT):
            raise ValueError(f"a pick is {LEFT!r} or {RIGHT!r}, not {side!r}")
        return self._record(trial, Answer(side, None, float(seconds), when or now_iso()))

    def score(self, trial: Trial, score: int, seconds: float, when: str | None = None) -> Answer:
        """Record a 1–5 score (1 = left much better, 3 = no difference, 5 = right much
        better)."""
        if score not in SCORES:
            raise ValueError(f"a score is 1 to 5, not {score!r}")
        choice = LEFT if score < 3 else RIGHT if score > 3 else EQUAL
        return self._record(trial, Answer(choice, int(score), float(seconds), when or now_iso()))

    def _record(self, trial: Trial, answer: Answer) -> Answer:
        if trial not in self.trials:
            raise ValueError(f"trial {trial.number} is not part of this study")
        self.answers[trial.number] = answer
        return answer

    def clear(self, trial: Trial) -> None:
        """Forget the answer to ``trial`` (the reader went back to it)."""
        self.answers.pop(trial.number, None)

    def preferred(self, trial: Trial) -> Method | None:
        """The method the answer prefers (``None``: no answer, or no difference)."""
        answer = self.answers.get(trial.number)
        if answer is None or answer.choice == EQUAL:
            return None
        return self.left(trial) if answer.choice == LEFT else self.right(trial)

    # ---------------------------------------------------------------- results

    def rows(self) -> list[dict[str, str]]:
        """One row per answered trial, in trial order, keyed by :data:`CSV_COLUMNS`
        (``slice`` 1-based as the pane shows it; ``score`` "" for a forced choice)."""
        rows = []
        for trial in self.trials:
            answer = self.answers.get(trial.number)
            if answer is None:
                continue
            left, right, preferred = self.left(trial), self.right(trial), self.preferred(trial)
            rows.append({
                "reader": self.reader, "time": answer.time, "study": self.study,
                "plane": self.plane, "slice": str(trial.slice_index + 1),
                "trial": str(trial.number), "left_method": left.name,
                "right_method": right.name, "left_identity": left.identity,
                "right_identity": right.identity, "choice": answer.choice,
                "score": "" if answer.score is None else str(answer.score),
                "preferred_method": "" if preferred is None else preferred.name,
                "seconds": f"{answer.seconds:.3f}", "seed": str(self.seed)})
        return rows

    def csv_text(self) -> str:
        """The results as CSV text (header and :meth:`rows`)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        """Write :meth:`csv_text` to ``path`` atomically; returns the path written."""
        return write_text_atomic(path, self.csv_text())

    # ---------------------------------------------------------------- resume

    def to_dict(self) -> dict[str, Any]:
        """The plan and its answers as JSON-ready data (see :meth:`from_dict`)."""
        return {
            "format": "medsr-reader-study", "version": FORMAT_VERSION,
            "reader": self.reader, "study": self.study, "plane": self.plane,
            "n_slices": self.n_slices, "slices": list(self.slices), "seed": self.seed,
            "scale": self.scale, "window": list(self.window),
            "methods": [{"name": m.name, "identity": m.identity, "source": m.source}
                        for m in self.methods],
            "trials": [[t.number, t.slice_index, t.left, t.right] for t in self.trials],
            "answers": {str(n): {"choice": a.choice, "score": a.score, "seconds": a.seconds,
                                 "time": a.time} for n, a in sorted(self.answers.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReaderStudy:
        """A study saved by :meth:`to_dict` (``ValueError`` when it is not one)."""
        if data.get("format") != "medsr-reader-study" or data.get("version") != FORMAT_VERSION:
            raise ValueError("not a MedSR reader study (or of another version)")
        try:
            study = cls(
                str(data["reader"]), str(data["study"]), str(data["plane"]),
                int(data["n_slices"]), tuple(int(s) for s in data["slices"]),
                tuple(Method(str(m["name"]), str(m["identity"]), str(m.get("source", "")))
                      for m in data["methods"]),
                int(data["seed"]), int(data.get("scale", 1)),
                (float(data["window"][0]), float(data["window"][1])),
                tuple(Trial(int(n), int(s), int(a), int(b)) for n, s, a, b in data["trials"]))
            for number, answer in data.get("answers", {}).items():
                score = answer.get("score")
                study.answers[int(number)] = Answer(
                    str(answer["choice"]), None if score is None else int(score),
                    float(answer["seconds"]), str(answer["time"]))
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"a reader study file with a missing or bad field ({exc})") from exc
        return study

    def save_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path`` atomically (to resume the study later)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=1, allow_nan=False))


def load_json(path: str | Path) -> ReaderStudy:
    """The study saved at ``path`` by :meth:`ReaderStudy.save_json`."""
    return ReaderStudy.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
