"""Segmentation training data from 3-D image/label volume pairs (brain tissue and the like).

A *pair* is an image volume and a label volume on the same voxel grid (checked by shape).
Stored label values become class indices through a named mapping:

- ``identity``: the stored values are the classes (FSL FAST ``pveseg``: 1 CSF, 2 GM, 3 WM);
- ``freesurfer-tissue``: FreeSurfer's segmentation numbering (``aseg``, ``aparc+aseg``,
  ``aparc.a2009s+aseg``, ``wmparc``) reduced to background / CSF / GM / WM by the reviewed
  table :data:`FREESURFER_TISSUE` (every value present must be in it: an unknown label is an
  error, never silently background).

Training samples are whole slices along all three axes (the issue asks for axial, coronal and
sagittal robustness), augmented by :class:`VolumeSliceSampler`: a random rotation and zoom,
flips and 90-degree turns, intensity scaling and gamma, a smooth multiplicative bias field, and
for images that still have their skull a skull-stripped variant (image times the union of the
tissue classes dilated a little). The opposite variant, putting a skull *on* a skull-stripped
image such as FreeSurfer's ``norm.mgz``, cannot be made from the data (there is no scalp to
add), so a skull-stripped image only ever appears stripped.

Scores: :func:`score_volume` predicts every ``step``-th slice along the chosen axes and pools
the voxel counts, giving one Dice per class (and for the brain, the union of the non-background
classes) per held-out volume.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsr_viewer.models.study_volumes import StudyError, StudyVolume, load_study
from medsr_viewer.models.training.patches import percentile_bounds

BACKGROUND, CSF, GM, WM = 0, 1, 2, 3
#: Class names of the tissue models, by class index.
TISSUE_CLASSES = ("background", "CSF", "grey matter", "white matter")
#: Display colours (RGB) of the tissue classes.
TISSUE_COLOURS = ((0, 0, 0), (40, 120, 255), (255, 70, 60), (255, 240, 150))

#: FreeSurfer label value(s) -> tissue class, with the reason; reviewed against
#: ``FreeSurferColorLUT.txt``. ``(first, last)`` is an inclusive range.
FREESURFER_TISSUE: tuple[tuple[tuple[int, int], int, str], ...] = (
    ((0, 0), BACKGROUND, ("Unknown: outside the brain. Note: aseg has no label for sulcal or "
                         "extra-cerebral CSF, so that CSF is background here (FSL's pveseg "
                         "calls it CSF: the two references disagree there)")),
    ((2, 2), WM, "Left-Cerebral-White-Matter"),
    ((41, 41), WM, "Right-Cerebral-White-Matter"),
    ((3, 3), GM, "Left-Cerebral-Cortex (aseg without aparc)"),
    ((42, 42), GM, "Right-Cerebral-Cortex (aseg without aparc)"),
    ((4, 5), CSF, "Left-Lateral-Ventricle, Left-Inf-Lat-Vent"),
    ((43, 44), CSF, "Right-Lateral-Ventricle, Right-Inf-Lat-Vent"),
    ((14, 15), CSF, "3rd-Ventricle, 4th-Ventricle"),
    ((24, 24), CSF, "CSF (FreeSurfer's CSF label: basal cisterns around the brainstem)"),
    ((72, 72), CSF, "5th-Ventricle (cavum septi pellucidi)"),
    ((31, 31), CSF, ("Left-choroid-plexus: debatable; a T1 shows it between CSF and GM, but it "
                    "lies inside the ventricles and FAST-style tissue maps (pveseg) fill the "
                    "ventricles with CSF, so CSF keeps the two references alike")),
    ((63, 63), CSF, "Right-choroid-plexus: as 31"),
    ((30, 30), CSF, ("Left-vessel: debatable; aseg's 'vessel' is a few voxels of basal "
                    "vessels in the subarachnoid space, dark on T1: CSF")),
    ((62, 62), CSF, "Right-vessel: as 30 (8 voxels in the FreeSurfer subject)"),
    ((7, 7), WM, "Left-Cerebellum-White-Matter"),
    ((46, 46), WM, "Right-Cerebellum-White-Matter"),
    ((8, 8), GM, "Left-Cerebellum-Cortex"),
    ((47, 47), GM, "Right-Cerebellum-Cortex"),
    ((10, 13), GM, ("Left thalamus, caudate, putamen, pallidum: deep grey nuclei (pallidum is "
                   "brighter than cortex on T1 and FAST often calls it WM: debatable; "
                   "anatomy decides here)")),
    ((49, 52), GM, "Right thalamus, caudate, putamen, pallidum: as 10-13"),
    ((17, 18), GM, "Left-Hippocampus, Left-Amygdala: grey matter"),
    ((53, 54), GM, "Right-Hippocampus, Right-Amygdala: grey matter"),
    ((26, 26), GM, "Left-Accumbens-area: grey nucleus"),
    ((58, 58), GM, "Right-Accumbens-area: grey nucleus"),
    ((28, 28), WM, ("Left-VentralDC: debatable; a mixture (hypothalamus, subthalamic nucleus, "
                   "substantia nigra, but mostly the cerebral peduncle and other tracts), WM-"
                   "like on T1: WM")),
    ((60, 60), WM, "Right-VentralDC: as 28"),
    ((16, 16), WM, "Brain-Stem: mostly tracts, WM-like on T1 (its nuclei are not resolved)"),
    ((77, 79), WM, "WM-hypointensities (77, and the lateralised 78/79): lesions inside WM"),
    ((80, 82), GM, "non-WM-hypointensities: hypointense spots in grey structures"),
    ((85, 85), WM, "Optic-Chiasm: a fibre tract"),
    ((251, 255), WM, "CC_Posterior ... CC_Anterior: corpus callosum"),
    ((1000, 1035), GM, "ctx-lh-* (Desikan aparc): cortex"),
    ((2000, 2035), GM, "ctx-rh-* (Desikan aparc): cortex"),
    ((3000, 3035), WM, "wm-lh-* (wmparc): white matter under the cortex"),
    ((4000, 4035), WM, "wm-rh-* (wmparc): white matter under the cortex"),
    ((5001, 5002), WM, "Left/Right-UnsegmentedWhiteMatter (wmparc)"),
    ((11100, 11175), GM, "ctx_lh_* (Destrieux aparc.a2009s): cortex"),
    ((12100, 12175), GM, "ctx_rh_* (Destrieux aparc.a2009s): cortex"),
)

#: Names accepted by :func:`mapping_by_name`.
MAPPINGS = ("identity", "freesurfer-tissue", "freesurfer-tissue+csf")
#: Shell (voxels) around the FreeSurfer tissue in which dark voxels become sulcal CSF.
SULCAL_SHELL = 3
#: Smallest share of brain (non-background) pixels for a slice to be used in training.
MIN_BRAIN_FRACTION = 0.02
#: An image has a skull (and gets a stripped variant) when more than this share of its
#: clearly non-zero voxels lies outside the dilated union of the tissue classes.
SKULL_FRACTION = 0.15
#: Largest Rician noise σ (normalised units) of the noise augmentation.
MAX_NOISE = 0.04
#: Dilation (voxels) of the tissue union used as the skull-stripping mask.
STRIP_DILATION = 2


def freesurfer_tissue(labels: np.ndarray) -> np.ndarray:
    """FreeSurfer label values -> tissue classes (uint8) by :data:`FREESURFER_TISSUE`.

    Raises
    ------
    ValueError
        Naming the values that the table does not cover.
    """
    values = np.rint(np.asarray(labels)).astype(np.int64)
    out = np.full(values.shape, 255, dtype=np.uint8)
    for (first, last), cls, _reason in FREESURFER_TISSUE:
        out[(values >= first) & (values <= last)] = cls
    missing = np.unique(values[out == 255])
    if missing.size:
        shown = ", ".join(str(int(v)) for v in missing[:12])
        raise ValueError(f"FreeSurfer label value(s) {shown} are not in the tissue table "
                         "(medsr_viewer.models.training.volume_pairs.FREESURFER_TISSUE)")
    return out


def identity_classes(labels: np.ndarray, classes: int = 4) -> np.ndarray:
    """Stored values 0..classes-1 as classes (uint8); other values are an error."""
    values = np.rint(np.asarray(labels)).astype(np.int64)
    bad = np.unique(values[(values < 0) | (values >= classes)])
    if bad.size:
        raise ValueError(f"label values {', '.join(map(str, bad[:12]))} are not classes "
                         f"0..{classes - 1} (identity mapping)")
    return values.astype(np.uint8)


def add_sulcal_csf(image: np.ndarray, classes: np.ndarray,
                   shell: int = SULCAL_SHELL) -> np.ndarray:
    """FreeSurfer classes plus the sulcal/extra-cerebral CSF that aseg leaves at 0.

    aseg labels only ventricular and cisternal CSF; FSL's ``pveseg`` (the other reference)
    also calls the CSF in the sulci and around the brain CSF. To make the two references
    alike, voxels that are background, non-zero in the skull-stripped image (FreeSurfer's
    ``norm.mgz``), within ``shell`` voxels of the tissue and darker than halfway between the
    median of the labelled CSF and of the grey matter become CSF. A heuristic: its result is
    a derived reference, reported beside the plain aseg one.
    """
    out = classes.copy()
    tissue = classes > 0
    csf_level = float(np.median(image[classes == CSF])) if (classes == CSF).any() else 0.0
    gm_level = float(np.median(image[classes == GM]))
    threshold = 0.5 * (csf_level + gm_level)
    near = _dilate(tissue, shell) & ~tissue
    out[near & (image > 0) & (image < threshold)] = CSF
    return out


def mapping_by_name(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The label-to-class function called ``name`` (``identity`` or ``freesurfer-tissue``;
    ``freesurfer-tissue+csf`` is ``freesurfer-tissue`` followed by :func:`add_sulcal_csf`,
    which needs the image, see :func:`load_pair`)."""
    if name == "identity":
        return identity_classes
    if name in ("freesurfer-tissue", "freesurfer-tissue+csf"):
        return freesurfer_tissue
    raise ValueError(f"unknown label mapping {name!r} (choose from {', '.join(MAPPINGS)})")


@dataclass(frozen=True)
class PairSpec:
    """One ``IMG=LABELS[:MAPPING]`` argument."""

    image: Path
    labels: Path
    mapping: str


def parse_pair(text: str, default_mapping: str) -> PairSpec:
    """Parse ``IMG=LABELS`` or ``IMG=LABELS:MAPPING`` (mapping one of :data:`MAPPINGS`)."""
    if "=" not in text:
        raise ValueError(f"--pairs item {text!r} is not IMAGE=LABELS[:MAPPING]")
    image, rest = text.split("=", 1)
    mapping = default_mapping
    head, sep, tail = rest.rpartition(":")
    if sep and tail in MAPPINGS:
        rest, mapping = head, tail
    if mapping not in MAPPINGS:
        raise ValueError(f"unknown label mapping {mapping!r} (choose from {', '.join(MAPPINGS)})")
    return PairSpec(Path(image), Path(rest), mapping)


def _dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    from scipy.ndimage import binary_dilation, generate_binary_structure

    if iterations <= 0:
        return mask
    return np.asarray(binary_dilation(mask, generate_binary_structure(3, 1), iterations))


@dataclass
class VolumePair:
    """An image volume normalised to ``[0, 1]`` with its class volume.

    Parameters
    ----------
    name
        Image name (file stem).
    study
        The image as read (raw intensities, spacing, modality).
    classes
        uint8 class per voxel, same shape as the image.
    variants
        Normalised images the sampler picks from: ``{"as stored": ..., "skull-stripped": ...}``
        (the second only for an image with a skull).
    skull_share
        Share of the clearly non-zero image voxels outside the dilated tissue union.
    """

    name: str
    study: StudyVolume
    classes: np.ndarray
    variants: dict[str, np.ndarray] = field(default_factory=dict)
    skull_share: float = 0.0

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm, ``(z, y, x)``."""
        return self.study.spacing


def normalise(voxels: np.ndarray) -> np.ndarray:
    """Whole-volume percentile normalisation, as the application applies the card's."""
    lo, hi = percentile_bounds(voxels)
    return ((voxels - lo) / (hi - lo)).astype(np.float32)


def make_pair(name: str, study: StudyVolume, classes: np.ndarray,
              strip_variant: bool = True) -> VolumePair:
    """A :class:`VolumePair`, adding the skull-stripped variant when the image has a skull."""
    voxels = np.asarray(study.voxels, dtype=np.float32)
    if voxels.shape != classes.shape:
        raise ValueError(f"{name}: image {voxels.shape} and labels {classes.shape} differ in shape")
    brain = _dilate(classes > 0, STRIP_DILATION)
    lit = voxels > 0.05 * float(np.percentile(voxels, 99.9))
    share = float((lit & ~brain).sum() / max(int(lit.sum()), 1))
    variants = {"as stored": normalise(voxels)}
    if strip_variant and share > SKULL_FRACTION:
        variants["skull-stripped"] = normalise(voxels * brain)
    return VolumePair(name, study, classes, variants, share)


def stem(path: str | os.PathLike[str]) -> str:
    """File name without ``.nii.gz``/``.nii``/``.mgz``/``.nrrd``."""
    name = Path(path).name
    for suffix in (".nii.gz", ".nii", ".mgz", ".nrrd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def load_pair(spec: PairSpec, strip_variant: bool = True) -> VolumePair:
    """Read one image/label pair and map its labels.

    Raises
    ------
    StudyError
        When a file cannot be read, the grids differ, or a label value is not mapped.
    """
    image = load_study(spec.image)
    labels = load_study(spec.labels)
    try:
        classes = mapping_by_name(spec.mapping)(labels.voxels)
        if spec.mapping == "freesurfer-tissue+csf":
            classes = add_sulcal_csf(np.asarray(image.voxels), classes)
        return make_pair(stem(spec.image), image, classes, strip_variant)
    except ValueError as exc:
        raise StudyError(f"{spec.labels}: {exc}") from exc


def slice_of(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2-D slice ``index`` along ``axis`` (a view)."""
    return np.take(volume, index, axis=axis)


def brain_slices(classes: np.ndarray, axis: int,
                 min_fraction: float = MIN_BRAIN_FRACTION) -> np.ndarray:
    """Indices of the slices along ``axis`` whose brain share is at least ``min_fraction``."""
    other = tuple(a for a in range(3) if a != axis)
    share = (classes > 0).mean(axis=other)
    return np.flatnonzero(share >= min_fraction)


def add_skull(image: np.ndarray, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A skull-stripped slice with a synthetic head around it (labels unchanged: background).

    Outward from the brain (tissue union of ``classes``): a dark gap (CSF/meninges, 1-4 px),
    dark bone (3-8 px, 0-0.15), a bright scalp of fat and muscle (3-10 px, 0.5-1.0, with
    noise); what is outside stays 0. The labelled data hold no image with its skull (both
    references come skull-stripped), so this is the only way the model sees a scalp.
    """
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    brain = classes > 0
    if not brain.any():
        return image
    dist = distance_transform_edt(~brain)
    gap = rng.uniform(1, 4)
    bone = gap + rng.uniform(3, 8)
    scalp = bone + rng.uniform(3, 10)
    out = image.copy()
    outside = ~brain & (image < 0.05)
    bone_band = outside & (dist > gap) & (dist <= bone)
    scalp_band = outside & (dist > bone) & (dist <= scalp)
    texture = gaussian_filter(rng.normal(0.0, 1.0, image.shape), 1.0)
    out[bone_band] = rng.uniform(0.0, 0.15) + 0.03 * texture[bone_band]
    level = rng.uniform(0.5, 1.0)
    out[scalp_band] = level * (1 + 0.15 * texture[scalp_band])
    return np.clip(out, 0.0, None).astype(np.float32)


def rician(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of ``image`` plus complex Gaussian noise of ``sigma`` (MR noise)."""
    if sigma <= 0:
        return image
    real = image + rng.normal(0.0, sigma, image.shape)
    imag = rng.normal(0.0, sigma, image.shape)
    return np.sqrt(real * real + imag * imag).astype(np.float32)


def augmented_extremes(pair: VolumePair, seed: int = 0) -> list[np.ndarray]:
    """Whole volumes at the far ends of what the sampler shows, for the card's training domain.

    Each variant of the pair with a synthetic head on every axis-0 slice (skull-stripped
    images only) and Rician noise of :data:`MAX_NOISE`: the domain record then spans what the
    network was trained on (clean stripped brains up to noisy heads), not only the stored
    images.
    """
    rng = np.random.default_rng(seed)
    out = []
    for image in pair.variants.values():
        volume = np.array(image, dtype=np.float32)
        if pair.skull_share <= SKULL_FRACTION:
            for index in range(volume.shape[0]):
                volume[index] = add_skull(volume[index], pair.classes[index], rng)
        out.append(rician(volume, MAX_NOISE, rng))
    return out


def bias_field(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field ``exp(f)``, ``f`` a random 4×4 grid upsampled cubically,
    scaled so that ``|f| <= strength`` (MR receive-coil shading)."""
    from scipy.ndimage import zoom

    coarse = rng.uniform(-1.0, 1.0, (4, 4))
    smooth = zoom(coarse, (shape[0] / 4, shape[1] / 4), order=3, mode="nearest")[
        : shape[0], : shape[1]]
    peak = float(np.abs(smooth).max()) or 1.0
    return np.exp(smooth * (strength / peak)).astype(np.float32)


class VolumeSliceSampler:
    """Augmented square crops of slices along all axes of several volume pairs.

    Each sample: a pair (each equally likely), a variant of its image (each equally likely),
    an axis and a slice with brain in it, a random rotation (±15°) and zoom (0.85–1.15) about
    a random brain pixel (half of the slices of skull-stripped images get a synthetic
    head first, :func:`add_skull`), a ``patch``-sided crop around it, a random 90-degree turn and flip,
    then intensity scaling ×0.85–1.15, gamma 0.7–1.5, a bias field of up to ±30 % and, on
    half of the samples, Rician noise of σ up to :data:`MAX_NOISE` (air of a real scan is
    noisy, the labelled images' background is exactly 0).
    """

    def __init__(self, pairs: Sequence[VolumePair], patch: int, seed: int = 0) -> None:
        self.pairs = list(pairs)
        self.patch = patch
        self.rng = np.random.default_rng(seed)
        self.slices = [[brain_slices(p.classes, axis) for axis in range(3)] for p in self.pairs]

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One ``(patch, patch)`` float32 image and its int64 class map."""
        from scipy.ndimage import affine_transform

        rng, p = self.rng, self.patch
        which = int(rng.integers(len(self.pairs)))
        pair = self.pairs[which]
        names = sorted(pair.variants)
        image_volume = pair.variants[names[int(rng.integers(len(names)))]]
        axis = int(rng.integers(3))
        candidates = self.slices[which][axis]
        index = int(candidates[int(rng.integers(len(candidates)))])
        image = slice_of(image_volume, axis, index)
        classes = slice_of(pair.classes, axis, index)
        if pair.skull_share <= SKULL_FRACTION and rng.random() < 0.5:
            image = add_skull(image, classes, rng)
        ys, xs = np.nonzero(classes)
        pick = int(rng.integers(len(ys)))
        centre = np.array([ys[pick], xs[pick]], dtype=np.float64)
        angle = np.deg2rad(rng.uniform(-15, 15))
        scale = rng.uniform(0.85, 1.15)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
        offset = centre - rot @ np.array([p / 2, p / 2])
        crop = affine_transform(image, rot, offset, (p, p), order=1, mode="constant", cval=0.0)
        crop_classes = affine_transform(classes, rot, offset, (p, p), order=0, mode="constant",
                                        cval=0)
        k, flip = int(rng.integers(4)), bool(rng.random() < 0.5)
        crop, crop_classes = np.rot90(crop, k), np.rot90(crop_classes, k)
        if flip:
            crop, crop_classes = crop[:, ::-1], crop_classes[:, ::-1]
        crop = np.clip(crop, 0.0, None) * float(rng.uniform(0.85, 1.15))
        crop = np.power(crop, float(rng.uniform(0.7, 1.5)))
        crop = crop * bias_field((p, p), 0.3 * float(rng.random()), rng)
        if rng.random() < 0.5:
            crop = rician(crop, float(rng.uniform(0.0, MAX_NOISE)), rng)
        return (np.ascontiguousarray(crop, dtype=np.float32),
                np.ascontiguousarray(crop_classes).astype(np.int64))

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(size, 1, p, p)`` float32 images and ``(size, p, p)`` int64 class maps."""
        samples = [self.sample() for _ in range(size)]
        return (np.stack([s[0] for s in samples])[:, None],
                np.stack([s[1] for s in samples]))


@dataclass
class VolumeScores:
    """Pooled overlap of one volume's predicted and reference classes."""

    name: str
    dice: dict[str, float]
    slices: int
    axes: tuple[int, ...]
    step: int

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form for a card."""
        return {"dice": {k: round(v, 4) for k, v in self.dice.items()},
                "slices": self.slices, "axes": list(self.axes), "slice_step": self.step}


def predict_slice(module: object, image: np.ndarray) -> np.ndarray:
    """Argmax class map of one normalised 2-D slice."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    with torch.inference_mode():
        logits = module(x)[0]  # type: ignore[operator]
    return np.asarray(logits.argmax(0).numpy(), dtype=np.uint8)


def score_volume(module: object, name: str, image: np.ndarray, classes: np.ndarray,
                 class_names: Sequence[str], step: int = 4,
                 axes: Sequence[int] = (0, 1, 2)) -> VolumeScores:
    """Dice per class and for the brain over every ``step``-th brain slice along ``axes``.

    ``image`` is normalised (:func:`normalise`); counts are pooled over all scored slices,
    so a class's Dice is that of the voxels the slices cover.
    """
    n = len(class_names)
    inter = np.zeros(n + 1)
    ref_sum = np.zeros(n + 1)
    pred_sum = np.zeros(n + 1)
    count = 0
    for axis in axes:
        for index in brain_slices(classes, axis, 0.0)[::step]:
            ref = slice_of(classes, axis, int(index))
            if not ref.any():
                continue
            pred = predict_slice(module, slice_of(image, axis, int(index)))
            count += 1
            for c in range(1, n):
                r, q = ref == c, pred == c
                inter[c] += np.count_nonzero(r & q)
                ref_sum[c] += np.count_nonzero(r)
                pred_sum[c] += np.count_nonzero(q)
            r, q = ref > 0, pred > 0
            inter[n] += np.count_nonzero(r & q)
            ref_sum[n] += np.count_nonzero(r)
            pred_sum[n] += np.count_nonzero(q)
    dice = {}
    for c, label in [*((c, class_names[c]) for c in range(1, n)), (n, "brain")]:
        total = ref_sum[c] + pred_sum[c]
        dice[label] = float(2 * inter[c] / total) if total else 1.0
    return VolumeScores(name, dice, count, tuple(axes), step)
