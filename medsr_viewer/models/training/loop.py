"""A generic training loop with validation, best-model tracking, checkpoints and resume.

The task-specific parts (how a batch is made, the loss, the validation metric) are passed in,
so SR, denoising and segmentation share one tested loop. Checkpoints hold the model and
optimizer state, the step, the best weights so far and the random generator states, written
atomically, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medsr_viewer.core.atomic import atomic_write

#: (inputs, targets) for one optimisation step.
Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrainConfig:
    """Hyper-parameters and bookkeeping of one training run.

    Parameters
    ----------
    steps
        Total optimisation steps.
    lr
        Peak learning rate (Adam); cosine decay to 5 % of it over ``steps``.
    val_every
        Validate (and maybe keep the best weights) every this many steps, and at the end.
    checkpoint_every
        Write the checkpoint every this many steps (0: only at the end).
    checkpoint_path
        Where the checkpoint goes (``None``: no checkpoints).
    log_every
        Print a progress line every this many steps.
    grad_clip
        Largest gradient norm (0: no clipping).
    stop_at
        Stop (after writing the checkpoint) at this step although the schedule runs to
        ``steps``: splits one run into sessions that resume where the last one stopped.
    command
        The command line of this session; checkpoints keep the list of all sessions' commands
        so the exported card can say exactly how the weights were made.
    """

    steps: int
    lr: float = 1e-3
    val_every: int = 200
    checkpoint_every: int = 200
    checkpoint_path: Path | None = None
    log_every: int = 50
    grad_clip: float = 1.0
    stop_at: int | None = None
    command: str = ""


@dataclass
class TrainResult:
    """Outcome of :func:`train`: best weights and their validation metrics, plus the log."""

    best_state: dict[str, torch.Tensor]
    best_metrics: dict[str, float]
    best_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    #: Training wall time over all sessions of the run (resumed ones included).
    seconds: float = 0.0


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with ``torch.save`` atomically (temp file then rename)."""
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`train`; raises ``ValueError`` naming the file.

    Read with ``weights_only=True``: tensors, numbers, strings and containers only, so a
    checkpoint handed over by someone else cannot run code (torch's restricted unpickler).
    """
    try:
        payload = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types (pickle, zip, OS errors)
        raise ValueError(f"{path}: cannot read checkpoint ({exc.__class__.__name__})") from exc
    if not isinstance(payload, dict) or "model" not in payload or "step" not in payload:
        raise ValueError(f"{path}: not a medsr training checkpoint")
    return payload


def train(
    model: nn.Module,
    make_batch: Callable[[], Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validate: Callable[[nn.Module], dict[str, float]],
    metric: str,
    config: TrainConfig,
    resume: Path | None = None,
    log: Callable[[str], None] = print,
    higher_is_better: bool = True,
    extra_state: Callable[[], dict[str, Any]] | None = None,
    restore_extra: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Optimise ``model`` for ``config.steps`` steps and return the best weights by ``metric``.

    Parameters
    ----------
    model
        The network, trained in place on the device its parameters are on.
    make_batch
        Returns the next ``(inputs, targets)`` batch already on the model's device.
    loss_fn
        ``loss_fn(model(inputs), targets)`` is minimised.
    validate
        Returns validation metrics for the model (called in eval mode, without gradients).
    metric
        Key of the validation dict that selects the best weights.
    config
        Steps, learning rate and checkpoint settings.
    resume
        Checkpoint to continue from (model, optimizer, step, best so far, sampler state).
    log
        Receives progress lines.
    higher_is_better
        Direction of ``metric``.
    extra_state, restore_extra
        Save/restore task state (e.g. the patch sampler's random generator) in checkpoints.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def lr_at(step: int) -> float:
        frac = min(step / max(config.steps, 1), 1.0)
        return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))

    step = 0
    best_state = copy.deepcopy(model.state_dict())
    best_metrics: dict[str, float] = {}
    best_step = 0
    history: list[dict[str, float]] = []
    commands: list[str] = []
    earlier_seconds = 0.0
    if resume is not None:
        ckpt = load_checkpoint(resume)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        best_state = ckpt["best_state"]
        best_metrics = dict(ckpt["best_metrics"])
        best_step = int(ckpt.get("best_step", 0))
        history = list(ckpt.get("history", []))
        commands = list(ckpt.get("commands", []))
        earlier_seconds = float(ckpt.get("seconds", 0.0))
        torch.set_rng_state(ckpt["torch_rng"])
        if restore_extra is not None and "extra" in ckpt:
            restore_extra(ckpt["extra"])
        log(f"resumed from {resume} at step {step}")
    if config.command:
        commands.append(config.command)

    def better(metrics: dict[str, float]) -> bool:
        if not best_metrics:
            return True
        new, old = metrics[metric], best_metrics[metric]
        return new > old if higher_is_better else new < old

    def total_seconds() -> float:
        return earlier_seconds + time.perf_counter() - start

    def checkpoint() -> None:
        if config.checkpoint_path is None:
            return
        payload = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "best_state": best_state,
            "best_metrics": best_metrics,
            "best_step": best_step,
            "history": history,
            "commands": commands,
            "torch_rng": torch.get_rng_state(),
            "seconds": total_seconds(),
        }
        if extra_state is not None:
            payload["extra"] = extra_state()
        save_checkpoint(config.checkpoint_path, payload)

    running = 0.0
    count = 0
    start = time.perf_counter()
    start_step = step
    end = config.steps if config.stop_at is None else min(config.stop_at, config.steps)
    while step < end:
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        inputs, targets = make_batch()
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        running += float(loss.detach())
        count += 1
        if step % config.log_every == 0 or step == config.steps:
            rate = (step - start_step) / max(time.perf_counter() - start, 1e-9)
            log(f"step {step}/{config.steps} loss {running / count:.5f} "
                f"lr {lr_at(step):.2e} ({rate:.1f} steps/s)")
            running, count = 0.0, 0
        if step % config.val_every == 0 or step == config.steps:
            model.eval()
            with torch.no_grad():
                metrics = {k: float(v) for k, v in validate(model).items()}
            metrics["step"] = float(step)
            history.append(metrics)
            mark = ""
            if better(metrics):
                best_state = copy.deepcopy(model.state_dict())
                best_metrics, best_step, mark = metrics, step, " (best)"
            shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "step")
            log(f"validation at step {step}: {shown}{mark}")
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            checkpoint()
    checkpoint()
    return TrainResult(best_state, best_metrics, best_step, history, commands, total_seconds())
