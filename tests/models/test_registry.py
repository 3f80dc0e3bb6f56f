"""Registry: finding models by card, resolving NAME|PATH, refusing unusable models."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from model_zoo import BicubicUp, sr_card, trust_folder_for_tests

from medsr_viewer.models.archive import export_model, load_model, read_card
from medsr_viewer.models.card import CARD_FILENAME, CardError
from medsr_viewer.models.registry import (
    ModelNeedsTrust,
    ModelRegistry,
    ModelRejected,
    bundled_models_dir,
    user_models_dir,
)


def test_default_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(tmp_path))
    assert user_models_dir() == tmp_path / "models"
    assert bundled_models_dir().parts[-2:] == ("resources", "models")
    assert (bundled_models_dir().parent.parent / "medsr_viewer").is_dir()
    monkeypatch.delenv("MEDSR_CONFIG_DIR")
    assert user_models_dir().name == "models" and "medsr-viewer" in str(user_models_dir())


def test_lists_models_with_cards_and_reasons(zoo: dict[str, Path]) -> None:
    folder = zoo["bicubic-x2"].parent
    reg = ModelRegistry([("user", folder)])
    entries = {e.path.stem: e for e in reg.entries()}
    assert entries["bicubic-x2"].card is not None and entries["bicubic-x2"].card.scale == 2
    assert entries["bicubic-x2"].source == "user"
    assert entries["no-card"].card is None and "no medsr_card.json" in entries["no-card"].error
    assert "bicubic-x4" in reg.names() and "no-card" not in reg.names()
    assert entries["threshold-seg"].to_dict()["card"]["labels"][1]["name"] == "bright"


def test_resolve_by_name_stem_and_path(zoo: dict[str, Path], tmp_path: Path) -> None:
    reg = ModelRegistry([("bundled", tmp_path / "missing"), ("user", zoo["bicubic-x2"].parent)])
    assert reg.resolve("bicubic-x2") == zoo["bicubic-x2"]
    assert reg.resolve(str(zoo["conv-x2"])) == zoo["conv-x2"]
    with pytest.raises(ModelRejected, match="no model named 'nope'.*bicubic-x2"):
        reg.resolve("nope")
    with pytest.raises(ModelRejected, match="no such model file"):
        reg.resolve(str(tmp_path / "gone.pt"))


def test_bundled_folder_wins_over_user(zoo: dict[str, Path], tmp_path: Path) -> None:
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    shutil.copy(zoo["bicubic-x4"], bundled / "other-file.pt")
    # Same card name in both folders: the bundled file is chosen.
    user = tmp_path / "user"
    user.mkdir()
    shutil.copy(zoo["bicubic-x4"], user / "bicubic-x4.pt")
    reg = ModelRegistry([("bundled", bundled), ("user", user)])
    assert reg.resolve("bicubic-x4") == bundled / "other-file.pt"


def test_load_checks_and_dry_run(zoo: dict[str, Path]) -> None:
    reg = ModelRegistry([("user", zoo["bicubic-x2"].parent)])
    loaded = reg.load("bicubic-x2", task="super_resolution")
    assert loaded.card.name == "bicubic-x2"
    with pytest.raises(ModelRejected, match=r"no-card\.pt: model file has no medsr_card\.json"):
        reg.load("no-card")
    with pytest.raises(ModelRejected, match=r"wrong-task\.pt: .*'classify' model, not 'enhance'"):
        reg.load("wrong-task", task="enhance")
    with pytest.raises(ModelRejected, match=r"'super_resolution' model, not 'segment'"):
        reg.load("bicubic-x2", task="segment")
    with pytest.raises(
        ModelRejected,
        match=r"wrong-shape\.pt: output shape \(1, 1, 16, 16\) "
        r"does not match the card.*expected \(1, 1, 32, 32\)",
    ):
        reg.load("wrong-shape")
    with pytest.raises(ModelRejected, match=r"raises\.pt: dry run .* failed .*deliberate failure"):
        reg.load("raises")


def test_malformed_card_is_refused(zoo: dict[str, Path], tmp_path: Path) -> None:
    src = zoo["bicubic-x2"]
    bad = tmp_path / "bad-card.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith(CARD_FILENAME):
                data = b'{"name": "x", "task": "paint"}'
            zout.writestr(item, data)
    with pytest.raises(ModelRejected, match=r"bad-card\.pt: model card field task: 'paint' is not"):
        ModelRegistry([]).load(bad)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(CardError, match=r"garbage\.pt: not a model file"):
        read_card(garbage)


def test_torch_export_archive_with_card(tmp_path: Path) -> None:
    path = tmp_path / "exported.pt2"
    card = export_model(BicubicUp(2), sr_card("exported-x2"), path)
    assert read_card(path).sha256 == card.sha256 != ""
    with pytest.raises(ModelNeedsTrust, match=r"exported\.pt2: model file can run code"):
        ModelRegistry([("path", tmp_path)]).load(path)
    trust_folder_for_tests(tmp_path)
    loaded = ModelRegistry([("user", tmp_path)]).load("exported-x2", task="super_resolution")
    x = torch.rand(1, 1, 40, 24)
    expected = torch.nn.functional.interpolate(x, scale_factor=2.0, mode="bicubic")
    assert torch.allclose(loaded.module(x), expected, atol=1e-6)
    assert load_model(path).card.name == "exported-x2"
