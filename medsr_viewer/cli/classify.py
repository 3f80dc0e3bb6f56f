"""``medsr classify IN``, ``medsr eval classify`` and ``medsr train classify``.

``medsr classify IN [--model series-type] [--axis N] [--json]`` prints the class
probabilities of every slice along the acquired axis and the per-volume result (the
normalised geometric mean over slices with anatomy, see
:mod:`medsr_viewer.models.classification`), with the out-of-distribution warning on stderr.

``medsr eval classify --model M (--split val|train | --manifest FILE.csv)`` scores a model on
labelled series: accuracy, balanced accuracy, per-class precision/recall, one-vs-rest ROC AUC,
the confusion matrix and mean average precision, over held-out slices (with anatomy) and per
series. ``--split`` uses the reviewed series-type table
(:mod:`medsr_viewer.models.training.series_type_data`) under ``--data-root``/``MEDSR_DATA``; a
manifest is a CSV with the columns ``path,label``.

``medsr train classify --out FILE`` trains the series-type classifier on the table's
``train`` series and scores it on its ``val`` series (resumable, checkpointed).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError

#: Model used when ``--model`` is not given.
DEFAULT_MODEL = "series-type"


def register(subparsers: Any) -> None:
    """Add ``medsr classify``."""
    parser = subparsers.add_parser(
        "classify", help="classify the slices of a study (e.g. its series type)",
        description="per-slice and per-volume class probabilities of a classify model")
    parser.add_argument("input", type=Path, metavar="IN", help="study: DICOM, NIfTI/MGH, image")
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH",
                        help=f"classify model (default: {DEFAULT_MODEL})")
    parser.add_argument("--axis", type=int, choices=(0, 1, 2), default=None,
                        help="slice axis 0=z 1=y 2=x (default: the acquired slice axis)")
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-header-prior", dest="header_prior", action="store_false",
                        help="ignore the study's DICOM modality (by default a CT study can "
                             "only be CT and an MR study only an MR kind)")
    parser.set_defaults(func=run_classify)


def add_eval(tasks: Any) -> None:
    """Add ``medsr eval classify`` to the ``eval`` task parsers."""
    ev = tasks.add_parser("classify", help="accuracy, balanced accuracy, ROC AUC, mAP ... on "
                          "labelled series")
    ev.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH")
    source = ev.add_mutually_exclusive_group()
    source.add_argument("--split", choices=("val", "train"), default="val",
                        help="series of the reviewed series-type table (default: val, the "
                             "held-out series)")
    source.add_argument("--manifest", type=Path, help="CSV with columns path,label")
    ev.add_argument("--data-root", type=Path, help="shared data folder (default: $MEDSR_DATA)")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--header-prior", action="store_true",
                    help="score what the viewer shows: classes restricted by each series' "
                         "DICOM modality (default: the classifier alone, as in the card)")
    ev.set_defaults(func=run_eval)


def add_train(tasks: Any, common: Any) -> None:
    """Add ``medsr train classify`` (``common`` adds the shared training options)."""
    tr = tasks.add_parser("classify", help="the series-type slice classifier from the "
                          "reviewed table of shared series")
    tr.add_argument("--data-root", type=Path, help="shared data folder (default: $MEDSR_DATA)")
    tr.add_argument("--input-size", type=int, default=128, help="model input side (px)")
    common(tr, 2000, 32, 128, 2e-3)
    tr.set_defaults(func=run_train)


def _load(spec: str, device: str = "cpu") -> Any:
    from medsr_viewer.models.registry import ModelRegistry, ModelRejected

    try:
        return ModelRegistry().load(spec, task="classify", device=device)
    except ModelRejected as exc:
        hint = ("" if "model, not 'classify'" not in str(exc) else
                f" (medsr classify needs a classification model, e.g. {DEFAULT_MODEL})")
        raise CliError(f"{exc}{hint}") from exc


def run_classify(args: argparse.Namespace) -> int:
    """Print per-slice and per-volume probabilities of IN."""
    from medsr_viewer.core.io import LoadError, load_volume
    from medsr_viewer.models.classification import SliceClassifierRun
    from medsr_viewer.models.domain import domain_message

    try:
        volume = load_volume(args.input)
    except LoadError as exc:
        raise CliError(str(exc)) from exc
    loaded = _load(args.model, args.device)
    run = SliceClassifierRun(loaded, volume, header_prior=args.header_prior)
    result = run.run(args.axis)
    warning = domain_message(loaded.card, volume, result.axis, run.intensity)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        data = {"input": str(args.input), "model": loaded.card.name,
                "sha256": loaded.card.sha256, **result.to_dict()}
        print(json.dumps(data, indent=2))
        return 0
    classes = result.classes
    width = max(len(c) for c in classes)
    print(f"{args.input}: {loaded.card.name}, {len(result.probabilities)} slices along axis "
          f"{result.axis}")
    print("slice  anatomy  predicted" + " " * max(0, width - 9) + "  "
          + " ".join(f"{c[:8]:>8}" for c in classes))
    for i, (p, a) in enumerate(zip(result.probabilities, result.anatomy)):
        print(f"{i:5d}  {'yes' if a else 'no':7s}  {classes[int(p.argmax())]:<{width}}  "
              + " ".join(f"{v:8.3f}" for v in p))
    used = int(result.anatomy.sum()) or len(result.anatomy)
    prior = f"; classes limited by the DICOM modality {result.prior}" if result.prior else ""
    print(f"volume ({used} slices with anatomy): {result.predicted} "
          f"({result.confidence:.1%}{prior})")
    for c, v in zip(classes, result.volume):
        print(f"  {c:<{width}}  {v:.3f}")
    return 0


def _manifest(path: Path, classes: tuple[str, ...]) -> list[Any]:
    from medsr_viewer.models.training.series_type_data import LabelledSeries

    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}") from exc
    out = []
    for n, row in enumerate(rows, start=2):
        if "path" not in row or "label" not in row:
            raise CliError(f"{path}: needs the columns path,label")
        if row["label"] not in classes:
            raise CliError(f"{path}:{n}: label {row['label']!r} is not one of the model's "
                           f"classes ({', '.join(classes)})")
        target = Path(row["path"])
        if not target.is_absolute():
            target = path.parent / target
        out.append(LabelledSeries(str(target), row["label"], str(target), "val", "manifest"))
    if not out:
        raise CliError(f"{path}: no rows")
    return out


def run_eval(args: argparse.Namespace) -> int:
    """Score a classify model on labelled series."""
    from medsr_viewer.core.metrics.classification import format_scores
    from medsr_viewer.models.training.classify_task import evaluate_series, load_series
    from medsr_viewer.models.training.series_type_data import data_root, series_for

    loaded = _load(args.model)
    classes = loaded.card.class_names
    if args.manifest is not None:
        entries, root = _manifest(args.manifest, classes), Path("/")
    else:
        try:
            root = data_root(args.data_root)
        except FileNotFoundError as exc:
            raise CliError(str(exc)) from exc
        entries = series_for(args.split)
        unknown = sorted({e.label for e in entries} - set(classes))
        if unknown:
            raise CliError(f"{loaded.card.name} has no class {', '.join(unknown)}")
    try:
        series = load_series(entries, root, classes, log=lambda _line: None)
    except Exception as exc:
        raise CliError(f"cannot read a series: {exc}") from exc
    scores = evaluate_series(loaded, series, args.header_prior)
    if args.json:
        print(json.dumps({"model": loaded.card.name, **scores}, indent=2, allow_nan=True))
        return 0
    for line in format_scores(scores["slices"], f"{loaded.card.name}: slices with anatomy of "
                              f"{len(series)} series"):
        print(line)
    print("per series:")
    for row in scores["series"]:
        mark = "ok" if row["predicted"] == row["label"] else "WRONG"
        print(f"  {mark:5s} {row['series']}: {row['label']} -> {row['predicted']} "
              f"({row['confidence']:.1%}, {row['slices']} slices)")
    for name, row in scores["series_recall"].items():
        print(f"series recall {name}: {row['correct']}/{row['series']}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train the series-type classifier (see :mod:`~medsr_viewer.models.training.classify_task`)."""
    import shlex

    import torch

    from medsr_viewer.models.training.classify_task import ClassifyTrainSpec, train_classifier
    from medsr_viewer.models.training.schedule import CardText, TrainSchedule
    from medsr_viewer.models.training.series_type_data import (
        SERIES_TYPES,
        check_split,
        data_root,
        series_for,
    )

    try:
        root = data_root(args.data_root)
        check_split()
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt = args.checkpoint if args.checkpoint is not None else args.out.with_suffix(".ckpt")
    spec = ClassifyTrainSpec(
        name=args.name or args.out.stem, classes=SERIES_TYPES,
        arch=args.arch or "slice-classifier", arch_kwargs=_kwargs(args.arch_kwargs),
        input_size=args.input_size,
        schedule=TrainSchedule(
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
            val_every=args.val_every, checkpoint_every=args.checkpoint_every,
            stop_at=args.stop_at),
        card_text=CardText(
            description=args.description, licence=args.licence,
            command="medsr " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            data_description=args.data_description, weights_dtype=args.weights_dtype))
    try:
        train_classifier(spec, series_for("train"), series_for("val"), root, args.out, ckpt,
                         args.resume, device, lambda line: print(line, flush=True))
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def _kwargs(text: str) -> dict[str, Any]:
    """``'base=16,stages=4'`` -> ``{'base': 16, 'stages': 4}`` (numbers where they parse)."""
    out: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--arch-kwargs item {item!r} is not NAME=VALUE")
        parsed: Any = value
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                continue
        out[key.strip()] = parsed
    return out
