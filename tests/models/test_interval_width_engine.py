"""SliceEngine.iter_interval_width: the calibrated interval's width of one slice, cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_zoo import SmallConvSR, sr_card, trust_folder_for_tests

from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import save_torchscript
from medsr_viewer.models.registry import ModelRegistry, ModelRejected
from medsr_viewer.models.slice_engine import SliceEngine
from medsr_viewer.models.uncertainty import iter_sr_with_spread, sr_with_spread

CALIBRATION = {"level": 0.9, "alpha": 0.1, "spread": "tta-std", "factor": 1.5}


def _engine(tmp_path: Path) -> SliceEngine:
    return SliceEngine(ModelRegistry([("user", tmp_path / "none")]), device="cpu",
                       notifier=Notifier())


def _volume() -> Volume:
    rng = np.random.default_rng(5)
    voxels = rng.normal(100.0, 20.0, (3, 24, 20)).astype(np.float32)
    return Volume(voxels, np.eye(4))


def test_width_is_two_factor_tta_spread_yielded_per_run_and_cached(tmp_path: Path) -> None:
    trust_folder_for_tests(tmp_path)
    path = tmp_path / "conv-cal.pt"
    save_torchscript(SmallConvSR(2), sr_card("conv-cal", 2, calibration=CALIBRATION), path)
    engine = _engine(tmp_path)
    volume = _volume()
    ref = engine.resolve(str(path))
    gen = engine.iter_interval_width(ref, volume, 0, 1, 0.9, "super_resolution")
    runs = []
    while True:
        try:
            runs.append(next(gen))
        except StopIteration as stop:
            width = stop.value
            break
    assert runs == list(range(1, 9))
    proc = engine.processor(ref, "super_resolution", volume)

    def upscale(plane: np.ndarray) -> np.ndarray:
        return np.asarray(proc.intensity.from_model(
            proc.runner(proc.intensity.to_model(plane)[None].astype(np.float32))[0]),
            np.float64)

    spread = sr_with_spread(upscale, volume.voxels[1].astype(np.float64), 2).spread("tta-std")
    assert width.shape == (48, 40) and width.dtype == np.float32
    assert float(width.max()) > 0.01
    np.testing.assert_allclose(width, 2 * 1.5 * spread, rtol=1e-4, atol=1e-3)
    # Cached: the second request returns at once, without running the model.
    again = engine.iter_interval_width(ref, volume, 0, 1, 0.9, "super_resolution")
    with pytest.raises(StopIteration) as stop:
        next(again)
    np.testing.assert_array_equal(stop.value.value, width)
    # Another level is not calibrated.
    with pytest.raises(ModelRejected, match="no calibrated 80% interval"):
        next(engine.iter_interval_width(ref, volume, 0, 1, 0.8, "super_resolution"))


def test_closing_the_spread_generator_stops_the_model_runs() -> None:
    calls: list[int] = []

    def upscale(plane: np.ndarray) -> np.ndarray:
        calls.append(1)
        return np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)

    gen = iter_sr_with_spread(upscale, np.ones((6, 6)), 2)
    assert next(gen) == 1 and next(gen) == 2
    gen.close()
    assert len(calls) == 2
