"""A ``segment_instances`` model's output as an instance label map (one id per object).

The network gives class logits per pixel; their softmax goes through the post-processing the
card names (:class:`medsr_viewer.core.labels.instances.InstanceParams`, the card's
``instances`` block). Used by the slice/volume processor for the CLI and the viewer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medsr_viewer.core.labels.instances import InstanceParams, instances_from_plane
from medsr_viewer.models.card import CardError, ModelCard


def instance_params(card: ModelCard) -> InstanceParams:
    """The card's post-processing (defaults where it gives none); raises :class:`CardError`."""
    try:
        return InstanceParams.from_dict(card.instances)
    except ValueError as exc:
        raise CardError(f"model {card.name!r}: {exc}") from exc


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 of ``(C, H, W)`` logits, in float32."""
    z = np.asarray(logits, dtype=np.float32)
    z = z - z.max(axis=0, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=0, keepdims=True)
    return z


def instances_from_output(output: np.ndarray, params: InstanceParams) -> np.ndarray:
    """``(C, H, W)`` logits -> ``uint32`` instance map ``(H, W)`` (ids 1..n, 0 background)."""
    out = np.asarray(output)
    if out.ndim != 3:
        raise ValueError(f"instance segmentation output must be (C, H, W), got {out.shape}")
    return instances_from_plane(softmax(out), params)


def unique_instance_ids(put: Callable[[int, np.ndarray], None]
                        ) -> Callable[[int, np.ndarray], None]:
    """Wrap a plane sink so that ids continue from plane to plane (unique in the volume)."""
    offset = 0

    def put_unique(index: int, plane: np.ndarray) -> None:
        nonlocal offset
        ids = np.asarray(plane, dtype=np.uint32)
        shifted = np.where(ids > 0, ids + np.uint32(offset), np.uint32(0)).astype(np.uint32)
        offset = max(offset, int(shifted.max(initial=0)))
        put(index, shifted)

    return put_unique
