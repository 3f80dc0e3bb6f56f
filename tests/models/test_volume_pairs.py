"""Tissue training data from volume pairs: the FreeSurfer table, sampler, scores and the CLI."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.models.archive import load_model
from medsr_viewer.models.study_volumes import StudyVolume, load_study
from medsr_viewer.models.training.loop import load_checkpoint
from medsr_viewer.models.training.volume_pairs import (
    CSF,
    FREESURFER_TISSUE,
    GM,
    WM,
    VolumeSliceSampler,
    add_skull,
    add_sulcal_csf,
    freesurfer_tissue,
    identity_classes,
    load_pair,
    make_pair,
    parse_pair,
    score_volume,
)

NAMES = ("background", "CSF", "grey matter", "white matter")


def test_table_ranges_do_not_overlap_and_have_reasons() -> None:
    covered: set[int] = set()
    for (first, last), cls, reason in FREESURFER_TISSUE:
        values = set(range(first, last + 1))
        assert not values & covered and first <= last and cls in (0, 1, 2, 3) and reason
        covered |= values


@pytest.mark.parametrize(("value", "cls"), [
    (0, 0), (2, WM), (41, WM), (4, CSF), (24, CSF), (31, CSF), (8, GM), (47, GM), (7, WM),
    (10, GM), (13, GM), (16, WM), (17, GM), (28, WM), (77, WM), (251, WM), (255, WM),
    (11101, GM), (12175, GM), (1035, GM), (3001, WM),
])
def test_freesurfer_values_map_to_the_reviewed_class(value: int, cls: int) -> None:
    assert int(freesurfer_tissue(np.array([value]))[0]) == cls


def test_unknown_freesurfer_value_is_an_error_not_background() -> None:
    with pytest.raises(ValueError, match="999"):
        freesurfer_tissue(np.array([0, 2, 999]))
    with pytest.raises(ValueError, match="7"):
        identity_classes(np.array([0, 3, 7]))


def test_every_label_of_the_real_freesurfer_subject_is_mapped(data_dir: Path) -> None:
    labels = load_study(data_dir / "labelled" / "freesurfer_subject" / "aparc.a2009s+aseg.mgz")
    classes = freesurfer_tissue(labels.voxels)
    counts = np.bincount(classes.ravel(), minlength=4)
    assert counts.size == 4 and (counts > 0).all()
    assert counts[GM] > counts[CSF] and counts[WM] > counts[CSF]  # aseg: no sulcal CSF


def test_parse_pair() -> None:
    p = parse_pair("a.nii.gz=b.mgz:freesurfer-tissue", "identity")
    assert (p.image, p.labels, p.mapping) == (Path("a.nii.gz"), Path("b.mgz"), "freesurfer-tissue")
    assert parse_pair("a=b", "identity").mapping == "identity"
    assert parse_pair("a=c:/x.nii", "identity").labels == Path("c:/x.nii")
    with pytest.raises(ValueError):
        parse_pair("a.nii", "identity")
    with pytest.raises(ValueError):
        parse_pair("a=b", "nonsense")


def _phantom(size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A ball of WM in a GM shell in a CSF shell; image intensities like a T1."""
    zz, yy, xx = np.mgrid[:size, :size, :size]
    r = np.sqrt((zz - size / 2) ** 2 + (yy - size / 2) ** 2 + (xx - size / 2) ** 2)
    classes = np.zeros((size,) * 3, np.uint8)
    classes[r < 16] = CSF
    classes[r < 14] = GM
    classes[r < 9] = WM
    image = np.choose(classes, [0.0, 25.0, 65.0, 100.0]).astype(np.float32)
    return image, classes


def test_sulcal_csf_fills_dark_voxels_next_to_tissue_only() -> None:
    image, classes = _phantom()
    aseg_like = classes.copy()
    aseg_like[aseg_like == CSF] = 0  # aseg: the dark rim around the brain is "unknown"
    aseg_like[20, 20, 20] = CSF  # one labelled ventricle voxel sets the CSF level
    filled = add_sulcal_csf(image, aseg_like, shell=3)
    rim = (classes == CSF) & (aseg_like == 0)
    assert (filled[rim] == CSF).all()
    assert (filled[classes == 0] == 0).all()  # zero voxels (outside the mask) stay background
    assert (filled[aseg_like > 0] == aseg_like[aseg_like > 0]).all()


def test_skull_variant_and_sampler_contract() -> None:
    image, classes = _phantom()
    with_skull = image.copy()
    with_skull[(classes == 0) & (np.indices(image.shape)[1] < 3)] = 90.0  # a "scalp"
    study = StudyVolume("head", with_skull, (1.0, 1.0, 1.0), "MR")
    pair = make_pair("head", study, classes)
    assert set(pair.variants) == {"as stored", "skull-stripped"} and pair.skull_share > 0.15
    stripped = make_pair("brain", StudyVolume("brain", image, (1.0, 1.0, 1.0), "MR"), classes)
    assert set(stripped.variants) == {"as stored"}
    sampler = VolumeSliceSampler([pair, stripped], 24, seed=3)
    x, y = sampler.batch(6)
    assert x.shape == (6, 1, 24, 24) and x.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y)) <= {0, 1, 2, 3} and np.isfinite(x).all()
    again = VolumeSliceSampler([pair, stripped], 24, seed=3).batch(6)
    assert np.array_equal(again[0], x) and np.array_equal(again[1], y)


def test_synthetic_skull_touches_only_background() -> None:
    image, classes = _phantom()
    plane, labels = image[20] / 100.0, classes[20]
    head = add_skull(plane, labels, np.random.default_rng(0))
    assert np.array_equal(head[labels > 0], plane[labels > 0])
    assert (head[labels == 0] > 0.4).any()  # a bright scalp ring appeared


class _Threshold:
    """A stand-in model: classes from intensity thresholds (logits as one-hot)."""

    def __call__(self, x):
        import torch

        v = x[0, 0]
        cls = (v > 0.1).long() + (v > 0.45).long() + (v > 0.8).long()
        return torch.nn.functional.one_hot(cls, 4).permute(2, 0, 1)[None].float()


def test_score_volume_perfect_and_pooled() -> None:
    image, classes = _phantom()
    s = score_volume(_Threshold(), "p", image / 100.0, classes, NAMES, step=2)
    assert s.dice == {"CSF": 1.0, "grey matter": 1.0, "white matter": 1.0, "brain": 1.0}
    assert s.axes == (0, 1, 2) and s.slices > 0
    wrong = classes.copy()
    wrong[wrong == GM] = WM
    s = score_volume(_Threshold(), "p", image / 100.0, wrong, NAMES, step=1, axes=(0,))
    assert s.dice["brain"] == 1.0 and s.dice["grey matter"] == 0.0


def test_train_segment_volumes_cli_resumes_and_scores(tmp_path: Path, cli, capsys) -> None:
    image, classes = _phantom(32)
    affine = np.diag([1.2, 1.2, 1.2, 1.0])
    paths = {}
    for name, data in (("img", image), ("lab", classes.astype(np.int16))):
        paths[name] = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(data, affine), str(paths[name]))
    other = tmp_path / "img2.nii.gz"
    nib.save(nib.Nifti1Image(image * 1.3, affine), str(other))
    out = tmp_path / "tiny-tissue.safetensors"
    base = ["train", "segment-volumes", "--pairs", f"{paths['img']}={paths['lab']}",
            "--test", f"{other}={paths['lab']}:identity", "--arch-kwargs", "base=4,depth=2",
            "--steps", "4", "--batch-size", "2", "--patch-size", "24", "--val-every", "2",
            "--checkpoint-every", "2", "--out", str(out)]
    assert cli(base + ["--stop-at", "2"]) == 0
    assert load_checkpoint(out.with_suffix(".ckpt"))["step"] == 2
    assert cli(base + ["--resume", str(out.with_suffix(".ckpt"))]) == 0
    assert "resumed from" in capsys.readouterr().out
    card = load_model(out).card
    assert card.task == "segment" and card.out_channels == 4 and card.modalities == ("MR",)
    assert [lab.name for lab in card.labels] == list(NAMES)
    assert card.training["sessions"] == 2 and card.training["train_volumes"] == ["img"]
    assert card.training["domain"]["spacing_mm"] == pytest.approx([1.2, 1.2], abs=1e-4)
    test = card.scores["test"]["img2"]["as stored"]
    assert set(test["dice"]) == {"CSF", "grey matter", "white matter", "brain"}
    assert card.scores["slice_seconds_256"] > 0
    # One test image against two references: both entries are named by their mapping.
    twice = tmp_path / "twice.safetensors"
    aseg = tmp_path / "aseg.nii.gz"  # the same classes in FreeSurfer numbering
    nib.save(nib.Nifti1Image(np.choose(classes, [0, 4, 3, 2]).astype(np.int16), affine),
             str(aseg))
    assert cli(["train", "segment-volumes", "--pairs", f"{paths['img']}={paths['lab']}",
                "--test", f"{other}={paths['lab']}:identity", f"{other}={aseg}:freesurfer-tissue",
                "--arch-kwargs", "base=4,depth=2", "--steps", "1", "--batch-size", "2",
                "--patch-size", "24", "--val-every", "1", "--out", str(twice)]) == 0
    assert set(load_model(twice).card.scores["test"]) == {"img2 (identity)",
                                                          "img2 (freesurfer-tissue)"}
    unmapped = tmp_path / "bad.nii.gz"
    nib.save(nib.Nifti1Image(np.full((8, 8, 8), 9, np.int16), affine), str(unmapped))
    assert cli(["train", "segment-volumes", "--pairs", f"{paths['img']}={unmapped}",
                "--steps", "1", "--out", str(tmp_path / "x.safetensors")]) == 2


def test_tissue_training_domain_warns_on_em_and_ct_not_on_held_out_t1(data_dir: Path) -> None:
    """The domain a brain-tissue card records (both labelled brains, their augmented extremes)
    accepts a real T1 with its skull and flags an EM image and a CT."""
    import dataclasses

    from pydicom.data import get_testdata_file

    from medsr_viewer.core.io import load_volume
    from medsr_viewer.models.archive import read_card
    from medsr_viewer.models.card import Normalisation
    from medsr_viewer.models.domain import domain_warnings
    from medsr_viewer.models.registry import bundled_models_dir
    from medsr_viewer.models.training.segment_volumes_task import volume_pairs_domain

    fs = data_dir / "labelled" / "freesurfer_subject"
    tissue = data_dir / "labelled" / "template_tissue"
    pairs = [
        load_pair(parse_pair(f"{fs / 'norm.mgz'}={fs / 'aparc.a2009s+aseg.mgz'}"
                             ":freesurfer-tissue+csf", "identity")),
        load_pair(parse_pair(f"{data_dir / 'mri_ct' / 'spm152.nii.gz'}="
                             f"{tissue / 'mni152_pveseg.nii.gz'}", "identity")),
    ]
    base = read_card(bundled_models_dir() / "seg-em-membrane.safetensors")
    card = dataclasses.replace(
        base, modalities=("MR",), normalisation=Normalisation("percentile", 0.0, 99.9, False),
        training={"domain": volume_pairs_domain(pairs)})
    assert domain_warnings(card, load_volume(data_dir / "mri_ct" / "chris_t1.nii.gz")) == []
    em = domain_warnings(card, load_volume(data_dir / "isbi2012_em" / "images" / "21.png"))
    assert "no physical pixel size" in " ".join(em)
    ct = domain_warnings(card, load_volume(get_testdata_file("CT_small.dcm")))
    assert ct and "this study is CT" in ct[0]
