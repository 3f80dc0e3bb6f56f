"""Execution plans: how one model runs on one device, chosen to be fast and keep its quality.

A plan (:class:`ExecutionPlan`) fixes four things:

- **memory format**: channels_last (NHWC) or NCHW. oneDNN reorders NCHW data around every
  convolution; channels_last avoids that (1.4-1.7x on the bundled models on a Zen 3 CPU,
  outputs within 1e-5 of NCHW). The default on the CPU, and on CUDA with reduced precision.
- **precision**: fp32; bf16 autocast where the hardware runs it natively (CPUs with
  AVX512_BF16 or AMX-BF16, :mod:`medsr_viewer.models.cpu_features`; CUDA GPUs with bf16);
  fp16 on CUDA. A reduced precision is used only when the model's card lists it as validated
  (``card.execution["validated_precisions"]``, written by ``medsr eval sr --paths
  --write-card`` when it lost at most :data:`MAX_PSNR_LOSS_DB` against fp32 under the SR
  protocol; the legacy ``fp16`` flag counts as validated fp16). Without native bf16
  (AVX2-only CPUs) oneDNN emulates it and bf16 runs several times *slower* than fp32, so it
  is never picked there.
- **compiled graph**: ``torch.compile`` with freezing (:mod:`medsr_viewer.models.compile_cache`)
  only when asked for: it needs a C++ compiler at run time and costs ~30 s per tile shape on a
  2-core CPU for a measured 1.3x on fp32 tiles, which a viewer showing single slices never
  earns back (a 120-slice volume run might).
- **tile** (CPU): the card's tile, smaller when the model's widest activation at that tile
  would not fit the L3 cache (cost per pixel doubles once it leaves it), and with bf16
  (half the bytes) up to :data:`MAX_CPU_TILE`. On CUDA the tile comes from free memory
  (:func:`medsr_viewer.models.device.initial_tile_size`), copies use pinned memory and are
  non-blocking.

``MEDSR_EXECUTION`` (e.g. ``fp32`` for today's exact NCHW path, ``fp32+channels_last``,
``bf16+channels_last``, ``...+compiled``) overrides the automatic choice; a reduced precision
the card has not validated is still refused. The fp32 NCHW plan runs exactly the same calls
as before plans existed, so its outputs are bit-identical.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from medsr_viewer.models.card import ModelCard
from medsr_viewer.models.cpu_features import CpuFeatures, detect_cpu

#: Precisions a plan may use.
PRECISIONS = ("fp32", "bf16", "fp16")
#: Largest PSNR loss (dB) against fp32 under the SR protocol for a precision to be validated.
MAX_PSNR_LOSS_DB = 0.02
#: Largest tile side the CPU plan grows to with a reduced precision.
MAX_CPU_TILE = 512
#: Environment variable overriding the automatic choice (a path name, or ``auto``).
EXECUTION_ENV = "MEDSR_EXECUTION"
#: Paths measured by ``medsr eval --paths`` and the benchmark (compiled ones on request).
MEASURED_PATHS = ("fp32", "fp32+channels_last", "bf16+channels_last")
_DRY_SIDE = 16
_log = logging.getLogger(__name__)


class ExecutionError(ValueError):
    """A path name or plan request that cannot be honoured."""


@dataclass(frozen=True)
class ExecutionPlan:
    """How a model runs: device, precision, memory format, compilation, tile, copies.

    Parameters
    ----------
    device
        ``"cpu"`` or ``"cuda"``.
    precision
        One of :data:`PRECISIONS`; bf16 runs under autocast, fp16 with half weights.
    channels_last
        Module and inputs in NHWC memory format.
    compiled
        ``torch.compile`` (artefacts cached under ``compile_key``).
    tile
        Tile side for this plan, ``None``: the caller's choice (card / free GPU memory).
    pin_memory
        Inputs copied to the GPU from pinned memory, non-blocking.
    compile_key
        The compiled artefacts' cache key (:func:`~medsr_viewer.models.compile_cache.cache_key`).
    reasons
        Why each choice was made (for ``medsr eval --paths`` and the logs).
    """

    device: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    compiled: bool = False
    tile: int | None = None
    pin_memory: bool = False
    compile_key: str = ""
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ExecutionError(f"unknown precision {self.precision!r}; expected one of "
                                 f"{', '.join(PRECISIONS)}")

    @property
    def name(self) -> str:
        """The path name: ``fp32``, ``fp32+channels_last``, ``bf16+channels_last+compiled``."""
        parts = [self.precision]
        if self.channels_last:
            parts.append("channels_last")
        if self.compiled:
            parts.append("compiled")
        return "+".join(parts)

    @property
    def reduced(self) -> bool:
        """Whether the plan computes below fp32."""
        return self.precision != "fp32"


def parse_path(name: str) -> tuple[str, bool, bool]:
    """``(precision, channels_last, compiled)`` of a path name such as ``bf16+channels_last``.

    Raises
    ------
    ExecutionError
        For an unknown precision or option.
    """
    parts = [p.strip().lower() for p in name.split("+") if p.strip()]
    if not parts or parts[0] not in PRECISIONS:
        raise ExecutionError(f"path {name!r} must start with one of {', '.join(PRECISIONS)}")
    options = set(parts[1:])
    unknown = options - {"channels_last", "compiled"}
    if unknown:
        raise ExecutionError(f"path {name!r}: unknown option(s) {', '.join(sorted(unknown))} "
                             "(expected channels_last, compiled)")
    return parts[0], "channels_last" in options, "compiled" in options


def validated_precisions(card: ModelCard) -> frozenset[str]:
    """Precisions the card allows: fp32, its ``execution.validated_precisions``, and fp16 when
    the legacy ``fp16`` flag is set."""
    listed = set(card.validated_precisions) | {"fp32"}
    if card.fp16:
        listed.add("fp16")
    return frozenset(listed)


def native_precisions(device: torch.device, cpu: CpuFeatures | None = None) -> tuple[str, ...]:
    """Reduced precisions this hardware runs faster than fp32, best first."""
    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return ("bf16", "fp16")
        return ("fp16",)
    features = cpu if cpu is not None else detect_cpu()
    return ("bf16",) if features.native_bf16 else ()


def activation_width(module: torch.nn.Module, in_channels: int) -> int | None:
    """Widest activation per input pixel, in values (a 40-channel layer at the input's
    resolution: 40), from a tiny dry run with forward hooks; ``None`` when unmeasurable
    (scripted modules, no 4-D outputs, a failing call)."""
    widths: list[float] = []

    def hook(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4:
            widths.append(output[0].numel() / (_DRY_SIDE * _DRY_SIDE))

    handles = []
    try:
        param = next(iter(module.parameters()), None)
        kind = param if param is not None else torch.zeros(())
        for sub in module.modules():
            if not any(True for _ in sub.children()):
                handles.append(sub.register_forward_hook(hook))
        with torch.inference_mode():
            module(torch.zeros(1, in_channels, _DRY_SIDE, _DRY_SIDE, dtype=kind.dtype,
                               device=kind.device))
    except Exception:  # noqa: BLE001 - only a tile-size hint; the card's tile stays
        return None
    finally:
        for handle in handles:
            handle.remove()
    return math.ceil(max(widths)) if widths else None


def cpu_tile(card_tile: int, overlap: int, width: int | None, l3_bytes: int | None,
             precision: str = "fp32") -> int:
    """The CPU tile side: the card's, shrunk until the widest activation
    (``tile^2 * width`` values) fits the L3 cache, and grown up to that fit (at most
    :data:`MAX_CPU_TILE`) for a reduced precision. A multiple of 32, above twice the overlap.
    """
    if width is None or not l3_bytes:
        return card_tile
    element = 4 if precision == "fp32" else 2
    fit = math.isqrt(l3_bytes // (width * element)) // 32 * 32
    fit = max(fit, 64, -(-(2 * overlap + 2) // 32) * 32)
    if fit < card_tile:
        return fit
    if precision != "fp32":
        return max(card_tile, min(fit, MAX_CPU_TILE))
    return card_tile


def _plan(card: ModelCard, device: torch.device, precision: str, channels_last: bool,
          compiled: bool, module: torch.nn.Module | None, cpu: CpuFeatures | None,
          model_sha256: str, reasons: list[str]) -> ExecutionPlan:
    tile = None
    if device.type == "cpu":
        features = cpu if cpu is not None else detect_cpu()
        width = activation_width(module, card.in_channels) if module is not None else None
        tile = cpu_tile(card.tile_size, card.tile_overlap, width, features.l3_bytes, precision)
        if tile != card.tile_size:
            reasons.append(f"tile {tile} (card {card.tile_size}): the widest activation "
                           f"({width} values per pixel) sized to the L3 cache")
    key = ""
    if compiled:
        from medsr_viewer.models.compile_cache import cache_key

        name = ExecutionPlan(device.type, precision, channels_last, True).name
        key = cache_key(model_sha256, name, device.type) if model_sha256 else ""
    return ExecutionPlan(device.type, precision, channels_last, compiled, tile,
                         pin_memory=device.type == "cuda", compile_key=key,
                         reasons=tuple(reasons))


def choose_plan(card: ModelCard, device: torch.device | str, module: torch.nn.Module | None = None,
                *, cpu: CpuFeatures | None = None, request: str | None = None,
                model_sha256: str = "") -> ExecutionPlan:
    """The plan a model runs with in the application.

    Parameters
    ----------
    card
        The model's card (validated precisions, tile, overlap).
    device
        Where it runs.
    module
        The loaded module (for the CPU tile: its widest activation), optional.
    cpu
        CPU features (default: this machine's, :func:`detect_cpu`).
    request
        ``"auto"`` or a path name (default: ``$MEDSR_EXECUTION``, else ``auto``).
    model_sha256
        The model file's hash (the compiled artefacts' cache key).

    A reduced precision runs only when the card validated it; ``auto`` takes the best one the
    hardware runs natively, channels_last on the CPU (and on CUDA with a reduced precision),
    and never compiles.

    Raises
    ------
    ExecutionError
        When ``request`` is not a path name.
    """
    device = torch.device(device)
    if request is None:
        request = os.environ.get(EXECUTION_ENV, "")
    request = request.strip() or "auto"
    allowed = validated_precisions(card)
    reasons: list[str] = []
    if request == "auto":
        native = native_precisions(device, cpu)
        precision = next((p for p in native if p in allowed), "fp32")
        if precision != "fp32":
            reasons.append(f"{precision}: validated in the card and native on this {device.type}")
        elif device.type == "cpu" and not native:
            reasons.append("fp32: this CPU has no native bf16 (AVX512_BF16/AMX)")
        elif native:
            reasons.append(f"fp32: the card validates none of {', '.join(native)}")
        channels_last = device.type == "cpu" or precision != "fp32"
        compiled = False
    else:
        precision, channels_last, compiled = parse_path(request)
        if precision not in allowed:
            reasons.append(f"{precision} requested but not validated in the card: fp32")
            precision = "fp32"
        elif precision == "fp16" and device.type != "cuda":
            reasons.append("fp16 runs on CUDA only: fp32")
            precision = "fp32"
    return _plan(card, device, precision, channels_last, compiled, module, cpu, model_sha256,
                 reasons)


def measurement_plan(path: str, card: ModelCard, device: torch.device | str,
                     module: torch.nn.Module | None = None, *, cpu: CpuFeatures | None = None,
                     model_sha256: str = "") -> ExecutionPlan:
    """The plan of path ``path`` whether or not the card validated its precision: what
    ``medsr eval --paths`` and the benchmark measure (the application uses
    :func:`choose_plan`)."""
    device = torch.device(device)
    precision, channels_last, compiled = parse_path(path)
    if precision == "fp16" and device.type != "cuda":
        raise ExecutionError("fp16 runs on CUDA only")
    return _plan(card, device, precision, channels_last, compiled, module, cpu, model_sha256,
                 [f"{path}: measured"])


def on_cpu(plan: ExecutionPlan) -> ExecutionPlan:
    """The plan after a fall-back to the CPU: fp32 unless the CPU runs bf16 natively, no
    pinned copies."""
    precision = plan.precision
    if precision == "fp16" or (precision == "bf16" and "bf16" not in native_precisions(
            torch.device("cpu"))):
        precision = "fp32"
    return replace(plan, device="cpu", precision=precision, pin_memory=False,
                   reasons=(*plan.reasons, "moved to the CPU"))


def prepare_module(module: torch.nn.Module, plan: ExecutionPlan) -> torch.nn.Module:
    """``module`` made ready for ``plan`` (on the plan's device already).

    fp16 halves the weights in place (as the legacy ``fp16`` flag always did); channels_last
    converts a copy (the loaded module is shared); compiled wraps it in a
    :class:`~medsr_viewer.models.compile_cache.CompiledModule`. The fp32 NCHW plan returns
    ``module`` itself.
    """
    if plan.precision == "fp16":
        module = module.half()
    if plan.channels_last:
        try:
            with warnings.catch_warnings():
                # some loaded modules hold non-leaf parameters, whose .grad .to() reads
                warnings.filterwarnings("ignore", message=r"The \.grad attribute")
                module = copy.deepcopy(module).to(
                    memory_format=torch.channels_last)  # type: ignore[call-overload]
        except Exception as exc:  # noqa: BLE001 - a module that cannot be copied runs in NCHW
            _log.info("channels_last skipped: cannot copy the module (%s)", exc)
    if plan.compiled:
        from medsr_viewer.models.compile_cache import compile_for

        if not plan.compile_key:
            raise ExecutionError("a compiled plan needs the model's sha256 (its cache key)")
        module = compile_for(module, plan.compile_key)
    return module


def autocast(plan: ExecutionPlan) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast for a bf16 plan, else a no-op context."""
    if plan.precision == "bf16":
        return torch.autocast(plan.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_input(x: torch.Tensor, plan: ExecutionPlan, device: torch.device) -> torch.Tensor:
    """``x`` (float32, CPU) on ``device`` in the plan's dtype and memory format; pinned and
    non-blocking when the plan says so (the copy is ordered before the model's kernels on
    the same stream, and ``x`` lives until the caller reads the output)."""
    dtype = torch.float16 if plan.precision == "fp16" else torch.float32
    if plan.pin_memory and device.type == "cuda" and x.device.type == "cpu":
        x = x.pin_memory().to(device=device, dtype=dtype, non_blocking=True)
    else:
        x = x.to(device=device, dtype=dtype)
    if plan.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def run(module: torch.nn.Module, x: torch.Tensor, plan: ExecutionPlan,
        device: torch.device) -> Any:
    """``module`` (from :func:`prepare_module`) applied to ``x`` under ``plan``."""
    with autocast(plan):
        return module(to_input(x, plan, device))


class PlannedModel:
    """A module run under a plan, called like a module: ``(N, C, H, W)`` float32 in, float32
    out (contiguous, on the CPU). Used by ``medsr eval --paths`` and the benchmark.

    Parameters
    ----------
    module
        The loaded module (never modified: the plan works on a copy).
    plan
        The plan.
    """

    def __init__(self, module: torch.nn.Module, plan: ExecutionPlan) -> None:
        self.plan = plan
        self.device = torch.device(plan.device)
        self.module = prepare_module(copy.deepcopy(module).to(self.device), plan)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for ``x``, as fp32 on the CPU."""
        with torch.inference_mode():
            y = run(self.module, x, self.plan, self.device)
            if isinstance(y, (tuple, list)):
                y = y[0]
            return y.float().cpu().contiguous()


def describe_plan(plan: ExecutionPlan) -> Iterator[str]:
    """Lines saying what ``plan`` does and why."""
    tile = f", tile {plan.tile}" if plan.tile else ""
    yield f"{plan.name} on {plan.device}{tile}"
    yield from (f"  {reason}" for reason in plan.reasons)
