"""Registry of trainable network architectures: a name in a card -> an ``nn.Module`` class.

Cards record ``architecture`` (the registry name) and ``arch_kwargs``, and the project's own
model format (:mod:`medsr_viewer.models.safe_format`) rebuilds the network from them: a model
file holds weights only, never code. :func:`build_architecture` remembers on the module how
it was built (:func:`built_as`), so exporting it fills in the card.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from medsr_viewer.models.architectures.classifier import SliceClassifier
from medsr_viewer.models.architectures.denoise import DnCNN
from medsr_viewer.models.architectures.sr import ESPCN, EDSRLite
from medsr_viewer.models.architectures.through_plane import ThroughPlaneResNet
from medsr_viewer.models.architectures.unet import UNet

#: name -> (class, task it is meant for).
ARCHITECTURES: dict[str, tuple[type[nn.Module], str]] = {
    "espcn": (ESPCN, "super_resolution"),
    "edsr-lite": (EDSRLite, "super_resolution"),
    "dncnn": (DnCNN, "enhance"),
    "unet": (UNet, "segment"),
    "through-plane-resnet": (ThroughPlaneResNet, "through_plane_sr"),
    "slice-classifier": (SliceClassifier, "classify"),
}


def build_architecture(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate the architecture registered as ``name`` with ``kwargs``.

    Raises
    ------
    KeyError
        With the list of known names when ``name`` is not registered.
    """
    try:
        cls, _task = ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise KeyError(f"unknown architecture {name!r}; known: {known}") from None
    module = cls(**kwargs)
    # A plain attribute (not a buffer): survives deepcopy, invisible to the state dict.
    object.__setattr__(module, "medsr_built_as", (name, dict(kwargs)))
    return module


def built_as(module: nn.Module) -> tuple[str, dict[str, Any]] | None:
    """``(architecture name, keyword arguments)`` of a module made by :func:`build_architecture`."""
    value = getattr(module, "medsr_built_as", None)
    if isinstance(value, tuple) and len(value) == 2:
        return str(value[0]), dict(value[1])
    return None


def architectures_for(task: str) -> list[str]:
    """Registered architecture names meant for ``task`` (a card task name)."""
    return sorted(name for name, (_cls, t) in ARCHITECTURES.items() if t == task)


__all__ = [
    "ARCHITECTURES",
    "ESPCN",
    "DnCNN",
    "EDSRLite",
    "SliceClassifier",
    "ThroughPlaneResNet",
    "UNet",
    "architectures_for",
    "build_architecture",
    "built_as",
]
