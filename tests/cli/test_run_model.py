"""``medsr sr|enhance|segment`` and ``medsr models`` on real images with exactly-known models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

from model_zoo import export_zoo

from medsr_viewer.cli.main import main
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import read_nifti_provenance
from medsr_viewer.models.archive import read_card


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return export_zoo(tmp_path_factory.mktemp("cli-zoo"))


@pytest.fixture(scope="module")
def small_mr(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-slice crop of the real chris_PD MRI (geometry kept by nibabel's slicer)."""
    image = nib.load(str(data_dir / "mri_ct" / "chris_PD.nii.gz"))
    crop = image.slicer[40:140, 60:180, 25:29]
    path = tmp_path_factory.mktemp("mr") / "pd_crop.nii.gz"
    nib.save(crop, str(path))
    return path


def _edge_box(volume: Volume) -> np.ndarray:
    nz, ny, nx = volume.shape
    corners = np.array(
        [[z, y, x] for z in (-0.5, nz - 0.5) for y in (-0.5, ny - 0.5) for x in (-0.5, nx - 0.5)]
    )
    world = volume.index_to_world(corners)
    return np.stack([world.min(axis=0), world.max(axis=0)])


def test_sr_writes_a_georeferenced_nifti(
    small_mr: Path, zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sr.nii.gz"
    before = small_mr.read_bytes()
    assert (
        main(["sr", str(small_mr), str(out), "--model", str(zoo["bicubic-x2"]), "--tile", "48"])
        == 0
    )
    captured = capsys.readouterr()
    assert "100%" in captured.err and "wrote" in captured.out
    assert small_mr.read_bytes() == before
    src, res = load_volume(small_mr), load_volume(out)
    axis = src.metadata["slice_axis"]
    assert axis == 0  # thick 2.4 mm slices along z
    assert res.shape == (4, 240, 200)
    np.testing.assert_allclose(
        res.spacing, (src.spacing[0], src.spacing[1] / 2, src.spacing[2] / 2), rtol=1e-5
    )
    np.testing.assert_allclose(_edge_box(res), _edge_box(src), atol=1e-3)
    # Values: exactly bicubic x2 of each slice (min/max normalisation is undone), stored in
    # the input's uint8 with a scaling, so within half a step of it.
    lo, hi = float(src.voxels.min()), float(src.voxels.max())
    x = torch.from_numpy((src.voxels - lo) / (hi - lo))[:, None]
    expected = F.interpolate(x, scale_factor=2.0, mode="bicubic").numpy()[:, 0] * (hi - lo) + lo
    stored = nib.load(str(out))
    assert stored.get_data_dtype() == np.uint8
    half_step = float(stored.dataobj.slope) / 2  # type: ignore[attr-defined]
    np.testing.assert_allclose(res.voxels, expected, atol=half_step + 1e-3 * (hi - lo))
    card = read_card(zoo["bicubic-x2"])
    descrip = nib.load(str(out)).header["descrip"].item().decode()
    assert descrip.startswith("bicubic-x2 v0.1.0 sha256:") and card.sha256[:40] in descrip
    prov = read_nifti_provenance(out)
    assert prov["sha256"] == card.sha256 and prov["model"] == "bicubic-x2" and prov["scale"] == 2


def _sr(source: Path, out: Path, model: Path, *options: str) -> tuple[nib.Nifti1Image, Volume]:
    """``medsr sr`` of ``source`` into ``out``: the written file and its reopened volume."""
    assert main(["sr", str(source), str(out), "--model", str(model), "--quiet", *options]) == 0
    return nib.load(str(out)), load_volume(out)


def test_integer_input_gives_its_type_within_half_a_step(
    small_mr: Path, zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #18: an int16 study's SR is int16 (slope 1 when its range fits), each value
    within half a quantisation step of the float32 result (``--dtype float32``)."""
    crop = nib.load(str(small_mr))
    values = np.asarray(crop.dataobj).astype(np.int16) * 9 - 300  # signed
    source = tmp_path / "int16.nii.gz"
    nib.save(nib.Nifti1Image(values, crop.affine), str(source))
    model = zoo["conv-x2"]
    stored, quantised = _sr(source, tmp_path / "i.nii.gz", model)
    assert "timing: 4 slices, model" in capsys.readouterr().out
    floats, exact = _sr(source, tmp_path / "f.nii.gz", model, "--dtype", "float32")
    assert stored.get_data_dtype() == np.int16 and floats.get_data_dtype() == np.float32
    slope = float(stored.dataobj.slope)  # type: ignore[attr-defined]
    assert slope == 1.0 and float(stored.dataobj.inter) == 0.0  # type: ignore[attr-defined]
    assert np.abs(quantised.voxels - exact.voxels).max() <= slope / 2 + 1e-3
    assert np.ptp(exact.voxels) > 1000 and exact.voxels.min() < 0
    prov = read_nifti_provenance(tmp_path / "i.nii.gz")["stored_as"]
    assert prov == {"dtype": "int16", "scl_slope": 1.0, "scl_inter": 0.0}
    assert read_nifti_provenance(tmp_path / "f.nii.gz")["stored_as"] == {"dtype": "float32"}
    i_size, f_size = ((tmp_path / n).stat().st_size for n in ("i.nii.gz", "f.nii.gz"))
    assert i_size < 0.7 * f_size


def test_float_input_stays_float32(
    small_mr: Path, zoo: dict[str, Path], tmp_path: Path
) -> None:
    crop = nib.load(str(small_mr))
    source = tmp_path / "float.nii"
    nib.save(nib.Nifti1Image(np.asarray(crop.dataobj, np.float32) / 7, crop.affine), str(source))
    stored, result = _sr(source, tmp_path / "o.nii", zoo["bicubic-x2"])
    assert stored.get_data_dtype() == np.float32
    assert read_nifti_provenance(tmp_path / "o.nii")["stored_as"] == {"dtype": "float32"}
    assert result.voxels.shape == (4, 240, 200)


def test_enhance_and_segment_on_a_real_png(
    data_dir: Path, zoo: dict[str, Path], tmp_path: Path
) -> None:
    src_path = min((data_dir / "isbi2012_em" / "images").glob("*.png"))
    src = load_volume(src_path)
    sr_png = tmp_path / "sr.png"
    assert (
        main(["sr", str(src_path), str(sr_png), "--model", str(zoo["bicubic-x2"]), "--quiet"]) == 0
    )
    sr = load_volume(sr_png)
    assert sr.shape == (1, src.shape[1] * 2, src.shape[2] * 2)
    seg_path = tmp_path / "seg.nii.gz"
    assert (
        main(
            [
                "segment",
                str(src_path),
                str(seg_path),
                "--model",
                str(zoo["threshold-seg"]),
                "--quiet",
            ]
        )
        == 0
    )
    seg = nib.load(str(seg_path))
    assert seg.get_data_dtype() == np.uint8
    labels = np.asarray(seg.dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(labels, (src.voxels / 255.0 > 0.5).astype(np.uint8))
    enh = tmp_path / "enh.png"
    assert main(["enhance", str(src_path), str(enh), "--model", str(zoo["smooth"]), "--quiet"]) == 0
    assert load_volume(enh).shape == src.shape


def test_user_errors_are_one_line_and_exit_2(
    small_mr: Path, zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def err(argv: list[str]) -> str:
        assert main(argv) == 2
        return capsys.readouterr().err.strip()

    model = ["--model", str(zoo["bicubic-x2"])]
    assert "refusing to overwrite the input" in err(
        ["sr", str(small_mr), str(small_mr), *model, "--force"]
    )
    existing = tmp_path / "exists.nii.gz"
    existing.write_bytes(b"keep me")
    assert "already exists (use --force" in err(["sr", str(small_mr), str(existing), *model])
    assert existing.read_bytes() == b"keep me"
    msg = err(["enhance", str(small_mr), str(tmp_path / "o.nii"), *model])
    assert "bicubic-x2.pt" in msg and "not 'enhance'" in msg
    msg = err(["sr", str(small_mr), str(tmp_path / "o.nii"), "--model", str(zoo["wrong-shape"])])
    assert "wrong-shape.pt: output shape" in msg
    msg = err(["sr", str(small_mr), str(tmp_path / "o.nii"), "--model", str(zoo["no-card"])])
    assert "no medsr_card.json" in msg
    assert "PNG output needs a 2-D input" in err(
        ["sr", str(small_mr), str(tmp_path / "o.png"), *model]
    )
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"garbage")
    assert str(bad) in err(["sr", str(bad), str(tmp_path / "o.nii"), *model])
    assert "no model named 'nope'" in err(
        ["sr", str(small_mr), str(tmp_path / "o.nii"), "--model", "nope"]
    )
    assert not (tmp_path / "o.nii").exists()


def test_models_lists_user_folder(
    zoo: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("bicubic-x2", "threshold-seg", "no-card"):
        (models / zoo[name].name).write_bytes(zoo[name].read_bytes())
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path))
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {m["name"]: m for m in data["models"]}
    assert by_name["bicubic-x2"]["card"]["scale"] == 2 and by_name["bicubic-x2"]["source"] == "user"
    assert (
        by_name["no-card"]["card"] is None and "no medsr_card.json" in by_name["no-card"]["error"]
    )
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "threshold-seg" in text and "segment" in text and "unusable" in text
    # A model in the user folder resolves by name.
    out = tmp_path / "o.nii"
    small = tmp_path / "small.nii"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 1), np.float32), np.eye(4)), str(small))
    assert main(["sr", str(small), str(out), "--model", "bicubic-x2", "--quiet"]) == 0


def test_sr_of_a_dicom_study_keeps_its_modality(
    data_dir: Path, zoo: dict[str, Path], tmp_path: Path
) -> None:
    """Issue #15, bug 8: ``medsr sr`` on a DICOM study wrote an output that reopened as OT."""
    import shutil

    series = data_dir / "dicom" / "vs_seg_001_t1"
    study = tmp_path / "study"
    study.mkdir()
    for name in ("1-060.dcm", "1-061.dcm", "1-062.dcm"):
        shutil.copy(series / name, study / name)
    source = load_volume(study)
    assert source.modality == "MR"
    out = tmp_path / "sr.nii.gz"
    assert main(["sr", str(study), str(out), "--model", str(zoo["bicubic-x2"]), "--quiet"]) == 0
    again = load_volume(out)
    assert again.modality == "MR"
    assert read_nifti_provenance(out)["modality"] == "MR"
    assert str(nib.load(str(out)).header["descrip"].astype(str)).startswith("MR; bicubic-x2")


def test_segment_output_reopens_with_the_card_label_names(
    data_dir: Path, zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #15, bug 8: a ``medsr segment`` output reopened with "label 1"; the card's names
    and colours now travel in an ITK-SNAP ``.label`` table the label-map reader picks up."""
    from medsr_viewer.core.labels import load_label_file

    src = data_dir / "isbi2012_em" / "images" / "20.png"
    out = tmp_path / "membrane.nii.gz"
    args = ["segment", str(src), str(out), "--model", str(zoo["threshold-seg"]), "--quiet"]
    assert main(args) == 0
    assert "membrane.label" in capsys.readouterr().out
    assert (tmp_path / "membrane.label").is_file()
    layer = load_label_file(out)  # what File ▸ Open Label Map reads
    assert layer.table.name(1) == "bright" and layer.table.entry(1).color == (255, 0, 0)
    assert layer.table.name(0) == "background"
    assert 1 in layer.present_values()
    # the table is part of the output: an existing one is not overwritten without --force
    out.unlink()
    assert main(args) == 2
    assert "membrane.label: already exists" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
