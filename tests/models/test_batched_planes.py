"""Whole slices batched into one model call (the GPU path of whole-volume runs), on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import load_model
from medsr_viewer.models.device import MAX_GPU_SLICE_BATCH, cuda_slice_batch
from medsr_viewer.models.locations import bundled_models_dir
from medsr_viewer.models.volume_processing import VolumeProcessor


def _volume() -> Volume:
    rng = np.random.default_rng(3)
    z, y, x = np.meshgrid(np.arange(5), np.arange(40), np.arange(48), indexing="ij")
    vox = 300 + 200 * np.sin(x / 5.0) * np.cos(y / 4.0) + 30 * z + rng.normal(0, 5, z.shape)
    return Volume(vox.astype(np.float32), np.diag([0.8, 0.8, 2.0, 1.0]), modality="MR")


def _run(proc: VolumeProcessor) -> tuple[dict[int, np.ndarray], list[int]]:
    planes: dict[int, np.ndarray] = {}
    order: list[int] = []

    def put(index: int, plane: np.ndarray) -> None:
        planes[index] = plane.copy()
        order.append(index)

    progress = list(_drain(proc.iter_planes(0, put)))
    assert [p.slice_index for p in progress] == sorted(p.slice_index for p in progress)
    return planes, order


def _drain(gen):  # type: ignore[no-untyped-def]
    while True:
        try:
            yield next(gen)
        except StopIteration:
            return


@pytest.fixture(scope="module")
def sr_x2():  # type: ignore[no-untyped-def]
    return load_model(bundled_models_dir() / "sr-x2.safetensors")


def test_batched_slices_equal_one_slice_per_call(sr_x2) -> None:  # type: ignore[no-untyped-def]
    volume = _volume()
    single = VolumeProcessor(sr_x2, volume, tile=64)
    assert single.slice_batch(0) == 1  # the CPU never batches unless asked
    reference, _ = _run(single)
    batched = VolumeProcessor(sr_x2, volume, tile=64, batch=3)
    planes, order = _run(batched)
    assert order == [0, 1, 2, 3, 4]  # handed on in slice order (groups of 3 and 2)
    for k in range(5):
        assert planes[k].shape == (80, 96)
        np.testing.assert_allclose(planes[k], reference[k], rtol=0, atol=1e-3)
    assert batched.provenance(0)["slice_batch"] == 3


def test_out_of_memory_on_a_batch_finishes_one_slice_per_call(
        sr_x2, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    volume = _volume()
    reference, _ = _run(VolumeProcessor(sr_x2, volume, tile=64))
    proc = VolumeProcessor(sr_x2, volume, tile=64, batch=2)
    real = proc.runner.run_batch
    calls: list[int] = []

    def run_batch(patches: np.ndarray) -> np.ndarray:
        calls.append(len(patches))
        if len(patches) > 1 and len(calls) > 1:  # the second batch does not fit
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(patches)

    monkeypatch.setattr(proc.runner, "run_batch", run_batch)
    planes, order = _run(proc)
    assert order == [0, 1, 2, 3, 4]
    assert calls[:2] == [2, 2] and set(calls[2:]) == {1}  # slices 2, 3, 4 one by one
    for k in range(5):
        np.testing.assert_allclose(planes[k], reference[k], rtol=0, atol=1e-3)


def test_a_non_finite_slice_in_a_batch_stops_the_run(
        sr_x2, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from medsr_viewer.models.inference import InferenceError

    proc = VolumeProcessor(sr_x2, _volume(), tile=64, batch=5)
    real = proc.runner.run_batch

    def poisoned(patches: np.ndarray) -> np.ndarray:
        out = real(patches)
        out[3, 0, 5, 5] = np.nan
        return out

    monkeypatch.setattr(proc.runner, "run_batch", poisoned)
    planes: list[int] = []
    with pytest.raises(InferenceError, match="NaN or infinite"):
        list(_drain(proc.iter_planes(0, lambda k, _p: planes.append(k))))
    assert planes == [0, 1, 2]  # nothing of the bad slice (or after it) is handed on


def test_batch_size_follows_free_memory() -> None:
    pixels = 512 * 512  # sr-x2: 1 output channel, scale 2
    per_slice = 4 * 256 * 4 * pixels  # 1 GiB of the estimate per slice
    assert cuda_slice_batch(2 * per_slice, pixels, 2, 1) == 1
    assert cuda_slice_batch(8 * per_slice, pixels, 2, 1) == 4
    assert cuda_slice_batch(1 << 50, pixels, 2, 1) == MAX_GPU_SLICE_BATCH
    assert cuda_slice_batch(0, pixels, 2, 1) == 1


def test_a_batch_below_one_is_refused(sr_x2) -> None:  # type: ignore[no-untyped-def]
    from medsr_viewer.models.inference import InferenceError

    with pytest.raises(InferenceError, match="at least 1"):
        VolumeProcessor(sr_x2, _volume(), batch=0)
