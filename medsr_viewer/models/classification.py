"""Running a ``classify`` model on a study: per-slice probabilities, a per-volume result and
a Grad-CAM saliency map of one slice, headless (the CLI and the viewer share it).

How a slice reaches the model (the same code prepares training slices,
:mod:`medsr_viewer.models.training.classify_task`):

1. the card's normalisation is fitted once on the whole volume (:func:`fit_intensity_map`;
   ``percentile`` 0.5–99.5 for ``series-type``), so every slice is mapped alike;
2. the slice is scaled to the card's ``input_size`` keeping its *physical* aspect (pixel
   spacing of both in-plane axes; the longer side fills the square) with antialiased bilinear
   resampling, and centred on a square of zeros (the normalised background).

**Per-volume result.** The volume's class probabilities are the normalised geometric mean of
the per-slice probabilities (the mean of per-slice log-probabilities, soft-maxed again) over
the slices *with anatomy*: slices where at least 5 % of the pixels are above 0.1 after the
normalisation. Empty end slices (air, padding) say nothing about the kind of image; the
geometric mean lets a run of confident slices outvote a few uncertain ones and is what a
product of independent per-slice likelihoods gives. When no slice has anatomy, all are used.

**Saliency.** :func:`grad_cam` (Selvaraju et al. 2017) on the architecture's last
convolutional block (``feature_maps``/``classify`` of
:class:`~medsr_viewer.models.architectures.SliceClassifier`): channel weights are the
spatially averaged gradients of the class logit, the map is the rectified weighted sum of the
activations, upsampled to the model input and mapped back through the resize/padding onto
the slice's own pixel grid, scaled to ``[0, 1]``. A module without those methods (TorchScript
...) gets an occlusion map instead (:func:`occlusion_map`).

**What the header already says.** A DICOM study states its modality, and a classifier should
not be asked to guess it: with ``header_prior`` (what ``medsr classify`` and the viewer use)
a CT study's probabilities are restricted to the class ``CT`` and an MR study's to the other
classes, renormalised (:func:`modality_prior`). Studies of unknown modality (NIfTI, PNG:
``OT``) get the classifier's own answer. ``medsr eval classify`` scores the classifier alone
unless asked (``--header-prior``), so its numbers measure the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.card import CardError, ModelCard
from medsr_viewer.models.normalisation import IntensityMap, fit_intensity_map
from medsr_viewer.models.volume_processing import default_axis

#: Input side used when a classify card does not set ``input_size``.
DEFAULT_INPUT_SIZE = 128
#: A slice "has anatomy" when at least this share of its pixels ...
ANATOMY_SHARE = 0.05
#: ... is above this normalised value.
ANATOMY_LEVEL = 0.1
#: Slices per forward pass.
BATCH = 32
#: The class that means a CT study; every other class of such a model is an MR kind.
CT_CLASS = "CT"


def modality_prior(classes: Sequence[str], modality: str) -> np.ndarray | None:
    """Which classes a study of ``modality`` can be: a boolean mask over ``classes``, or
    ``None`` when the modality says nothing about them (unknown modality, or a model
    without a ``CT`` class)."""
    if CT_CLASS not in classes or modality not in ("CT", "MR"):
        return None
    is_ct = np.array([c == CT_CLASS for c in classes])
    return is_ct if modality == "CT" else ~is_ct


def apply_prior(probabilities: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``probabilities`` (rows over classes) restricted to ``mask`` and renormalised."""
    if mask is None or len(probabilities) == 0:
        return probabilities
    kept = np.where(mask, probabilities, 0.0)
    total = kept.sum(axis=-1, keepdims=True)
    uniform = np.where(mask, 1.0 / mask.sum(), 0.0)
    return np.where(total > 0, kept / np.where(total > 0, total, 1.0), uniform).astype(
        probabilities.dtype)


@dataclass(frozen=True)
class Placement:
    """Where a slice of ``shape`` sits inside the square model input of side ``size``.

    The slice was resized to ``(height, width)`` and its top-left corner put at
    ``(top, left)``.
    """

    shape: tuple[int, int]
    size: int
    height: int
    width: int
    top: int
    left: int


def placement(shape: tuple[int, int], spacing: tuple[float, float], size: int) -> Placement:
    """The :class:`Placement` of a slice of ``shape`` pixels of ``spacing`` mm (rows, cols)."""
    rows, cols = int(shape[0]), int(shape[1])
    extent_y, extent_x = rows * float(spacing[0]), cols * float(spacing[1])
    scale = size / max(extent_y, extent_x, 1e-9)
    height = int(np.clip(round(extent_y * scale), 1, size))
    width = int(np.clip(round(extent_x * scale), 1, size))
    return Placement((rows, cols), size, height, width, (size - height) // 2, (size - width) // 2)


def prepare_slice(normalised: np.ndarray, spacing: tuple[float, float], size: int
                  ) -> tuple[torch.Tensor, Placement]:
    """A normalised 2-D slice as the ``(1, size, size)`` model input, and its placement."""
    plane = np.nan_to_num(np.asarray(normalised, dtype=np.float32))
    place = placement(plane.shape, spacing, size)  # type: ignore[arg-type]
    x = torch.from_numpy(np.ascontiguousarray(plane))[None, None]
    if (place.height, place.width) != plane.shape:
        x = F.interpolate(x, size=(place.height, place.width), mode="bilinear",
                          align_corners=False, antialias=True)
    out = torch.zeros(1, size, size)
    out[0, place.top:place.top + place.height, place.left:place.left + place.width] = x[0, 0]
    return out, place


def to_slice_grid(square: np.ndarray, place: Placement) -> np.ndarray:
    """A ``(size, size)`` map on the model input taken back onto the slice's pixel grid."""
    crop = np.asarray(square, dtype=np.float32)[place.top:place.top + place.height,
                                                 place.left:place.left + place.width]
    t = torch.from_numpy(np.ascontiguousarray(crop))[None, None]
    back = F.interpolate(t, size=place.shape, mode="bilinear", align_corners=False)
    return back[0, 0].numpy()


def has_anatomy(normalised: np.ndarray) -> bool:
    """Whether a normalised slice has anatomy (see the module docstring)."""
    plane = np.asarray(normalised)
    return bool(plane.size) and float((plane > ANATOMY_LEVEL).mean()) >= ANATOMY_SHARE


def volume_probabilities(probabilities: np.ndarray, anatomy: np.ndarray) -> np.ndarray:
    """The per-volume class probabilities from per-slice ones (module docstring)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.size == 0:
        raise ValueError("no slices to combine")
    mask = np.asarray(anatomy, dtype=bool)
    used = probs[mask] if mask.any() else probs
    logs = np.log(np.clip(used, 1e-12, 1.0)).mean(axis=0)
    logs -= logs.max()
    out = np.exp(logs)
    return out / out.sum()


def check_classifier(card: ModelCard) -> None:
    """Refuse a card that is not a classification model, saying what to use instead.

    Raises
    ------
    CardError
        When ``card.task`` is not ``classify``.
    """
    if card.task != "classify":
        raise CardError(f"model {card.name!r} is a {card.task!r} model, not a classifier: "
                        "medsr classify needs a 'classify' model (e.g. series-type)")


def input_size(card: ModelCard) -> int:
    """The card's ``input_size`` (:data:`DEFAULT_INPUT_SIZE` when unset)."""
    return int(card.input_size) or DEFAULT_INPUT_SIZE


@dataclass(frozen=True)
class VolumeClassification:
    """A classify model's result on one volume along one axis.

    Attributes
    ----------
    classes
        Class names in output order.
    probabilities
        ``(slices, classes)`` per-slice probabilities.
    anatomy
        ``(slices,)`` whether each slice has anatomy (used for the volume result).
    volume
        ``(classes,)`` per-volume probabilities (:func:`volume_probabilities`).
    axis
        The slice axis (0 = z, 1 = y, 2 = x).
    prior
        The header modality that restricted the classes (``""``: the classifier alone).
    """

    classes: tuple[str, ...]
    probabilities: np.ndarray
    anatomy: np.ndarray
    volume: np.ndarray
    axis: int
    prior: str = ""

    @property
    def predicted(self) -> str:
        """Name of the most probable class of the volume."""
        return self.classes[int(np.argmax(self.volume))]

    @property
    def confidence(self) -> float:
        """Probability of :attr:`predicted`."""
        return float(np.max(self.volume))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``medsr classify --json``)."""
        return {
            "axis": self.axis,
            "header_prior": self.prior or None,
            "classes": list(self.classes),
            "volume": {"predicted": self.predicted, "confidence": round(self.confidence, 5),
                       "probabilities": {c: round(float(p), 5)
                                         for c, p in zip(self.classes, self.volume)}},
            "slices": [
                {"index": i, "anatomy": bool(a), "predicted": self.classes[int(np.argmax(p))],
                 "probabilities": {c: round(float(v), 5) for c, v in zip(self.classes, p)}}
                for i, (p, a) in enumerate(zip(self.probabilities, self.anatomy))
            ],
        }


class SliceClassifierRun:
    """A classify model bound to one volume: the normalisation is fitted once.

    Parameters
    ----------
    loaded
        The model (its card must have task ``classify``).
    volume
        The study.
    intensity
        The intensity map, when already fitted on this volume.
    header_prior
        Restrict the classes to what the study's modality allows (:func:`modality_prior`);
        :attr:`prior` then says which modality did (``""`` when none applied).

    Raises
    ------
    CardError
        When the model is not a classifier (:func:`check_classifier`).
    """

    def __init__(self, loaded: LoadedModel, volume: Volume,
                 intensity: IntensityMap | None = None, header_prior: bool = False) -> None:
        check_classifier(loaded.card)
        self.loaded = loaded
        self.card = loaded.card
        self.volume = volume
        self._mask = (modality_prior(loaded.card.class_names, volume.modality)
                      if header_prior else None)
        self.prior = volume.modality if self._mask is not None else ""
        self.size = input_size(loaded.card)
        self.intensity = intensity or fit_intensity_map(loaded.card.normalisation, volume.voxels)
        params = list(loaded.module.parameters())
        self.device = params[0].device if params else torch.device("cpu")

    def plane_spacing(self, axis: int) -> tuple[float, float]:
        """In-plane pixel spacing (rows, cols) of slices along ``axis``."""
        sp = [float(s) for a, s in enumerate(self.volume.spacing) if a != axis]
        return sp[0], sp[1]

    def normalised(self, axis: int, index: int) -> np.ndarray:
        """Slice ``index`` along ``axis`` after the card's normalisation."""
        return self.intensity.to_model(np.take(self.volume.voxels, index, axis=axis))

    def model_input(self, axis: int, index: int) -> tuple[torch.Tensor, Placement]:
        """``(1, size, size)`` model input of one slice and its placement."""
        return prepare_slice(self.normalised(axis, index), self.plane_spacing(axis), self.size)

    def probabilities(self, axis: int, indices: Sequence[int]) -> np.ndarray:
        """``(len(indices), classes)`` class probabilities of slices along ``axis``."""
        inputs = torch.stack([self.model_input(axis, i)[0] for i in indices])
        return apply_prior(predict_probabilities(self.loaded.module, inputs, self.device),
                           self._mask)

    def plane_probabilities(self, planes: Sequence[np.ndarray], spacing: tuple[float, float],
                            cancelled: Callable[[], bool] | None = None,
                            progress: Callable[[int, int], None] | None = None,
                            ) -> tuple[np.ndarray, np.ndarray]:
        """``(probabilities (n, classes), anatomy (n,))`` of raw 2-D planes of this volume
        (any orientation, e.g. as the viewer shows them) of ``spacing`` mm pixels.

        ``cancelled()`` returning true stops between batches (``InterruptedError``);
        ``progress(done, total)`` follows each batch.
        """
        total = len(planes)
        probs: list[np.ndarray] = []
        anatomy = np.zeros(total, dtype=bool)
        for start in range(0, total, BATCH):
            if cancelled is not None and cancelled():
                raise InterruptedError("classification cancelled")
            chunk = [self.intensity.to_model(p) for p in planes[start:start + BATCH]]
            for offset, plane in enumerate(chunk):
                anatomy[start + offset] = has_anatomy(plane)
            inputs = torch.stack([prepare_slice(p, spacing, self.size)[0] for p in chunk])
            probs.append(predict_probabilities(self.loaded.module, inputs, self.device))
            if progress is not None:
                progress(min(start + BATCH, total), total)
        table = (np.concatenate(probs) if probs else np.zeros((0, self.card.out_channels)))
        return apply_prior(table.astype(np.float32), self._mask), anatomy

    def run(self, axis: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> VolumeClassification:
        """Every slice along ``axis`` (default: the acquired axis) and the volume result.

        ``progress(done, total)`` is called after each batch; ``cancelled()`` returning
        true stops the run (``InterruptedError``).
        """
        axis = default_axis(self.volume) if axis is None else axis
        voxels = self.volume.voxels
        planes = [np.take(voxels, i, axis=axis) for i in range(int(voxels.shape[axis]))]
        table, anatomy = self.plane_probabilities(planes, self.plane_spacing(axis), cancelled,
                                                  progress)
        return VolumeClassification(self.card.class_names, table, anatomy,
                                    volume_probabilities(table, anatomy).astype(np.float32),
                                    axis, self.prior)

    def plane_saliency(self, plane: np.ndarray, spacing: tuple[float, float],
                       class_index: int | None = None) -> np.ndarray:
        """Saliency of one raw 2-D plane for ``class_index`` (default: its predicted class)
        on the plane's own grid, scaled so its peak is 1 (all zero when nothing supports
        the class)."""
        x, place = prepare_slice(self.intensity.to_model(plane), spacing, self.size)
        module = self.loaded.module
        if hasattr(module, "feature_maps") and hasattr(module, "classify"):
            square = grad_cam(module, x, class_index, self.device)
        else:
            square = occlusion_map(module, x, class_index, self.device)
        grid = np.clip(to_slice_grid(square, place), 0.0, None)
        peak = float(grid.max()) if grid.size else 0.0
        return (grid / peak).astype(np.float32) if peak > 0 else grid.astype(np.float32)

    def saliency(self, axis: int, index: int, class_index: int | None = None) -> np.ndarray:
        """:meth:`plane_saliency` of slice ``index`` along ``axis``."""
        plane = np.take(self.volume.voxels, index, axis=axis)
        return self.plane_saliency(plane, self.plane_spacing(axis), class_index)


def predict_probabilities(module: torch.nn.Module, inputs: torch.Tensor,
                          device: torch.device | str = "cpu") -> np.ndarray:
    """Softmax of ``module(inputs)`` for ``(N, 1, S, S)`` inputs, as ``(N, classes)``."""
    with torch.inference_mode():
        logits = module(inputs.to(device))
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        return logits.float().softmax(dim=1).cpu().numpy()


def grad_cam(module: Any, x: torch.Tensor, class_index: int | None = None,
             device: torch.device | str = "cpu") -> np.ndarray:
    """Grad-CAM of one ``(1, S, S)`` input on the module's last conv block, ``(S, S)`` in
    ``[0, 1]`` (all zero when no location supports the class)."""
    with torch.no_grad():
        maps = module.feature_maps(x[None].to(device))
    maps = maps.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = module.classify(maps)
        target = int(logits.argmax(dim=1)[0]) if class_index is None else int(class_index)
        grads, = torch.autograd.grad(logits[0, target], maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * maps).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    return (cam / peak).cpu().numpy() if peak > 0 else np.zeros(x.shape[-2:], np.float32)


def occlusion_map(module: torch.nn.Module, x: torch.Tensor, class_index: int | None = None,
                  device: torch.device | str = "cpu", grid: int = 8) -> np.ndarray:
    """Occlusion saliency (Zeiler & Fergus 2014): the drop of the class probability when each
    of ``grid x grid`` blocks is set to 0, upsampled to ``(S, S)`` and scaled to ``[0, 1]``."""
    size = x.shape[-1]
    base = predict_probabilities(module, x[None], device)[0]
    target = int(np.argmax(base)) if class_index is None else int(class_index)
    step = int(np.ceil(size / grid))
    occluded = []
    for r in range(grid):
        for c in range(grid):
            y = x.clone()
            y[:, r * step:(r + 1) * step, c * step:(c + 1) * step] = 0.0
            occluded.append(y)
    probs = predict_probabilities(module, torch.stack(occluded), device)[:, target]
    drop = np.maximum(base[target] - probs, 0.0).reshape(1, 1, grid, grid).astype(np.float32)
    up = F.interpolate(torch.from_numpy(drop), size=(size, size), mode="bilinear",
                       align_corners=False)[0, 0].numpy()
    peak = float(up.max())
    return up / peak if peak > 0 else np.zeros((size, size), np.float32)


def classify_volume(loaded: LoadedModel, volume: Volume, axis: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> VolumeClassification:
    """:meth:`SliceClassifierRun.run` in one call."""
    return SliceClassifierRun(loaded, volume).run(axis, progress)
