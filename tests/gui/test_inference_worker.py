"""The inference worker: progressive tiles, latest wins, cache, errors, prefetch, clean stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from medsr_viewer.core.notify import Notice, Notifier
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.archive import load_model
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.slice_engine import SliceEngine
from medsr_viewer.models.tiling import plan_tiles
from medsr_viewer.models.volume_processing import VolumeProcessor


@pytest.fixture()
def volume() -> Volume:
    rng = np.random.default_rng(0)
    return Volume.from_spacing(rng.random((6, 100, 120)).astype(np.float32) * 200, (3, 1, 1))


@pytest.fixture()
def notices() -> tuple[Notifier, list[Notice]]:
    hub = Notifier()
    seen: list[Notice] = []
    hub.subscribe(seen.append)
    return hub, seen


@pytest.fixture()
def worker(
    qtbot: QtBot, zoo: dict[str, Path], notices: tuple[Notifier, list[Notice]]
) -> Iterator[InferenceWorker]:
    hub, _seen = notices
    engine = SliceEngine(
        ModelRegistry([("user", zoo["bicubic-x2"].parent)]), device="cpu", notifier=hub
    )
    w = InferenceWorker(engine=engine, notifier=hub)
    yield w
    assert w.stop()
    assert not w.isRunning()


def _record(worker: InferenceWorker) -> dict[str, list[tuple]]:
    log: dict[str, list[tuple]] = {"tiles": [], "slices": [], "failed": [], "prefetched": []}
    worker.tileReady.connect(lambda *a: log["tiles"].append(a))
    worker.sliceReady.connect(lambda *a: log["slices"].append(a))
    worker.failed.connect(lambda *a: log["failed"].append(a))
    worker.prefetched.connect(lambda *a: log["prefetched"].append(a))
    return log


def _barrier(qtbot: QtBot, worker: InferenceWorker, volume: Volume) -> None:
    """Compute a slice for a pane of its own and wait for it: the worker runs requests in
    the order they were submitted, so every report of an earlier one has arrived. (A sagittal
    slice, so no cache entry of the tests' axial slices is made; forgotten afterwards, so no
    prefetch starts from it.)"""
    with qtbot.waitSignal(
        worker.sliceReady, timeout=10000, check_params_cb=lambda pane, *_a: pane == "barrier"
    ):
        worker.submit("barrier", volume, 5, "bicubic-x2", axis=2, tile=48)
    worker.cancel("barrier")


def test_tiles_arrive_progressively_then_the_slice(
    qtbot: QtBot, worker: InferenceWorker, volume: Volume, zoo: dict[str, Path]
) -> None:
    log = _record(worker)
    with qtbot.waitSignal(worker.sliceReady, timeout=10000):
        rid = worker.submit("sr", volume, 2, "bicubic-x2", axis=0, tile=48)
    n_tiles = len(plan_tiles(100, 120, 48, 16))
    assert [t[1] for t in log["tiles"]] == [rid] * n_tiles
    boxes = [t[2] for t in log["tiles"]]
    assert boxes[0] == plan_tiles(100, 120, 48, 16)[0].box.scaled(2).as_tuple()
    assert boxes[-1][2:] == (200, 240)
    pane, got_id, array, from_cache = log["slices"][0]
    assert (pane, got_id, from_cache) == ("sr", rid, False)
    assert isinstance(boxes[0], tuple) and isinstance(log["tiles"][0][3], np.ndarray)
    expected = VolumeProcessor(load_model(zoo["bicubic-x2"]), volume).run_slice(2, 0)
    np.testing.assert_allclose(array, expected, atol=1e-3)
    # Each tile's pixels are what the final slice shows there (up to blending of overlaps).
    y0, x0, _y1, _x1 = boxes[0]
    np.testing.assert_allclose(
        log["tiles"][0][3][:50, :50], array[y0 : y0 + 50, x0 : x0 + 50], atol=1e-3
    )


def test_latest_request_wins(qtbot: QtBot, worker: InferenceWorker, volume: Volume) -> None:
    log = _record(worker)
    ids = [worker.submit("sr", volume, k, "bicubic-x2", axis=0, tile=48) for k in range(6)]
    _barrier(qtbot, worker, volume)  # requests run in order: every earlier report is in
    assert [s[1] for s in log["slices"] if s[0] == "sr"] == [ids[-1]]
    assert {t[1] for t in log["tiles"] if t[0] == "sr"} <= {ids[0], ids[-1]}
    # Another pane is independent of the first.
    with qtbot.waitSignal(worker.sliceReady, timeout=10000) as blocker:
        other = worker.submit("other", volume, 0, "bicubic-x2", axis=1, tile=48)
    assert blocker.args[0] == "other" and blocker.args[1] == other
    assert blocker.args[2].shape == (12, 240)


def test_cache_hit_is_instant_and_not_recomputed(
    qtbot: QtBot, worker: InferenceWorker, volume: Volume
) -> None:
    with qtbot.waitSignal(worker.sliceReady, timeout=10000) as first:
        worker.submit("sr", volume, 1, "bicubic-x2", axis=0)
    log = _record(worker)
    with qtbot.waitSignal(worker.sliceReady, timeout=200) as again:
        rid = worker.submit("sr", volume, 1, "bicubic-x2", axis=0)
    assert again.args[1] == rid and again.args[3] is True
    assert again.args[2] is first.args[2]
    assert log["tiles"] == [] and worker.engine.cache.hits >= 1
    # A different volume object with the same pixels is a different cache entry.
    copy = Volume(volume.voxels.copy(), volume.affine)
    with qtbot.waitSignal(worker.sliceReady, timeout=10000) as other:
        worker.submit("sr", copy, 1, "bicubic-x2", axis=0)
    assert other.args[3] is False


def test_errors_reach_the_notifier_and_the_worker_keeps_going(
    qtbot: QtBot,
    worker: InferenceWorker,
    volume: Volume,
    zoo: dict[str, Path],
    notices: tuple[Notifier, list[Notice]],
) -> None:
    _hub, seen = notices
    log = _record(worker)
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit("sr", volume, 0, str(zoo["raises"]), axis=0)
    assert "raises.pt" in blocker.args[2] and "deliberate failure" in blocker.args[2]
    assert seen and seen[-1].level == "error" and "raises.pt" in seen[-1].message
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit("seg", volume, 0, "bicubic-x2", axis=0, task="segment")
    assert "not 'segment'" in blocker.args[2]
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit("sr", volume, 0, "no-such-model", axis=0)
    assert "no model named" in blocker.args[2]
    with qtbot.waitSignal(worker.sliceReady, timeout=10000):
        worker.submit("sr", volume, 0, "bicubic-x2", axis=0)
    assert worker.isRunning() and len(log["failed"]) == 3


def test_cancel_and_prefetch(qtbot: QtBot, worker: InferenceWorker, volume: Volume) -> None:
    log = _record(worker)
    worker.submit("sr", volume, 0, "bicubic-x2", axis=0, tile=48)
    worker.cancel("sr")
    _barrier(qtbot, worker, volume)
    assert [s for s in log["slices"] if s[0] == "sr"] == []
    qtbot.waitUntil(lambda: not worker.busy, timeout=5000)
    worker.prefetch_enabled = True
    with qtbot.waitSignal(worker.sliceReady, timeout=10000):
        worker.submit("sr", volume, 3, "bicubic-x2", axis=0)
    qtbot.waitUntil(lambda: len(log["prefetched"]) >= 4, timeout=10000)
    assert {p[1] for p in log["prefetched"]} == {1, 2, 4, 5}
    with qtbot.waitSignal(worker.sliceReady, timeout=200) as blocker:
        worker.submit("sr", volume, 4, "bicubic-x2", axis=0)
    assert blocker.args[3] is True
