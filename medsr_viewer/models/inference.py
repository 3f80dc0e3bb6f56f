"""Tiled 2-D inference as a plain generator: one update per finished tile.

Following superqt's ``GeneratorWorker`` idea, :func:`iter_tiled_inference` yields after every
tile (its output box, the blended pixels there, and progress). A caller that wants to cancel
simply stops iterating (or calls ``.close()``); a caller that wants progress counts the
updates. The Qt worker, the CLI and the tests all drive the same generator.

Out-of-memory errors are handled per tile: the tile is re-split into smaller tiles (blended
the same way, so the result does not change); when even the smallest tile fails on CUDA the
model moves to the CPU and a warning is posted through :mod:`medsr_viewer.core.notify`.

Every model call is bounded (:func:`call_bounded`): it runs in a short-lived daemon thread
while the caller waits at most the card's per-tile time limit, and can be interrupted (the
viewer closing), so a slow or hung model never blocks the caller's thread. Every tile's
output is checked: a wrong shape or any NaN/infinite value stops the run with an
:class:`InferenceError` rather than showing or writing a wrong image.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.notify import notifier as default_notifier
from medsr_viewer.core.process_exit import abandon
from medsr_viewer.models.card import DEFAULT_TILE_TIMEOUT_S
from medsr_viewer.models.execution import ExecutionPlan, on_cpu, prepare_module
from medsr_viewer.models.execution import run as run_planned
from medsr_viewer.models.tiling import Box, TileBlender, plan_tiles

T = TypeVar("T")
#: How often a waiting caller checks for an interrupt, in seconds.
_POLL_S = 0.05


class InferenceError(RuntimeError):
    """A model could not be run on an image (wrong output shape, out of memory on CPU ...)."""


class InferenceTimeout(InferenceError):
    """A model call took longer than its time limit; the run was stopped."""


class InferenceCancelled(InferenceError):
    """A model call was interrupted (the application is closing)."""


def call_bounded(
    fn: Callable[[], T],
    timeout_s: float,
    interrupted: threading.Event | None = None,
    what: str = "model call",
) -> T:
    """``fn()`` in a daemon thread, waiting at most ``timeout_s`` seconds for it.

    The caller returns as soon as ``fn`` finishes, raises, ``interrupted`` is set, or the
    time is up. A call that is abandoned keeps running in its daemon thread (Python cannot
    stop a thread inside a torch kernel) but nobody waits for it; it is recorded with
    :func:`medsr_viewer.core.process_exit.abandon` so the process ends without running the
    native finalisers under it.

    Raises
    ------
    InferenceTimeout
        After ``timeout_s`` seconds.
    InferenceCancelled
        When ``interrupted`` was set.
    BaseException
        Whatever ``fn`` raised.
    """
    box: dict[str, object] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    if interrupted is not None and interrupted.is_set():
        raise InferenceCancelled(f"{what} interrupted")
    thread = threading.Thread(target=target, name="medsr-model-call", daemon=True)
    deadline = time.monotonic() + timeout_s
    thread.start()
    while not done.wait(max(0.0, min(_POLL_S, deadline - time.monotonic()))):
        if interrupted is not None and interrupted.is_set():
            abandon(thread)
            raise InferenceCancelled(f"{what} interrupted")
        if time.monotonic() >= deadline:
            abandon(thread)
            raise InferenceTimeout(
                f"{what} took longer than {timeout_s:g} s and was stopped (the per-tile time "
                "limit: tile_timeout_s in the card, --tile-timeout on the command line)"
            )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def describe_exception(exc: BaseException) -> str:
    """One line for a model failure: TorchScript errors carry a long serialized traceback,
    of which only the last line (``builtins.RuntimeError: message``) says what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[-1] if lines else ""
    message = message.removeprefix("builtins.")
    return f"{exc.__class__.__name__}: {message}" if message else exc.__class__.__name__


class TileRunner:
    """Runs one model on one ``(C, h, w)`` float32 patch on a device, inside ``inference_mode``.

    Owns the device decision for the model: its execution plan (precision, memory format,
    copies), and the move to the CPU when CUDA runs out of memory (:meth:`fall_back_to_cpu`).

    Parameters
    ----------
    module
        A loaded model taking ``(1, C, h, w)`` and returning ``(1, C_out, h*s, w*s)``.
    device
        Where ``module`` already lives (see :func:`medsr_viewer.models.device.select_device`).
    fp16
        Run in half precision (only honoured on CUDA).
    name
        Model name used in notices.
    notifier
        Where the CPU-fallback warning goes.
    timeout_s
        Longest one call may take (:func:`call_bounded`); the card's ``tile_timeout_s``.
    interrupted
        An event shared with the owner: once set, the running call and every later one
        raise :class:`InferenceCancelled` (default: the runner's own, see :meth:`interrupt`).
    plan
        How the model runs (:mod:`medsr_viewer.models.execution`: precision, memory format,
        compilation, copies); default: fp32 NCHW (fp16 on CUDA when ``fp16``), the calls
        made before plans existed.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        device: torch.device | str = "cpu",
        fp16: bool = False,
        name: str = "model",
        notifier: Notifier | None = None,
        timeout_s: float = DEFAULT_TILE_TIMEOUT_S,
        interrupted: threading.Event | None = None,
        plan: ExecutionPlan | None = None,
    ) -> None:
        self._device = torch.device(device)
        self.name = name
        self.notifier = notifier if notifier is not None else default_notifier
        self.timeout_s = float(timeout_s)
        self.interrupted = interrupted if interrupted is not None else threading.Event()
        if plan is None:
            legacy_fp16 = bool(fp16) and self._device.type == "cuda"
            plan = ExecutionPlan(self._device.type, "fp16" if legacy_fp16 else "fp32")
        self.plan = plan
        self.fp16 = plan.precision == "fp16"
        self.module = prepare_module(module, plan)

    def interrupt(self) -> None:
        """Make the running call (and every later one) raise :class:`InferenceCancelled`."""
        self.interrupted.set()

    @property
    def device(self) -> torch.device:
        """The device the model currently runs on."""
        return self._device

    def __call__(self, patch: np.ndarray) -> np.ndarray:
        """Model output ``(C_out, H_out, W_out)`` float32 for ``patch`` ``(C, h, w)``.

        Raises
        ------
        InferenceTimeout, InferenceCancelled
            See :func:`call_bounded`.
        """
        return self.run_batch(patch[None])[0]

    def run_batch(self, patches: np.ndarray) -> np.ndarray:
        """Model outputs ``(N, C_out, H_out, W_out)`` float32 for ``patches`` ``(N, C, h, w)``
        in one call (whole slices batched on a GPU; the time limit grows with ``N``).

        Raises
        ------
        InferenceTimeout, InferenceCancelled
            See :func:`call_bounded`.
        """
        module, device, plan = self.module, self._device, self.plan
        count = int(patches.shape[0])

        def call() -> np.ndarray:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))
                y = run_planned(module, x, plan, device)
                if isinstance(y, (tuple, list)):
                    y = y[0]
                if not isinstance(y, torch.Tensor):
                    raise InferenceError(
                        f"{self.name}: model returned {type(y).__name__}, not a tensor"
                    )
                return y.detach().float().cpu().contiguous().numpy()  # type: ignore[no-any-return]

        shape = "x".join(str(n) for n in patches.shape[2:])
        what = f"a {shape} tile" if count == 1 else f"{count} {shape} tiles"
        return call_bounded(call, self.timeout_s * count, self.interrupted,
                            f"{self.name}: {what}")

    def fall_back_to_cpu(self, reason: str) -> None:
        """Move the model to the CPU (full precision unless the CPU runs bf16 natively) and
        post a visible warning."""
        self.module = self.module.float().to("cpu")
        self._device = torch.device("cpu")
        self.plan = on_cpu(self.plan)
        self.fp16 = False
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        self.notifier.warning(
            f"{self.name}: GPU out of memory ({reason}); continuing on the CPU, which is slower.",
            source="inference",
        )


@dataclass(frozen=True)
class TileUpdate:
    """Progress of a tiled run: one finished tile.

    Parameters
    ----------
    done
        Tiles finished so far (1 for the first update).
    total
        Tiles in the plan.
    box
        The tile's box on the *output* grid (input box scaled by the model's scale).
    array
        Current output pixels in ``box`` (``(C_out, h, w)``, after the caller's postprocess).
    """

    done: int
    total: int
    box: Box
    array: np.ndarray

    @property
    def fraction(self) -> float:
        """Share of the tiles finished, in ``(0, 1]``."""
        return self.done / self.total


def minimum_tile(overlap: int) -> int:
    """Smallest tile side re-splitting may go down to for a given overlap."""
    return max(16, 2 * overlap + 2)


class _SplitState:
    """Largest patch side known to fit, learnt from out-of-memory errors during one run."""

    def __init__(self) -> None:
        self.limit: int | None = None


def iter_tiled_inference(
    runner: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    scale: int,
    out_channels: int,
    tile: int,
    overlap: int,
    postprocess: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Generator[TileUpdate, None, np.ndarray]:
    """Run ``runner`` over ``image`` tile by tile, yielding a :class:`TileUpdate` per tile.

    The generator's return value (``StopIteration.value``, or ``x = yield from ...``) is the
    blended output ``(C_out, H*scale, W*scale)`` in model units, before ``postprocess``.

    Parameters
    ----------
    runner
        Maps a ``(C, h, w)`` patch to ``(C_out, h*scale, w*scale)``; usually a
        :class:`TileRunner`.
    image
        Model-space input ``(C, H, W)`` float32.
    scale, out_channels
        From the model card; every tile's output is checked against them.
    tile, overlap
        Tile side and minimum overlap in input pixels.
    postprocess
        Applied to each tile's blended view before it is yielded (e.g. back to raw units).

    Raises
    ------
    InferenceError
        When a tile's output shape does not match the card, or memory runs out on the CPU.
    """
    if image.ndim != 3:
        raise InferenceError(f"expected a (C, H, W) image, got shape {image.shape}")
    _channels, height, width = image.shape
    overlap = min(overlap, max(0, tile // 2 - 1))
    plan = plan_tiles(height, width, tile, overlap)
    blender = TileBlender(out_channels, height, width, scale, overlap)
    state = _SplitState()
    for tile_ in plan:
        rows, cols = tile_.box.slices()
        output = _predict_patch(runner, image[:, rows, cols], scale, out_channels, overlap, state)
        view = blender.add(tile_, output)
        if postprocess is not None:
            view = postprocess(view)
        yield TileUpdate(tile_.index + 1, len(plan), tile_.box.scaled(scale), view)
    return blender.result()


def run_tiled_inference(
    runner: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    scale: int,
    out_channels: int,
    tile: int,
    overlap: int,
) -> np.ndarray:
    """:func:`iter_tiled_inference` run to the end; returns the blended output."""
    return run_to_end(iter_tiled_inference(runner, image, scale, out_channels, tile, overlap))


def _predict_patch(
    runner: Callable[[np.ndarray], np.ndarray],
    patch: np.ndarray,
    scale: int,
    out_channels: int,
    overlap: int,
    state: _SplitState,
) -> np.ndarray:
    """One patch through the model, re-splitting on out-of-memory (see module docstring)."""
    size = max(patch.shape[1:])
    if state.limit is not None and size > state.limit:
        return _split_patch(runner, patch, scale, out_channels, overlap, state, state.limit)
    try:
        output = runner(patch)
    except torch.cuda.OutOfMemoryError as exc:
        device = getattr(runner, "device", torch.device("cpu"))
        if device.type == "cuda":
            torch.cuda.empty_cache()
        smaller = max(size // 2, minimum_tile(overlap))
        if smaller < size:
            state.limit = smaller
            return _split_patch(runner, patch, scale, out_channels, overlap, state, smaller)
        if device.type != "cpu" and isinstance(runner, TileRunner):
            runner.fall_back_to_cpu(f"even {size}-pixel tiles do not fit")
            state.limit = None
            return _predict_patch(runner, patch, scale, out_channels, overlap, state)
        raise InferenceError(
            f"out of memory even with {size}-pixel tiles on {device.type}"
        ) from exc
    return checked_output(output, patch.shape, scale, out_channels)


def checked_output(output: np.ndarray, patch_shape: tuple[int, ...], scale: int,
                   out_channels: int) -> np.ndarray:
    """``output`` of a ``(C, h, w)`` patch, once its shape matches the card and every value
    is finite.

    Raises
    ------
    InferenceError
        Naming the mismatch, or the count of NaN/infinite values (nothing is shown or
        written from such a tile).
    """
    expected = (out_channels, patch_shape[1] * scale, patch_shape[2] * scale)
    if tuple(output.shape) != expected:
        raise InferenceError(
            f"model output shape {tuple(output.shape)} does not match its card: "
            f"expected {expected} for input {tuple(patch_shape)} (scale {scale}, "
            f"{out_channels} output channel(s))"
        )
    if not np.isfinite(output).all():
        bad = int(np.size(output) - np.count_nonzero(np.isfinite(output)))
        raise InferenceError(
            f"model output has {bad} NaN or infinite value(s) in a {patch_shape[1]}x"
            f"{patch_shape[2]} tile; the run was stopped (nothing is shown or written)"
        )
    return output


def _split_patch(
    runner: Callable[[np.ndarray], np.ndarray],
    patch: np.ndarray,
    scale: int,
    out_channels: int,
    overlap: int,
    state: _SplitState,
    tile: int,
) -> np.ndarray:
    """Run ``patch`` as smaller blended tiles (equal to the whole-patch result)."""
    _c, height, width = patch.shape
    blender = TileBlender(out_channels, height, width, scale, overlap)
    for sub in plan_tiles(height, width, tile, overlap):
        rows, cols = sub.box.slices()
        blender.add(
            sub, _predict_patch(runner, patch[:, rows, cols], scale, out_channels, overlap, state)
        )
    return blender.result()
