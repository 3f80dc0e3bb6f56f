"""``medsr segment`` and ``medsr eval segment`` with a ``segment_instances`` model."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from medsr_viewer.cli.main import main
from medsr_viewer.core.labels.instances import InstanceParams, instance_targets
from medsr_viewer.core.metrics.instances import connected_instances, instance_metrics
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.instance_output import instances_from_output
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.instance_task import INSTANCE_LABELS
from medsr_viewer.models.training.patches import percentile_bounds

PARAMS = InstanceParams(sigma=1.0, threshold=0.5, seed_threshold=0.6, min_size=5)


@pytest.fixture(scope="module")
def instance_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> tuple[Path, torch.nn.Module]:
    """A small U-Net fitted for a few seconds to ISBI image 00 (core/band targets)."""
    torch.manual_seed(3)
    module = build_architecture("unet", classes=3, base=8, depth=2)
    image = np.asarray(Image.open(data_dir / "isbi2012_em/images/00.png").convert("F"))[:192, :192]
    label = np.asarray(Image.open(data_dir / "isbi2012_em/labels/00.png"))[:192, :192]
    lo, hi = percentile_bounds(image, 0.5, 99.5)
    x = torch.from_numpy(((image - lo) / (hi - lo)).astype(np.float32))[None, None]
    y = torch.from_numpy(instance_targets(connected_instances(label == 255), 2)
                         .astype(np.int64))[None]
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(module(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    module.eval()
    card = ModelCard(name="test-cells", task="segment_instances", architecture="unet",
                     arch_kwargs={"base": 8, "depth": 2}, out_channels=3,
                     normalisation=Normalisation("percentile", 0.5, 99.5, False),
                     modalities=("EM", "OT"), labels=INSTANCE_LABELS, tile_size=512,
                     tile_overlap=64, instances={**PARAMS.to_dict(), "object_name": "cell"},
                     training={"object_value": 255})
    path = tmp_path_factory.mktemp("inst") / "test-cells.safetensors"
    export_with_card(module, card, path)
    return path, module


@pytest.fixture(scope="module")
def em_crop(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 128x160 crop of ISBI image 20 and its label, in a temp folder pair."""
    root = tmp_path_factory.mktemp("em")
    for kind in ("images", "labels"):
        (root / kind).mkdir()
        image = Image.open(data_dir / "isbi2012_em" / kind / "20.png")
        image.crop((100, 50, 260, 178)).save(root / kind / "20.png")
    return root / "images", root / "labels"


def _expected(module: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    lo, hi = percentile_bounds(image, 0.5, 99.5)
    x = torch.from_numpy(((image - lo) / (hi - lo)).astype(np.float32))[None, None]
    with torch.inference_mode():
        return instances_from_output(module(x)[0].numpy(), PARAMS)


def test_segment_png_is_16_bit_instance_ids(instance_model: tuple[Path, torch.nn.Module],
                                            em_crop: tuple[Path, Path], tmp_path: Path) -> None:
    path, module = instance_model
    out = tmp_path / "ids.png"
    assert main(["segment", str(em_crop[0] / "20.png"), str(out), "--model", str(path),
                 "--quiet"]) == 0
    image = Image.open(out)
    assert image.mode.startswith("I;16")
    ids = np.asarray(image).astype(np.int64)
    source = np.asarray(Image.open(em_crop[0] / "20.png").convert("F"), dtype=np.float32)
    expected = _expected(module, source)
    assert ids.max() > 1
    np.testing.assert_array_equal(ids, expected)
    assert set(np.unique(ids[ids > 0])) == set(range(1, int(ids.max()) + 1))  # consecutive
    assert not (tmp_path / "ids.label").exists()  # no class table for ids


def test_segment_nifti_keeps_uint32_ids_unique_over_slices(
        instance_model: tuple[Path, torch.nn.Module], em_crop: tuple[Path, Path],
        tmp_path: Path) -> None:
    path, _module = instance_model
    source = np.asarray(Image.open(em_crop[0] / "20.png").convert("F"), dtype=np.float32)
    volume = tmp_path / "stack.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([source.T, source.T[::-1]], axis=-1).astype(np.uint8),
                             np.eye(4)), str(volume))
    out = tmp_path / "ids.nii.gz"
    assert main(["segment", str(volume), str(out), "--model", str(path), "--quiet",
                 "--axis", "0"]) == 0
    image = nib.load(str(out))
    assert image.get_data_dtype() == np.uint32
    ids = np.asarray(image.dataobj)
    first, second = ids[..., 0], ids[..., 1]
    assert first.max() > 0 and second.max() > 0
    assert not set(np.unique(first[first > 0])) & set(np.unique(second[second > 0]))


def test_eval_segment_prints_instance_scores(instance_model: tuple[Path, torch.nn.Module],
                                             em_crop: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, module = instance_model
    args = ["eval", "segment", "--model", str(path), "--images", str(em_crop[0]),
            "--labels", str(em_crop[1])]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "mAP" in text and "AP50" in text and "Rand" in text and "overall" in text
    assert main([*args, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)["scores"]
    source = np.asarray(Image.open(em_crop[0] / "20.png").convert("F"), dtype=np.float32)
    label = np.asarray(Image.open(em_crop[1] / "20.png"))
    expected = instance_metrics(connected_instances(label == 255), _expected(module, source))
    assert scores["20"]["dsb_map"] == pytest.approx(expected.dsb_map, abs=1e-5)
    assert scores["20"]["ap50"] == pytest.approx(expected.ap50, abs=1e-5)
    assert scores["20"]["rand_error"] == pytest.approx(expected.rand_error, abs=1e-5)
    assert scores["overall"]["n_ref"] == expected.n_ref


def test_task_mismatch_is_refused(instance_model: tuple[Path, torch.nn.Module],
                                  em_crop: tuple[Path, Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, _module = instance_model
    image = str(em_crop[0] / "20.png")
    assert main(["sr", image, str(tmp_path / "x.png"), "--model", str(path)]) != 0
    err = capsys.readouterr().err
    assert "'segment_instances' model, not 'super_resolution'" in err
    assert main(["enhance", image, str(tmp_path / "y.png"), "--model", str(path)]) != 0
    assert "not 'enhance'" in capsys.readouterr().err
