"""The execution layer: plans per device and card, fp32 identity, channels_last, bf16 gating,
the compile cache key and ``medsr eval sr --paths``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from model_zoo import trust_folder_for_tests

from medsr_viewer.core.volume import Volume
from medsr_viewer.models import compile_cache, cpu_features, execution
from medsr_viewer.models.archive import load_model, quiet_torchscript, read_card
from medsr_viewer.models.card import CardError, ModelCard
from medsr_viewer.models.compile_cache import cache_key, compile_cache_dir, compile_for
from medsr_viewer.models.cpu_features import CpuFeatures, parse_cache_size, parse_cpuinfo_flags
from medsr_viewer.models.execution import (
    ExecutionError,
    ExecutionPlan,
    PlannedModel,
    activation_width,
    choose_plan,
    cpu_tile,
    measurement_plan,
    on_cpu,
    parse_path,
)
from medsr_viewer.models.inference import TileRunner, run_tiled_inference
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.safe_format import save_safe_model
from medsr_viewer.models.slice_engine import SliceEngine

AVX2 = CpuFeatures("AVX2", frozenset({"avx2"}), 32 * 2**20)
ZEN5 = CpuFeatures("AVX512", frozenset({"avx2", "avx512f", "avx512_bf16"}), 32 * 2**20)
SAPPHIRE = CpuFeatures("AVX512", frozenset({"avx512f", "amx_tile", "amx_bf16"}), 105 * 2**20)
MIB = 2**20


@pytest.fixture(scope="module")
def sr_x2():
    """The bundled sr-x2, found and loaded through the registry as the application does."""
    return load_model(ModelRegistry().resolve("sr-x2"))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(execution.EXECUTION_ENV, raising=False)


def _card(**execution_block) -> ModelCard:
    return ModelCard(name="m", task="super_resolution", scale=2, execution=execution_block)


def _old_runner(module):
    """What ``TileRunner`` did before plans existed (fp32, NCHW, inside inference_mode)."""

    def run(patch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(patch, dtype=np.float32))[None]
            return module(x.to(device="cpu", dtype=torch.float32)).detach().float().cpu().numpy()[0]

    return run


def _image(h=150, w=170, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    return (0.5 + 0.3 * np.sin(x / 9) * np.cos(y / 13) + 0.1 * rng.random((h, w))).astype(
        np.float32)[None]


# -- detection -------------------------------------------------------------------------------
def test_cpuinfo_flags_and_cache_size_parse():
    text = "processor : 0\nflags : fpu avx2 avx512f avx512_bf16 amx_tile sse\n"
    assert parse_cpuinfo_flags(text) == {"avx2", "avx512f", "avx512_bf16", "amx_tile"}
    assert parse_cpuinfo_flags("no flags here") == frozenset()
    assert parse_cache_size("32768K\n") == 32 * MIB
    assert parse_cache_size("2M") == 2 * MIB
    assert parse_cache_size("junk") is None
    assert ZEN5.native_bf16 and SAPPHIRE.native_bf16 and not AVX2.native_bf16


def test_this_machine_is_detected():
    features = cpu_features.detect_cpu()
    assert features.capability == torch.backends.cpu.get_cpu_capability()
    assert features.native_bf16 == bool({"avx512_bf16", "amx_bf16"} & features.flags)
    assert "CPU capability" in features.describe()


# -- plan selection --------------------------------------------------------------------------
@pytest.mark.parametrize(("cpu", "validated", "expected"), [
    (AVX2, [], "fp32+channels_last"),
    (AVX2, ["bf16"], "fp32+channels_last"),        # validated, but emulated (slower) here
    (ZEN5, [], "fp32+channels_last"),              # native, but not validated
    (ZEN5, ["bf16"], "bf16+channels_last"),
    (SAPPHIRE, ["bf16", "fp16"], "bf16+channels_last"),
])
def test_cpu_plan_for_fake_capabilities(cpu, validated, expected):
    plan = choose_plan(_card(validated_precisions=validated), "cpu", cpu=cpu)
    assert plan.name == expected
    assert not plan.compiled and not plan.pin_memory and plan.reasons


def test_default_detection_is_used_and_can_be_faked(monkeypatch):
    monkeypatch.setattr(execution, "detect_cpu", lambda: ZEN5)
    assert choose_plan(_card(validated_precisions=["bf16"]), "cpu").precision == "bf16"
    monkeypatch.setattr(execution, "detect_cpu", lambda: AVX2)
    assert choose_plan(_card(validated_precisions=["bf16"]), "cpu").precision == "fp32"


@pytest.mark.parametrize(("bf16_gpu", "validated", "fp16_flag", "expected"), [
    (True, [], False, "fp32"),
    (True, ["bf16"], False, "bf16+channels_last"),
    (True, [], True, "fp16+channels_last"),        # the legacy card flag means validated fp16
    (False, ["bf16"], False, "fp32"),
    (False, ["bf16", "fp16"], False, "fp16+channels_last"),
])
def test_cuda_plan_for_fake_gpus(monkeypatch, bf16_gpu, validated, fp16_flag, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
    card = replace(_card(validated_precisions=validated), fp16=fp16_flag)
    plan = choose_plan(card, "cuda")
    assert plan.name == expected
    assert plan.device == "cuda" and plan.pin_memory and plan.tile is None


def test_requests_and_environment_override(monkeypatch):
    card = _card()
    assert choose_plan(card, "cpu", cpu=ZEN5, request="fp32").name == "fp32"
    monkeypatch.setenv(execution.EXECUTION_ENV, "fp32")
    assert choose_plan(card, "cpu", cpu=ZEN5).name == "fp32"
    monkeypatch.setenv(execution.EXECUTION_ENV, "bf16+channels_last")
    plan = choose_plan(card, "cpu", cpu=ZEN5)
    assert plan.name == "fp32+channels_last"
    assert any("not validated" in r for r in plan.reasons)
    assert choose_plan(_card(validated_precisions=["fp16"]), "cpu",
                       request="fp16").precision == "fp32"  # fp16 is CUDA only
    with pytest.raises(ExecutionError):
        choose_plan(card, "cpu", request="int8")
    assert parse_path("bf16+channels_last+compiled") == ("bf16", True, True)
    with pytest.raises(ExecutionError):
        parse_path("fp32+fast")


def test_card_without_validated_precision_never_runs_bf16(monkeypatch, sr_x2, tmp_path):
    unvalidated = replace(sr_x2.card, execution={})
    folder = tmp_path / "models"
    folder.mkdir()
    save_safe_model(sr_x2.module, unvalidated, folder / "sr-x2.safetensors")
    trust_folder_for_tests(folder)
    monkeypatch.setattr(execution, "detect_cpu", lambda: SAPPHIRE)
    for request in ("auto", "bf16", "bf16+channels_last", "bf16+channels_last+compiled"):
        assert choose_plan(unvalidated, "cpu", sr_x2.module, request=request).precision == "fp32"
    calls = []
    real = torch.autocast
    monkeypatch.setattr(torch, "autocast", lambda *a, **k: calls.append(k) or real(*a, **k))
    engine = SliceEngine(ModelRegistry([("user", folder)]), device="cpu")
    ref = engine.resolve("sr-x2")
    volume = Volume.from_spacing(_image(40, 48)[0][None].repeat(2, axis=0) * 100, (3, 1, 1))
    engine.iter_slice(ref, volume, 0, 0, task="super_resolution").close()
    _loaded, runner = engine.model(ref, "super_resolution")
    assert runner.plan.precision == "fp32"
    list(engine.iter_slice(ref, volume, 0, 1, task="super_resolution"))
    assert calls == []


def test_bundled_sr_x2_runs_bf16_only_where_the_cpu_has_it(sr_x2):
    # its card validates bf16 (medsr eval sr --paths: -0.0055 dB at worst, README)
    assert sr_x2.card.validated_precisions == ("bf16",)
    checks = sr_x2.card.execution["checks"]["bf16+channels_last"]["psnr_delta_db"]
    assert min(checks.values()) > -execution.MAX_PSNR_LOSS_DB
    assert choose_plan(sr_x2.card, "cpu", sr_x2.module, cpu=SAPPHIRE).name == "bf16+channels_last"
    assert choose_plan(sr_x2.card, "cpu", sr_x2.module, cpu=AVX2).name == "fp32+channels_last"


def test_on_cpu_drops_gpu_only_choices():
    plan = on_cpu(ExecutionPlan("cuda", "fp16", True, pin_memory=True))
    assert (plan.device, plan.precision, plan.pin_memory, plan.channels_last) == (
        "cpu", "fp32", False, True)


# -- tiles -----------------------------------------------------------------------------------
def test_cpu_tile_fits_the_widest_activation_in_l3():
    assert cpu_tile(256, 16, 40, 32 * MIB) == 256            # 256^2 x 40 x 4 B = 10 MB fits
    assert cpu_tile(256, 16, 40, 8 * MIB) == 224             # a laptop's 8 MB L3: shrunk
    assert cpu_tile(512, 16, 40, 32 * MIB) == 448            # 512^2 x 160 B = 42 MB: shrunk
    assert cpu_tile(256, 16, 40, 32 * MIB, "bf16") == 512    # half the bytes: grown
    assert cpu_tile(256, 16, None, 32 * MIB) == 256          # unknown width: the card's
    assert cpu_tile(256, 16, 40, None) == 256
    assert cpu_tile(256, 60, 4096, 1 * MIB) == 128           # never below 2 x overlap + 2
    assert cpu_tile(256, 16, 4096, 1 * MIB) == 64


def test_activation_width_of_the_bundled_model(sr_x2):
    assert activation_width(sr_x2.module, 1) == 40
    with quiet_torchscript():
        scripted = torch.jit.script(torch.nn.Conv2d(1, 3, 3, padding=1))
    assert activation_width(scripted, 1) in (None, 3)
    plan = choose_plan(sr_x2.card, "cpu", sr_x2.module, cpu=AVX2)
    assert plan.tile == 256 == sr_x2.card.tile_size


# -- outputs ---------------------------------------------------------------------------------
def test_fp32_plan_is_bit_identical_to_the_old_path(sr_x2):
    image = _image()
    old = run_tiled_inference(_old_runner(sr_x2.module), image, 2, 1, 96, 16)
    plan = choose_plan(sr_x2.card, "cpu", sr_x2.module, request="fp32")
    assert plan.name == "fp32" and plan.tile == sr_x2.card.tile_size
    for runner in (TileRunner(sr_x2.module), TileRunner(sr_x2.module, plan=plan)):
        np.testing.assert_array_equal(run_tiled_inference(runner, image, 2, 1, 96, 16), old)
    bare = PlannedModel(sr_x2.module, plan)(torch.from_numpy(image)[None])
    with torch.inference_mode():
        np.testing.assert_array_equal(bare.numpy(), sr_x2.module(torch.from_numpy(image)[None]))


def test_engine_with_fp32_environment_is_bit_identical(monkeypatch, sr_x2):
    monkeypatch.setenv(execution.EXECUTION_ENV, "fp32")
    engine = SliceEngine(ModelRegistry(), device="cpu")
    ref = engine.resolve("sr-x2")
    voxels = np.concatenate([_image(70, 90, s) for s in range(2)]) * 300.0
    volume = Volume.from_spacing(voxels, (3, 1, 1))
    result = list_result(engine.iter_slice(ref, volume, 0, 1, task="super_resolution"))
    proc = engine.processor(ref, "super_resolution", volume)
    assert proc.runner.plan.name == "fp32" and proc.provenance(0)["execution"] == "fp32"
    raw = run_tiled_inference(_old_runner(sr_x2.module), proc.intensity.to_model(voxels[1])[None],
                              2, 1, proc.tile, sr_x2.card.tile_overlap)
    np.testing.assert_array_equal(result, proc.intensity.from_model(raw[0]))


def list_result(gen):
    """Run a generator to its end; its return value."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def test_channels_last_stays_within_1e_5(sr_x2):
    image = _image()
    old = run_tiled_inference(_old_runner(sr_x2.module), image, 2, 1, 96, 16)
    plan = choose_plan(sr_x2.card, "cpu", sr_x2.module, cpu=AVX2)
    assert plan.name == "fp32+channels_last"
    runner = TileRunner(sr_x2.module, plan=plan)
    out = run_tiled_inference(runner, image, 2, 1, 96, 16)
    assert out.flags.c_contiguous and np.abs(out - old).max() <= 1e-5
    # the shared module stays NCHW: the plan converted a copy
    assert next(sr_x2.module.parameters()).is_contiguous()


def test_bf16_path_runs_and_stays_close(sr_x2):
    plan = measurement_plan("bf16+channels_last", sr_x2.card, "cpu")
    image = _image(48, 40)
    x = torch.from_numpy(image)[None]
    out = PlannedModel(sr_x2.module, plan)(x)
    assert out.dtype == torch.float32
    with torch.inference_mode():
        assert (out - sr_x2.module(x)).abs().max() < 2e-2


# -- card schema -----------------------------------------------------------------------------
def test_card_execution_block_is_optional_and_checked(sr_x2):
    assert ModelCard(name="m", task="super_resolution").execution == {}
    assert sr_x2.card.validated_precisions == ("bf16",)
    card = ModelCard.from_json(_card(validated_precisions=["bf16"], checks={}).to_json())
    assert card.validated_precisions == ("bf16",)
    bad = json.loads(_card().to_json())
    bad["execution"] = {"validated_precisions": ["int8"]}
    with pytest.raises(CardError, match="execution"):
        ModelCard.from_dict(bad)


# -- compile cache ---------------------------------------------------------------------------
def test_compile_cache_key_and_folder(monkeypatch, tmp_path):
    sha = "ab" * 32
    key = cache_key(sha, "bf16+channels_last+compiled", "cpu", "2.13.0+cpu", "AVX512")
    assert key.startswith(sha[:32]) and "torch2.13.0+cpu" in key and "AVX512" in key
    assert "/" not in key and key == cache_key(sha, "bf16+channels_last+compiled", "cpu",
                                               "2.13.0+cpu", "AVX512")
    assert key != cache_key("cd" * 32, "bf16+channels_last+compiled", "cpu", "2.13.0+cpu",
                            "AVX512")
    assert key != cache_key(sha, "bf16+channels_last+compiled", "cpu", "2.14.0", "AVX512")
    assert key != cache_key(sha, "fp32+channels_last+compiled", "cpu", "2.13.0+cpu", "AVX512")
    assert torch.__version__ in cache_key(sha, "fp32+compiled", "cpu")
    with pytest.raises(ValueError):
        cache_key("../../etc", "fp32", "cpu")
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(tmp_path))
    assert compile_cache_dir() == tmp_path / "compiled"
    plan = measurement_plan("fp32+compiled", _card(), "cpu", model_sha256=sha)
    assert plan.compiled and plan.compile_key == cache_key(sha, "fp32+compiled", "cpu")


def test_compiled_artefacts_are_saved_once_and_loaded_back(monkeypatch, tmp_path):
    loaded_back = []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: module)
    monkeypatch.setattr(torch.compiler, "save_cache_artifacts", lambda: (b"artefacts", None))
    monkeypatch.setattr(torch.compiler, "load_cache_artifacts", loaded_back.append)
    conv = torch.nn.Conv2d(1, 1, 1)
    first = compile_for(conv, "key", tmp_path)
    first(torch.zeros(1, 1, 4, 4))
    assert (tmp_path / "key.bin").read_bytes() == b"artefacts" and loaded_back == []
    compile_for(conv, "key", tmp_path)(torch.zeros(1, 1, 4, 4))
    assert loaded_back == [b"artefacts"]


# -- medsr eval sr --paths -------------------------------------------------------------------
def test_eval_lists_paths_and_writes_the_card(cli, capsys, data_dir, tmp_path, sr_x2,
                                              monkeypatch):
    data = str(data_dir / "mri_ct" / "chris_PD.nii.gz")
    out = tmp_path / "sr-x2-validated.safetensors"
    assert cli(["eval", "sr", "--model", "sr-x2", "--data", data, "--slice-step", "16",
                "--paths", "fp32+channels_last", "bf16+channels_last", "--json",
                "--write-card", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["paths"]) == ["fp32", "fp32+channels_last", "bf16+channels_last"]
    fp32, cl, bf16 = (report["paths"][p] for p in report["paths"])
    assert fp32["max_abs_diff"] == 0 and fp32["volumes"]["overall"]["delta_db"] == 0
    assert cl["max_abs_diff"] < 1e-5 and abs(cl["volumes"]["overall"]["delta_db"]) < 1e-3
    assert 0 < bf16["max_abs_diff"] < 2e-2
    passed = bf16["volumes"]["chris_PD"]["delta_db"] >= -execution.MAX_PSNR_LOSS_DB
    assert report["validated_now"] == (["bf16"] if passed else [])
    card = read_card(out)
    assert card.validated_precisions == (("bf16",) if passed else ())
    assert card.sha256 == sr_x2.card.sha256  # same weights, only the card changed
    assert "bf16+channels_last" in card.execution["checks"]
    if passed:
        monkeypatch.setattr(execution, "detect_cpu", lambda: ZEN5)
        assert choose_plan(card, "cpu").name == "bf16+channels_last"

    assert cli(["eval", "sr", "--model", "sr-x2", "--data", data, "--slice-step", "16",
                "--paths", "fp32+channels_last"]) == 0
    text = capsys.readouterr().out
    assert "fp32+channels_last" in text and "(change vs fp32)" in text and "plan:" in text


def test_eval_write_card_needs_paths(cli, capsys, data_dir, tmp_path):
    data = str(data_dir / "mri_ct" / "chris_PD.nii.gz")
    assert cli(["eval", "sr", "--model", "sr-x2", "--data", data, "--write-card",
                str(tmp_path / "x.safetensors")]) != 0
    assert "--write-card needs --paths" in capsys.readouterr().err
    assert cli(["eval", "sr", "--model", "sr-x2", "--data", data, "--paths", "int8"]) != 0
    assert "must start with one of fp32" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()
