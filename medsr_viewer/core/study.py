"""Studies with more than three dimensions: several 3-D volumes on one grid, with labels.

A :class:`VolumeGroup` is one kind of image (magnitude, phase, ADC ...) of one series: its
3-D :class:`~medsr_viewer.core.volume.Volume` objects share geometry and are kept in
acquisition order, each with a label (b-value and direction, echo time, time point ...).
A :class:`Study` holds the groups of a series and which volume is shown. Every existing
consumer keeps working on one plain 3-D ``Volume`` (:attr:`Study.shown`); kinds of image are
never mixed into one group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from medsr_viewer.core.volume import Volume


def describe_label(label: Mapping[str, Any], index: int, count: int) -> str:
    """Short text for a volume's label, e.g. ``"b=1000 dir 3/30"`` or ``"echo 2 (TE 30 ms)"``.

    ``index``/``count`` place the volume among those of its group (1-based in the text).
    """
    parts: list[str] = []
    if label.get("DiffusionBValue") is not None:
        parts.append(f"b={label['DiffusionBValue']:g}")
    if label.get("DiffusionGradientOrientation") is not None:
        parts.append(f"dir {label.get('DiffusionDirectionNumber', index + 1)}")
    if label.get("EchoNumber") is not None and label.get("EchoTime") is not None:
        parts.append(f"echo {label['EchoNumber']} (TE {label['EchoTime'] * 1000:g} ms)")
    elif label.get("EchoTime") is not None and not parts:
        parts.append(f"TE {label['EchoTime'] * 1000:g} ms")
    if label.get("TemporalPosition") is not None and not parts:
        parts.append(f"time point {label['TemporalPosition']}")
    if label.get("TriggerDelayTime") is not None and not parts:
        parts.append(f"trigger {label['TriggerDelayTime']:g} ms")
    text = " ".join(parts) if parts else "volume"
    return f"{text} {index + 1}/{count}" if count > 1 else text


@dataclass(frozen=True, eq=False)
class VolumeGroup:
    """3-D volumes of one kind on one grid, in acquisition order.

    Parameters
    ----------
    kind
        What the volumes show ("magnitude", "phase", "ADC", "field map" ...).
    volumes
        The 3-D volumes; all share shape and affine.
    labels
        One mapping per volume of BIDS-named facts (``EchoTime`` in s, ``DiffusionBValue``,
        ``DiffusionGradientOrientation`` in the DICOM patient frame, ``TemporalPosition``,
        ``ImageType`` ...); never a patient identifier.
    rgb
        ``(volumes, z, y, x, 3)`` colour samples for colour images (the volumes then hold
        their luminance), else ``None``.
    """

    kind: str
    volumes: tuple[Volume, ...]
    labels: tuple[Mapping[str, Any], ...] = ()
    rgb: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.volumes:
            raise ValueError("a volume group needs at least one volume")
        first = self.volumes[0]
        for volume in self.volumes[1:]:
            if volume.shape != first.shape or not np.allclose(volume.affine, first.affine):
                raise ValueError("the volumes of a group must share shape and affine")
        if not self.labels:
            object.__setattr__(self, "labels", tuple({} for _ in self.volumes))
        if len(self.labels) != len(self.volumes):
            raise ValueError("one label per volume is needed")

    @property
    def n_volumes(self) -> int:
        """Number of 3-D volumes."""
        return len(self.volumes)

    def frame(self, index: int) -> Volume:
        """The 3-D volume ``index`` (acquisition order)."""
        return self.volumes[index]

    def label_text(self, index: int) -> str:
        """Readable label of volume ``index`` (see :func:`describe_label`)."""
        return describe_label(self.labels[index], index, self.n_volumes)

    def voxels_4d(self) -> np.ndarray:
        """All volumes stacked as ``(volumes, z, y, x)``."""
        return np.stack([v.voxels for v in self.volumes])


@dataclass(frozen=True, eq=False)
class Study:
    """The volume groups of one series and which volume is shown.

    Parameters
    ----------
    groups
        One group per kind of image, the shown kind first.
    shown_group, shown_index
        The group and the volume within it that :attr:`shown` returns.
    facts
        Series-level acquisition facts for sidecars (allowlisted, no patient identifier).
    """

    groups: tuple[VolumeGroup, ...]
    shown_group: int = 0
    shown_index: int = 0
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.groups:
            raise ValueError("a study needs at least one volume group")
        if not 0 <= self.shown_group < len(self.groups):
            raise IndexError(f"no volume group {self.shown_group}")
        if not 0 <= self.shown_index < self.groups[self.shown_group].n_volumes:
            raise IndexError(f"no volume {self.shown_index} in group {self.shown_group}")

    @classmethod
    def of(cls, volume: Volume) -> Study:
        """A one-volume study (NIfTI, 2-D images, single-volume series)."""
        return cls((VolumeGroup(volume.modality or "image", (volume,)),))

    @property
    def group(self) -> VolumeGroup:
        """The shown group."""
        return self.groups[self.shown_group]

    @property
    def shown(self) -> Volume:
        """The shown 3-D volume (what every 3-D consumer works on)."""
        return self.group.frame(self.shown_index)

    @property
    def n_volumes(self) -> int:
        """Number of volumes in the shown group."""
        return self.group.n_volumes

    def pick(self, index: int, group: int | None = None) -> Study:
        """This study showing volume ``index`` (of ``group``, default the shown group)."""
        return replace(self, shown_group=self.shown_group if group is None else group,
                       shown_index=index)

    def shown_label(self) -> str:
        """Label text of the shown volume (empty for single-volume groups)."""
        return self.group.label_text(self.shown_index) if self.n_volumes > 1 else ""
