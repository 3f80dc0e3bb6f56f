"""The out-of-distribution warning: a study unlike a model's training data is named as such."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import pytest

from medsr_viewer.cli.main import main as cli
from medsr_viewer.core.io import load_volume
from medsr_viewer.models.archive import read_card
from medsr_viewer.models.domain import FEATURES, domain_message, domain_warnings
from medsr_viewer.models.registry import bundled_models_dir
from medsr_viewer.models.slice_engine import SliceEngine

SEG = bundled_models_dir() / "seg-em-membrane.safetensors"
SR = bundled_models_dir() / "sr-x2.safetensors"


@pytest.fixture(scope="module")
def mr_crop(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = nib.load(str(data_dir / "mri_ct" / "chris_t1.nii.gz"))
    path = tmp_path_factory.mktemp("ood") / "t1_crop.nii.gz"
    nib.save(image.slicer[:, :, 90:93], str(path))
    return path


def test_bundled_cards_record_their_training_domain() -> None:
    for path in sorted(bundled_models_dir().glob("*.safetensors")):
        domain = read_card(path).training["domain"]
        assert set(domain["features"]) == set(FEATURES) and domain["images"] >= 2
        for lo, hi in domain["features"].values():
            assert lo <= hi


def test_em_model_warns_on_mr_and_not_on_em(data_dir: Path, mr_crop: Path) -> None:
    seg = read_card(SEG)
    em = load_volume(data_dir / "isbi2012_em" / "images" / "21.png")
    assert domain_warnings(seg, em) == []
    nifti = domain_warnings(seg, load_volume(mr_crop))  # NIfTI: modality unknown, measured
    assert nifti[0] == "this study does not look like the model's training images (EM)"
    assert any("dark background" in p for p in nifti)
    dicom = load_volume(data_dir / "dicom" / "vs_seg_001_t1")
    assert "trained on EM images; this study is MR" in domain_warnings(seg, dicom)


def test_sr_model_fits_held_out_mr_and_warns_on_em(data_dir: Path) -> None:
    sr = read_card(SR)
    for name in ("chris_t1", "chris_PD"):
        assert domain_message(sr, load_volume(data_dir / "mri_ct" / f"{name}.nii.gz")) == ""
    em = load_volume(data_dir / "isbi2012_em" / "images" / "20.png")
    assert domain_message(sr, em).startswith("sr-x2: may not suit this study")


def test_cli_and_engine_warn_without_refusing(
    mr_crop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "labels.nii.gz"
    assert cli(["segment", str(mr_crop), str(out), "--model", "seg-em-membrane", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: seg-em-membrane: may not suit this study" in err and out.exists()
    from medsr_viewer.core.notify import Notifier

    notices = Notifier()
    seen: list[str] = []
    notices.subscribe(lambda n: seen.append(n.message))
    engine = SliceEngine(device="cpu", notifier=notices)
    volume = load_volume(mr_crop)
    ref = engine.resolve("seg-em-membrane")
    for _ in range(2):  # warned once per (model, study)
        for _update in engine.iter_slice(ref, volume, 0, 1, "segment"):
            pass
        engine.cache.clear()
    assert len([m for m in seen if "may not suit" in m]) == 1
