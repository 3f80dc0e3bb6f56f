"""NIfTI/PNG writers: exact round trip through the loader, provenance, safety rules."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import (
    WriteError,
    read_nifti_provenance,
    save_nifti,
    save_png,
    save_volume,
)


def _volume(**kw: object) -> Volume:
    rng = np.random.default_rng(3)
    angle = np.deg2rad(15)
    direction = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    return Volume.from_spacing(
        rng.normal(50, 20, (4, 6, 5)).astype(np.float32),
        (2.5, 0.8, 0.7),
        (-10.0, 20.0, 30.0),
        direction,
        name="vol",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    vol = _volume(window=(40.0, 100.0))
    path = save_nifti(
        vol,
        tmp_path / f"out{suffix}",
        description="bicubic-x2 sha256:abcd",
        extra={"model": "bicubic-x2", "sha256": "ab" * 32},
    )
    back = load_volume(path)
    np.testing.assert_array_equal(back.voxels, vol.voxels)
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-5)
    # A world point maps to the same voxel in both.
    np.testing.assert_allclose(
        back.world_to_index((1.0, 2.0, 3.0)), vol.world_to_index((1.0, 2.0, 3.0)), atol=1e-4
    )
    assert back.window == pytest.approx((40.0, 100.0))
    header = nib.load(str(path)).header
    assert header["descrip"].item().decode() == "bicubic-x2 sha256:abcd"
    assert int(header["sform_code"]) == 1
    assert read_nifti_provenance(path) == {"model": "bicubic-x2", "sha256": "ab" * 32}
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]  # no temp files left


def test_descrip_is_cut_to_80_ascii_bytes(tmp_path: Path) -> None:
    path = save_nifti(_volume(), tmp_path / "o.nii", description="é" + "x" * 200)
    text = nib.load(str(path)).header["descrip"].item().decode()
    assert len(text) == 80 and text.startswith("?x")


def test_label_volume_gets_label_intent(tmp_path: Path) -> None:
    vol = Volume(np.arange(24, dtype=np.uint8).reshape(2, 3, 4) % 3, np.eye(4), modality="SEG")
    path = save_nifti(vol, tmp_path / "seg.nii.gz")
    img = nib.load(str(path))
    assert img.get_data_dtype() == np.uint8
    assert load_volume(path).modality == "SEG"


def test_refuses_input_and_existing_outputs(tmp_path: Path) -> None:
    src = tmp_path / "in.nii.gz"
    save_nifti(_volume(), src)
    before = src.read_bytes()
    loaded = load_volume(src)
    with pytest.raises(WriteError, match="refusing to overwrite the input"):
        save_nifti(loaded, src, force=True)
    with pytest.raises(WriteError, match="refusing to overwrite the input"):
        save_nifti(_volume(), tmp_path / "." / "in.nii.gz", force=True, input_path=src)
    assert src.read_bytes() == before
    out = tmp_path / "out.nii"
    save_nifti(_volume(), out)
    with pytest.raises(WriteError, match="already exists"):
        save_nifti(_volume(), out)
    save_nifti(_volume(), out, force=True)
    with pytest.raises(WriteError, match="does not exist"):
        save_nifti(_volume(), tmp_path / "nope" / "x.nii")
    with pytest.raises(WriteError, match="unsupported output type"):
        save_volume(_volume(), tmp_path / "x.mha")


def test_png_uint8_and_uint16(tmp_path: Path) -> None:
    img8 = Volume(np.array([[[0, 127.6, 255.2] + [100.0] * 200 + [-3.0]]], np.float32), np.eye(4))
    p8 = save_png(img8, tmp_path / "a.png", extra={"model": "m"})
    with Image.open(p8) as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im)[0, [0, 1, 2, -1]], [0, 128, 255, 0])
        assert "medsr_provenance" in im.text
    img16 = Volume(np.array([[[0, 1000, 70000]]], np.float32), np.eye(4))
    p16 = save_png(img16, tmp_path / "b.png")
    np.testing.assert_array_equal(load_volume(p16).voxels[0], [[0, 1000, 65535]])
    src = Volume(np.zeros((1, 2, 2), np.float32), np.eye(4), metadata={"source_mode": "I;16"})
    with Image.open(save_png(src, tmp_path / "c.png")) as im:
        assert im.mode.startswith("I")
    with pytest.raises(WriteError, match="one 2-D image"):
        save_png(_volume(), tmp_path / "d.png")
    with pytest.raises(WriteError, match="negative"):
        save_png(Volume(np.full((1, 2, 2), -100.0, np.float32), np.eye(4)), tmp_path / "e.png")


def test_provenance_with_non_finite_numbers_is_strict_json(tmp_path):
    # e.g. an adaptation that did not run has no loss: the header must stay valid JSON.
    volume = Volume.from_spacing(np.zeros((2, 3, 4), np.float32), (1.0, 1.0, 1.0))
    out = save_nifti(volume, tmp_path / "p.nii.gz", extra={"loss": float("nan"), "steps": 0,
                                                      "nested": {"x": float("inf")}})
    raw = nib.load(str(out)).header.extensions[0].get_content().decode()

    def refuse(name):
        raise ValueError(name)

    parsed = json.loads(raw, parse_constant=refuse)
    assert parsed == {"loss": None, "nested": {"x": None}, "steps": 0}
    assert read_nifti_provenance(out)["loss"] is None
