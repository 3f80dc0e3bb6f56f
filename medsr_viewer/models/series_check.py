"""Is this the kind of image the model was trained on? The series-type part of the
out-of-distribution warning.

The bundled ``series-type`` classifier (:mod:`medsr_viewer.models.classification`) names the
study's kind of image (CT, T1-weighted, T2/PD-weighted, FLAIR, EPI, MR angiography). A model's
card says what it was trained on in one of two ways:

- ``training["series_types"]``: the series types of its training images (a card author or
  ``medsr train`` writes it); a confident prediction outside that list warns;
- otherwise its training domain's modalities (``training["domain"]["modalities"]``): a model
  trained only on other kinds of imaging (EM, microscopy: no CT or MR among them) warns when
  the classifier is confident that the study is a CT or MR series of any type.

A card saying neither (e.g. trained on MR without recording which contrasts) gets no
series-type warning. "Confident": the per-volume probability is at least
:data:`CONFIDENCE`, over at most :data:`SAMPLE_SLICES` slices with anatomy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.card import ModelCard
from medsr_viewer.models.classification import (
    SliceClassifierRun,
    has_anatomy,
    volume_probabilities,
)
from medsr_viewer.models.registry import ModelRejected

#: Name of the bundled classifier the check uses.
SERIES_TYPE_MODEL = "series-type"
#: Per-volume probability above which the prediction counts.
CONFIDENCE = 0.6
#: Slices classified for the check (evenly spaced among those with anatomy).
SAMPLE_SLICES = 16
#: Modalities that mean CT or MR.
SCANNER_MODALITIES = ("CT", "MR")
#: Modalities that say nothing.
_UNKNOWN = ("OT", "")


def trained_series_types(card: ModelCard) -> tuple[str, ...] | None:
    """The series types ``card`` was trained on: a tuple (empty: none of CT/MR), or ``None``
    when the card does not say."""
    training = card.training if isinstance(card.training, dict) else {}
    declared = training.get("series_types")
    if isinstance(declared, list) and declared:
        return tuple(str(x) for x in declared)
    domain = training.get("domain")
    modalities = domain.get("modalities", []) if isinstance(domain, dict) else []
    known = [str(m) for m in modalities if m not in _UNKNOWN]
    if known and not any(m in SCANNER_MODALITIES for m in known):
        return ()
    return None


def sampled_prediction(classifier: LoadedModel, volume: Volume, axis: int = 0
                       ) -> tuple[str, float]:
    """``(series type, probability)`` of ``volume`` from up to :data:`SAMPLE_SLICES` slices."""
    run = SliceClassifierRun(classifier, volume, header_prior=True)
    count = int(volume.voxels.shape[axis])
    picks = np.unique(np.linspace(0, count - 1, min(count, 3 * SAMPLE_SLICES)).astype(int))
    kept = [int(i) for i in picks if has_anatomy(run.normalised(axis, int(i)))] or [count // 2]
    kept = kept[:: max(1, len(kept) // SAMPLE_SLICES)]
    probs = run.probabilities(axis, kept)
    volume_probs = volume_probabilities(probs, np.ones(len(kept), dtype=bool))
    best = int(np.argmax(volume_probs))
    return run.card.class_names[best], float(volume_probs[best])


def series_type_message(card: ModelCard, classifier: LoadedModel, volume: Volume,
                        axis: int = 0) -> str:
    """One sentence when ``volume`` is confidently a kind of image ``card``'s model was not
    trained on (``""`` otherwise, or when the card does not say what it was trained on)."""
    if card.task == "classify":
        return ""
    trained = trained_series_types(card)
    if trained is None:
        return ""
    predicted, probability = sampled_prediction(classifier, volume, axis)
    if probability < CONFIDENCE or predicted in trained:
        return ""
    if trained:
        kinds = ", ".join(trained)
        return (f"{card.name}: trained on {kinds} images; {classifier.card.name} reads this "
                f"study as {predicted} ({probability:.0%})")
    domain = card.training.get("domain", {}) if isinstance(card.training, dict) else {}
    other = "/".join(m for m in domain.get("modalities", []) if m not in _UNKNOWN)
    return (f"{card.name}: trained on {other or 'non-CT/MR'} images; {classifier.card.name} "
            f"reads this study as {predicted} {'CT' if predicted == 'CT' else 'MR'} "
            f"({probability:.0%})")


def series_type_warning(card: ModelCard, volume: Volume, axis: int,
                        load_classifier: Callable[[], LoadedModel]) -> str:
    """:func:`series_type_message` with the bundled classifier that ``load_classifier``
    returns (the viewer's engine or the CLI's registry), loaded only for a card that says what
    it was trained on; ``""`` when it does not, or the classifier is missing, refused or
    fails: a warning never stops the run it is about."""
    if trained_series_types(card) is None:
        return ""
    try:
        return series_type_message(card, load_classifier(), volume, axis)
    except (ModelRejected, ValueError, RuntimeError):
        return ""
