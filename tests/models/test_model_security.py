"""No model file runs code unless trusted; bad cards fail alone; identity comes from content;
bad outputs and slow models stop a run with a clear error (issue: safe models and sessions)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from malicious import SLOW_MODEL, overwriting_torchscript, pickled_pt2, plain_torchscript
from model_zoo import BicubicUp, NanAbove16, sr_card, trust_folder_for_tests
from torch import nn

from medsr_viewer.cli.main import main as cli
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import (
    UntrustedModel,
    load_model,
    read_card,
    runs_code,
    save_model,
    save_torchscript,
)
from medsr_viewer.models.card import CARD_FILENAME, CardError, ModelCard, Normalisation
from medsr_viewer.models.inference import (
    InferenceCancelled,
    InferenceError,
    InferenceTimeout,
    TileRunner,
    iter_tiled_inference,
)
from medsr_viewer.models.registry import ModelNeedsTrust, ModelRegistry, bundled_models_dir
from medsr_viewer.models.safe_format import MAX_HEADER_BYTES
from medsr_viewer.models.slice_engine import SliceEngine
from medsr_viewer.models.trust import TrustStore

REPO = Path(__file__).resolve().parents[2]
#: Every test here gets an empty trust store and models folder of its own.
pytestmark = pytest.mark.usefixtures("private_config")


def _attack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir(exist_ok=True)
    return folder


# ------------------------------------------------------------------ code-bearing files


def test_pickled_pt2_runs_nothing_unless_trusted(tmp_path: Path) -> None:
    marker = tmp_path / "pwned-pt2"
    evil = pickled_pt2(_attack_dir(tmp_path) / "x.pt2", marker)
    # Listing and reading the card run nothing.
    assert read_card(evil).name == "innocent-x2" and runs_code(evil)
    with pytest.raises(ModelNeedsTrust, match=r"x\.pt2: model file can run code"):
        ModelRegistry([]).load(evil, task="super_resolution")
    # The same bytes under another name are refused too.
    renamed = evil.with_name("x.pt")
    shutil.copy(evil, renamed)
    with pytest.raises(UntrustedModel):
        load_model(renamed)
    assert not marker.exists()
    # Once the user trusts it, it is loaded – and the payload runs: the file is truly harmful.
    TrustStore().trust_file(evil)
    with pytest.raises(CardError):
        load_model(evil)
    assert marker.exists()


def test_torchscript_dry_run_cannot_overwrite_files_unless_trusted(tmp_path: Path) -> None:
    victim = tmp_path / "report.txt"
    victim.write_text("xxxx")
    evil = overwriting_torchscript(_attack_dir(tmp_path) / "helpful.pt", victim)
    registry = ModelRegistry([])
    with pytest.raises(ModelNeedsTrust) as refused:
        registry.load(evil, task="super_resolution")
    assert len(refused.value.sha256) == 64 and refused.value.path == evil
    assert victim.read_text() == "xxxx"
    # `medsr trust FILE` records the hash; then the dry run executes the file's code.
    assert cli(["trust", str(evil)]) == 0
    registry.load(evil, task="super_resolution")
    assert victim.read_text() == "ABCD"


def test_trust_is_per_content_and_revocable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = plain_torchscript(_attack_dir(tmp_path) / "plain.pt")
    assert cli(["trust", str(model)]) == 0
    digest = capsys.readouterr().out.split("sha256 ")[1].split()[0]
    assert load_model(model).card.name == "plain-x2"
    assert cli(["trust", "--list"]) == 0 and digest in capsys.readouterr().out
    # Changing the file (same name) needs a new decision.
    save_torchscript(nn.Sequential(BicubicUp(2)), sr_card("plain-x2", 2), model)
    with pytest.raises(UntrustedModel):
        load_model(model)
    assert cli(["trust", "--revoke", digest]) == 0
    assert cli(["trust", "--revoke", digest]) == 2
    # A trusted folder trusts what is in it.
    assert cli(["trust", "--folder", str(model.parent)]) == 0
    assert load_model(model).card.name == "plain-x2"
    # Safe files need no trust.
    capsys.readouterr()
    assert cli(["trust", str(bundled_models_dir() / "sr-x2.safetensors")]) == 0
    assert "cannot run code" in capsys.readouterr().out


def test_user_models_folder_is_trusted(tmp_path: Path, private_config: Path) -> None:
    folder = private_config / "models"
    folder.mkdir()
    plain_torchscript(folder / "mine.pt")
    assert ModelRegistry().load("plain-x2", task="super_resolution").card.name == "plain-x2"


# ------------------------------------------------------------------ the safe format


def _tiny_safe(path: Path) -> ModelCard:
    torch.manual_seed(0)
    module = build_architecture("espcn", scale=2, channels=4)
    card = ModelCard(name="tiny", task="super_resolution", scale=2,
                     normalisation=Normalisation("percentile", 0.0, 99.9))
    return save_model(module, card, path)


def test_safe_format_round_trip_and_tampering(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    card = _tiny_safe(path)
    assert not runs_code(path) and card.arch_kwargs == {"scale": 2, "channels": 4}
    loaded = load_model(path)
    assert loaded.card == card and len(loaded.sha256) == 64
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    # A card claiming other weights is refused.
    meta = json.loads(header["__metadata__"]["medsr_card"])
    meta["sha256"] = "0" * 64
    header["__metadata__"]["medsr_card"] = json.dumps(meta)
    forged = json.dumps(header).encode()
    (tmp_path / "forged.safetensors").write_bytes(
        struct.pack("<Q", len(forged)) + forged + data[8 + length :]
    )
    with pytest.raises(CardError, match="weights do not match the card"):
        load_model(tmp_path / "forged.safetensors")
    # Changed weight bytes are refused.
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(CardError, match="weights do not match the card"):
        load_model(tmp_path / "flipped.safetensors")
    # A header claiming gigabytes is refused before anything is read.
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{" + b" " * 64)
    with pytest.raises(CardError, match="truncated|exceeds"):
        read_card(tmp_path / "huge.safetensors")
    big = struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{" + b" " * 16
    (tmp_path / "big.safetensors").write_bytes(big)
    with pytest.raises(CardError):
        read_card(tmp_path / "big.safetensors")


def test_safe_format_refuses_a_network_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    _tiny_safe(path)
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    for change, message in (
        ({"channels": 4000}, "has shape"),  # a huge network would be built: refused first
        ({"channels": 10**9}, "out of range"),
        ({"colour": 3}, "takes no argument"),
    ):
        meta = json.loads(header["__metadata__"]["medsr_card"])
        meta["arch_kwargs"] = {**meta["arch_kwargs"], **change}
        new = dict(header, __metadata__={"medsr_card": json.dumps(meta)})
        text = json.dumps(new).encode()
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :])
        with pytest.raises(CardError, match=message):
            load_model(bad)


def test_bundled_models_are_safe_and_match_their_cards() -> None:
    files = sorted(bundled_models_dir().iterdir())
    models = [p for p in files if p.suffix in (".safetensors", ".pt", ".pt2", ".ts")]
    assert models and all(p.suffix == ".safetensors" and not runs_code(p) for p in models)
    for path in models:
        loaded = load_model(path, trust=TrustStore(Path("/nonexistent/store.json")))
        assert loaded.card.sha256 and loaded.card.architecture


# ------------------------------------------------------------------ bad cards


def _with_card(src: Path, dst: Path, card_text: str | bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith(CARD_FILENAME):
                data = card_text.encode() if isinstance(card_text, str) else card_text
                zout.writestr(item.filename, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            zout.writestr(item, data)
    return dst


def test_each_bad_card_fails_alone(
    zoo: dict[str, Path], private_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = private_config / "models"
    folder.mkdir()
    good = json.loads(read_card(zoo["bicubic-x2"]).to_json())
    _with_card(zoo["bicubic-x2"], folder / "oops.pt", json.dumps({**good, "training": "oops"}))
    _with_card(zoo["bicubic-x2"], folder / "noname.pt", json.dumps({**good, "name": None}))
    _with_card(zoo["bicubic-x2"], folder / "lowa.pt",
               json.dumps({**good, "name": "low-a", "normalisation": {"low": "a"}}))
    huge = b"{" + b" " * (64 * 1024 * 1024) + b'"name": "x", "task": "enhance"}'
    _with_card(zoo["bicubic-x2"], folder / "huge.pt", huge)
    shutil.copy(zoo["bicubic-x2"], folder / "fine.pt")
    entries = {e.path.name: e for e in ModelRegistry([("user", folder)]).entries()}
    assert entries["fine.pt"].usable
    assert "field training: 'oops' is not of type 'object'" in entries["oops.pt"].error
    assert "field name: None is not of type 'string'" in entries["noname.pt"].error
    assert "field normalisation.low: 'a' is not of type 'number'" in entries["lowa.pt"].error
    assert "more than the 1048576 allowed" in entries["huge.pt"].error
    assert all(name in entries[name].error for name in ("oops.pt", "noname.pt", "huge.pt"))
    # The listing still works and is valid JSON; running a bad one is one clear line.
    assert cli(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in listed["models"]} >= {"bicubic-x2", "oops", "noname"}


def test_bad_card_in_medsr_sr_is_one_line(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.loads(read_card(zoo["bicubic-x2"]).to_json())
    bad = _with_card(zoo["bicubic-x2"], tmp_path / "lowa.pt",
                     json.dumps({**good, "normalisation": {"low": "a"}}))
    image = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 2), np.float32), np.eye(4)), str(image))
    assert cli(["sr", str(image), str(tmp_path / "out.nii.gz"), "--model", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lowa.pt" in err[0] and "normalisation.low" in err[0]


# ------------------------------------------------------------------ identity and outputs


def _volume(n: int = 40) -> Volume:
    ramp = np.linspace(0, 1000, n * n, dtype=np.float32).reshape(1, n, n)
    return Volume(voxels=ramp, affine=np.eye(4))


def test_results_are_keyed_by_content_not_by_card_claims(
    zoo: dict[str, Path], tmp_path: Path
) -> None:
    trust_folder_for_tests(tmp_path)
    bicubic = zoo["bicubic-x2"]
    claim = read_card(bicubic).sha256
    nan = tmp_path / "nan.pt"
    written = save_torchscript(NanAbove16(), sr_card("nan-x2", 2, tile_size=32, tile_overlap=4),
                               nan)
    # Forge the card: claim bicubic's weights hash (the tiny model has no weights either).
    good = json.loads(written.to_json())
    forged = _with_card(nan, tmp_path / "forged.pt", json.dumps({**good, "sha256": claim}))
    engine = SliceEngine(device="cpu")
    ref_nan, ref_bicubic = engine.resolve(forged), engine.resolve(bicubic)
    assert ref_nan.card.sha256 == ref_bicubic.card.sha256 and ref_nan.key != ref_bicubic.key
    volume = _volume()
    with pytest.raises(InferenceError, match="NaN or infinite"):
        for _ in engine.iter_slice(ref_nan, volume, 0, 0, "super_resolution"):
            pass
    gen = engine.iter_slice(ref_bicubic, volume, 0, 0, "super_resolution")
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value
            break
    assert np.isfinite(result).all() and result.shape == (80, 80)


def test_medsr_sr_stops_on_nan_tiles_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust_folder_for_tests(tmp_path)
    model = tmp_path / "nan.pt"
    save_torchscript(NanAbove16(), sr_card("nan-x2", 2, tile_size=32, tile_overlap=4), model)
    image = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(40 * 40 * 2, dtype=np.float32).reshape(40, 40, 2),
                             np.eye(4)), str(image))
    out = tmp_path / "out.nii.gz"
    assert cli(["sr", str(image), str(out), "--model", str(model), "--axis", "0"]) == 2
    assert "NaN or infinite" in capsys.readouterr().err
    assert not out.exists()


class Sleeps(nn.Module):
    """Bicubic x2 after sleeping (eager only: for the runner's time limit)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)


def test_tile_time_limit_and_interrupt() -> None:
    image = np.zeros((1, 24, 24), np.float32)
    runner = TileRunner(Sleeps(30.0), timeout_s=0.3, name="slow")
    start = time.monotonic()
    with pytest.raises(InferenceTimeout, match="took longer than 0.3 s"):
        list(iter_tiled_inference(runner, image, 2, 1, 32, 4))
    assert time.monotonic() - start < 5
    runner = TileRunner(Sleeps(30.0), timeout_s=60, name="slow")
    import threading

    threading.Timer(0.2, runner.interrupt).start()
    start = time.monotonic()
    with pytest.raises(InferenceCancelled):
        list(iter_tiled_inference(runner, image, 2, 1, 32, 4))
    assert time.monotonic() - start < 5
    fast = TileRunner(Sleeps(0.0), timeout_s=5)
    assert fast(image).shape == (1, 48, 48)


def test_medsr_sr_time_limit_on_a_slow_model(tmp_path: Path) -> None:
    """A model much slower than its limit: `medsr sr` says so and exits 2 within seconds."""
    model = tmp_path / "models" / "slow.pt"
    model.parent.mkdir()
    env = {**os.environ, "MEDSR_CONFIG_DIR": str(tmp_path / "config")}
    script = tmp_path / "make_slow.py"  # TorchScript needs the class's source in a file
    script.write_text(SLOW_MODEL.format(zoo=str(REPO / "tests" / "models")))
    subprocess.run([sys.executable, str(script), str(model)], check=True, env=env)
    image = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((40, 40, 1), np.float32), np.eye(4)), str(image))
    env["MEDSR_TRUSTED_MODEL_DIRS"] = str(model.parent)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "medsr_viewer.cli", "sr", str(image),
         str(tmp_path / "out.nii.gz"), "--model", str(model), "--tile-timeout", "1",
         "--device", "cpu"],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert "took longer than 1 s" in done.stderr and "slow" in done.stderr
    assert "0%" in done.stderr  # the progress bar showed before the first tile
    assert elapsed < 60 and not (tmp_path / "out.nii.gz").exists()


def test_card_replace_keeps_validation() -> None:
    card = sr_card("x", 2)
    with pytest.raises(CardError, match="percentile normalisation"):
        replace(card, normalisation=Normalisation("percentile", 50.0, 10.0))
    with pytest.raises(CardError, match="tile_timeout_s"):
        replace(card, tile_timeout_s=0.0)
