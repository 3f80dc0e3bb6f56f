"""Benchmark: super-resolution latency of one 512 x 512 slice, and GUI stalls while it runs.

For x2 and x4 it times (median of N runs, after warm-up): bicubic interpolation, the eager
model, the scripted (TorchScript) model, the ``torch.export`` model, untiled and tiled runs
through the project's tiled engine, and the time until the first tile is ready. Ratios are
relative to bicubic. Models: ``resources/models/sr-x{2,4}.pt`` when bundled, else an ESPCN of
the project's architecture registry (random weights, same cost), else a small local ESPCN.
Runs on the CPU, and on CUDA too when available.

Then it runs the Qt inference worker on a volume of 512 x 512 slices while a 5 ms QTimer
measures the gaps of the GUI event loop; the longest gap is the worst stall a user would
feel (target <= 50 ms on 2 cores).

Not a test: numbers depend on the machine and its load.
Usage: ``python benchmarks/sr_latency.py [--repeat N] [--no-gui]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from medsr_viewer.models.archive import export_model, load_model, quiet_torchscript, save_model
from medsr_viewer.models.card import ModelCard
from medsr_viewer.models.device import configure_cpu_threads
from medsr_viewer.models.inference import TileRunner, iter_tiled_inference

BUNDLED = Path(__file__).resolve().parents[1] / "resources" / "models"
SIDE = 512


class LocalESPCN(nn.Module):
    """Fallback ESPCN (Shi et al. 2016) with a bicubic skip, used only if nothing else exists."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(32, scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        return base + self.body(x)


def eager_model(scale: int) -> tuple[nn.Module, str, ModelCard | None]:
    """The eager module to time, where it came from, and the bundled card if any."""
    bundled = BUNDLED / f"sr-x{scale}.pt"
    if bundled.is_file():
        loaded = load_model(bundled)
        card = loaded.card
        try:
            from medsr_viewer.models.architectures import build_architecture

            kwargs = dict(card.training.get("arch_kwargs", {}))
            kwargs.setdefault("scale", card.scale)  # the card's scale is not repeated in arch_kwargs
            module = build_architecture(card.architecture, **kwargs)
            module.load_state_dict(loaded.module.state_dict())
            return module.eval(), f"bundled {bundled.name} ({card.architecture})", card
        except Exception as exc:  # noqa: BLE001 - fall back to the scripted weights only
            print(f"  (cannot rebuild eager {bundled.name}: {exc}; timing its scripted form)")
            return loaded.module, f"bundled {bundled.name} (scripted)", card
    try:
        from medsr_viewer.models.architectures import build_architecture

        return build_architecture("espcn", scale=scale).eval(), "architectures.espcn", None
    except Exception:  # noqa: BLE001
        return LocalESPCN(scale).eval(), "local ESPCN", None


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_slice() -> np.ndarray:
    """A real 512 x 512 slice when the shared data is present, else a smooth random one."""
    data = Path(
        os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    png = data / "isbi2012_em" / "images" / "00.png"
    if png.is_file():
        from PIL import Image

        with Image.open(png) as im:
            return np.asarray(im.convert("L"), dtype=np.float32)[:SIDE, :SIDE] / 255.0
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:SIDE, :SIDE]
    return (0.5 + 0.3 * np.sin(x / 17) * np.cos(y / 23) + 0.05 * rng.random((SIDE, SIDE))).astype(
        np.float32
    )


def bench_device(device: torch.device, repeat: int, tmp: Path) -> None:
    """Print the latency table for one device."""
    image = test_slice()
    print(f"\n== {device.type.upper()}: one {SIDE}x{SIDE} input slice, median of {repeat} ==")
    print(f"{'scale':<6}{'variant':<36}{'seconds':>9}{'x bicubic':>11}")
    for scale in (2, 4):
        rows = bench_scale(device, scale, image, repeat, tmp)
        bicubic = rows[0][1]
        for name, seconds in rows:
            print(f"x{scale:<5}{name:<36}{seconds:>9.4f}{seconds / bicubic:>11.1f}")


def bench_scale(
    device: torch.device, scale: int, image: np.ndarray, repeat: int, tmp: Path
) -> list[tuple[str, float]]:
    """``(variant, median seconds)`` rows for one scale; the first row is bicubic."""
    x = torch.from_numpy(image)[None, None].to(device)
    eager, origin, card = eager_model(scale)
    tile = card.tile_size if card else 256
    overlap = card.tile_overlap if card else 16
    base_card = card or ModelCard(name=f"bench-x{scale}", task="super_resolution", scale=scale)
    exported: nn.Module | None = None
    if not isinstance(eager, torch.jit.ScriptModule):
        try:
            export_model(eager.cpu(), base_card, tmp / f"x{scale}.pt2")
            exported = load_model(tmp / f"x{scale}.pt2", device=device).module
        except Exception as exc:  # noqa: BLE001 - some architectures may not export
            print(f"  (torch.export failed: {exc.__class__.__name__})")
    eager = eager.to(device)
    with quiet_torchscript():
        scripted = eager if isinstance(eager, torch.jit.ScriptModule) else torch.jit.script(eager)
    if device.type == "cpu":
        save_model(scripted, base_card, tmp / f"x{scale}.pt")  # what the GUI test loads

    def run(module: nn.Module) -> Callable[[], object]:
        def call() -> object:
            with torch.inference_mode():
                out = module(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return out

        return call

    runner = TileRunner(scripted, device)
    chw = image[None]

    def engine(tile_side: int) -> Callable[[], object]:
        return lambda: list(iter_tiled_inference(runner, chw, scale, 1, tile_side, overlap))

    def first_tile() -> object:
        gen = iter_tiled_inference(runner, chw, scale, 1, tile, overlap)
        first = next(gen)
        gen.close()
        return first

    rows = [
        ("bicubic (F.interpolate)", timed(run(_Bicubic(scale).to(device)), repeat)),
        (f"eager [{origin}]"[:36], timed(run(eager), repeat)),
        ("scripted (TorchScript)", timed(run(scripted), repeat)),
    ]
    if exported is not None:
        rows.append(("exported (torch.export .pt2)", timed(run(exported), repeat)))
    rows.append((f"engine untiled ({SIDE}px)", timed(engine(SIDE), repeat)))
    rows.append((f"engine tiled ({tile}px, overlap {overlap})", timed(engine(tile), repeat)))
    rows.append((f"time to first tile ({tile}px)", timed(first_tile, repeat)))
    return rows


class _Bicubic(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)


def bench_gui_stall(tmp: Path, slices: int = 6) -> None:
    """Longest GUI event-loop gap while the worker computes ``slices`` x2 slices."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from medsr_viewer.core.volume import Volume
    from medsr_viewer.gui.workers.inference_worker import InferenceWorker
    from medsr_viewer.models.registry import ModelRegistry
    from medsr_viewer.models.slice_engine import SliceEngine

    app = QApplication.instance() or QApplication([])
    model = BUNDLED / "sr-x2.pt" if (BUNDLED / "sr-x2.pt").is_file() else tmp / "x2.pt"
    engine = SliceEngine(ModelRegistry([("bench", model.parent)]), device="auto")
    worker = InferenceWorker(engine=engine)
    volume = Volume.from_spacing(np.repeat(test_slice()[None] * 255, slices, axis=0), (3, 1, 1))
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    done: list[float] = []
    tiles: list[float] = []
    start = time.perf_counter()
    worker.tileReady.connect(lambda *a: tiles.append(time.perf_counter() - start))
    worker.sliceReady.connect(lambda *a: done.append(time.perf_counter() - start))

    def submit_next() -> None:
        if len(done) < slices:
            worker.submit("bench", volume, len(done), str(model), axis=0)

    worker.sliceReady.connect(lambda *a: submit_next())
    timer.start()
    submit_next()
    deadline = time.perf_counter() + 300
    while len(done) < slices and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    worker.stop()
    busy_gaps = gaps[1:] or [0.0]
    print(
        f"\n== GUI event loop while the worker runs ({model.name}, {slices} slices of "
        f"{SIDE}x{SIDE}, {torch.get_num_threads()} torch threads) =="
    )
    print(f"first tile after     {tiles[0] * 1000 if tiles else float('nan'):8.1f} ms")
    print(f"all slices after     {done[-1] if done else float('nan'):8.2f} s")
    print(f"5 ms timer ticks     {len(gaps):8d}")
    print(f"median gap           {statistics.median(busy_gaps):8.1f} ms")
    print(f"longest gap (stall)  {max(busy_gaps):8.1f} ms   (target <= 50 ms)")


def main() -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-gui", action="store_true", help="skip the event-loop stall test")
    args = parser.parse_args()
    threads = configure_cpu_threads()
    print(f"torch {torch.__version__}, {threads} CPU threads (physical cores)")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        bench_device(torch.device("cpu"), args.repeat, tmp)
        if torch.cuda.is_available():
            bench_device(torch.device("cuda"), args.repeat, tmp)
        if not args.no_gui:
            bench_gui_stall(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
