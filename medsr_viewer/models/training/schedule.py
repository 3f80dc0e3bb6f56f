"""The parts every training task's spec shares: the schedule and the card's text.

Each task (:mod:`~medsr_viewer.models.training.sr_task`, ``denoise_task``, ``segment_task``,
``instance_task``, ``classify_task``, ``segment_volumes_task``, ``through_plane_task``) has a
spec dataclass for what is its own (architecture, data options) and holds one
:class:`TrainSchedule` and one :class:`CardText`, so the loop settings and the card's provenance
are named, defaulted and recorded the same way everywhere. A task whose schedule defaults
differ builds its own with ``field(default_factory=partial(TrainSchedule, steps=...))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medsr_viewer.models.card import Normalisation
from medsr_viewer.models.domain import volumes_domain
from medsr_viewer.models.study_volumes import StudyVolume
from medsr_viewer.models.training.loop import TrainConfig, TrainResult


@dataclass
class TrainSchedule:
    """How long and in which steps a task trains (the loop's settings, recorded in the card).

    One dataclass for every task so that a schedule option means the same thing, and is
    written under the same card key, whatever the task; the defaults are those of the SR task
    and a task with other defaults passes them to its own ``default_factory``.

    Parameters
    ----------
    steps
        Total optimisation steps of the whole run (all sessions); the learning rate's cosine
        decay spans them.
    batch_size
        Samples per optimisation step.
    lr
        Peak learning rate (Adam), written to the card as ``learning_rate``.
    seed
        Seed of torch and of the task's samplers, so a run is reproducible.
    val_every
        Validate every this many steps (and at the end).
    checkpoint_every
        Write the checkpoint every this many steps (0: only at the end of a session).
    stop_at
        End this session at this step (after writing the checkpoint) although the schedule
        runs to ``steps``; a later run with ``resume`` continues the same schedule.
    """

    steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    val_every: int = 250
    checkpoint_every: int = 250
    stop_at: int | None = None

    @property
    def stops_early(self) -> bool:
        """Whether ``stop_at`` ends this session before the schedule's last step."""
        return self.stop_at is not None and self.stop_at < self.steps

    def loop_config(self, checkpoint: Path | None, command: str,
                    log_every: int = 50) -> TrainConfig:
        """The :class:`~medsr_viewer.models.training.loop.TrainConfig` of this schedule.

        ``checkpoint`` is where the loop writes its checkpoints (``None``: none); ``command``
        is this session's command line, kept in the checkpoint for the card.
        """
        return TrainConfig(steps=self.steps, lr=self.lr, val_every=self.val_every,
                           checkpoint_every=self.checkpoint_every, checkpoint_path=checkpoint,
                           command=command, stop_at=self.stop_at, log_every=log_every)


@dataclass
class CardText:
    """What the exported card says about the model besides its scores.

    Kept apart from the task's options because it changes nothing in training: the same
    fields, with the same meaning, go into every task's card.

    Parameters
    ----------
    description
        The card's description.
    licence
        The card's licence text.
    command
        The command line of this session; the card records the commands of all sessions
        (from the checkpoint), or this one when the loop kept none.
    data_description
        The card's ``training.data``; tasks that train on volumes fall back to the volumes'
        names when it is empty.
    weights_dtype
        How the file stores the weights (``float32`` or a smaller type; the card's scores are
        measured with the rounded weights).
    """

    description: str = ""
    licence: str = ""
    command: str = ""
    data_description: str = ""
    weights_dtype: str = "float32"

    def card_fields(self, description: str | None = None) -> dict[str, Any]:
        """``ModelCard`` keyword arguments ``description``, ``licence`` and ``weights_dtype``
        (``description`` replaces the spec's, e.g. with a task's note in front)."""
        return {"description": self.description if description is None else description,
                "licence": self.licence, "weights_dtype": self.weights_dtype}


def run_record(schedule: TrainSchedule, text: CardText, result: TrainResult,
               device: str) -> dict[str, Any]:
    """The card's ``training`` entries that every task writes the same way.

    The commands of all sessions (``text.command`` when there were none), the number of
    sessions, the schedule (``steps``, ``batch_size``, ``learning_rate``, ``seed``), the
    training wall time over all sessions, the device and the torch version.
    """
    return {
        "command": " && ".join(result.commands) or text.command,
        "sessions": len(result.commands),
        "steps": schedule.steps,
        "batch_size": schedule.batch_size,
        "learning_rate": schedule.lr,
        "seed": schedule.seed,
        "train_seconds": round(result.seconds, 1),
        "device": device,
        "torch": torch.__version__,
    }


def volumes_record(text: CardText, train_volumes: Sequence[StudyVolume],
                   val_volumes: Sequence[StudyVolume], normalisation: Normalisation,
                   modalities: tuple[str, ...]) -> dict[str, Any]:
    """The card's ``training`` entries of a task that trains on whole volumes (SR, denoising,
    through-plane SR): the training domain, ``data`` (``text.data_description``, else the
    training volumes' names) and the names of the training and validation volumes."""
    return {
        "domain": volumes_domain(train_volumes, normalisation, modalities),
        "data": text.data_description or ", ".join(v.name for v in train_volumes),
        "train_volumes": [v.name for v in train_volumes],
        "validation_volumes": [v.name for v in val_volumes],
    }
