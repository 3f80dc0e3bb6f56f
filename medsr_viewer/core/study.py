"""Studies with more than three dimensions: several 3-D volumes on one grid, with labels.

A :class:`VolumeGroup` is one kind of image (magnitude, phase, ADC ...) of one series: its
3-D :class:`~medsr_viewer.core.volume.Volume` objects share geometry and are kept in
acquisition order, each with a label (b-value and direction, echo time, time point ...).
A :class:`Study` holds the groups of a series and which volume is shown. Every existing
consumer keeps working on one plain 3-D ``Volume`` (:attr:`Study.shown`); kinds of image are
never mixed into one group.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from medsr_viewer.core.volume import Volume


def _hashable(value: Any) -> Any:
    """``value`` with lists turned into tuples, so label values can be compared in a set."""
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def varying_facts(labels: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """The label keys whose values differ between the volumes (missing counts as a value)."""
    keys: set[str] = set().union(*labels) if labels else set()
    return frozenset(
        key for key in keys if len({_hashable(label.get(key)) for label in labels}) > 1
    )


def describe_label(
    label: Mapping[str, Any],
    index: int,
    count: int,
    varying: Collection[str] | None = None,
) -> str:
    """Short text for a volume's label, e.g. ``"b=1000 dir 3 4/30"``, ``"echo 2 (TE 30 ms)
    2/3"`` or ``"t=4/6"``.

    ``index``/``count`` place the volume among those of its group (1-based in the text).
    ``varying`` (see :func:`varying_facts`) names the facts that tell the group's volumes
    apart: only those are shown (a b-value also with varying directions), and a group told
    apart by nothing else (time points, acquisition numbers) reads ``t=index/count``.
    ``None`` shows every fact the label has.
    """

    def shows(*keys: str) -> bool:
        return varying is None or any(key in varying for key in keys)

    parts: list[str] = []
    if label.get("DiffusionBValue") is not None and shows(
            "DiffusionBValue", "DiffusionGradientOrientation"):
        parts.append(f"b={label['DiffusionBValue']:g}")
    if label.get("DiffusionGradientOrientation") is not None and shows(
            "DiffusionGradientOrientation"):
        parts.append(f"dir {label.get('DiffusionDirectionNumber', index + 1)}")
    if label.get("EchoNumber") is not None and label.get("EchoTime") is not None:
        if shows("EchoNumber", "EchoTime"):
            parts.append(f"echo {label['EchoNumber']} (TE {label['EchoTime'] * 1000:g} ms)")
    elif label.get("EchoTime") is not None and not parts and shows("EchoTime"):
        parts.append(f"TE {label['EchoTime'] * 1000:g} ms")
    if varying is not None and count > 1 and not parts:
        if label.get("TriggerDelayTime") is not None and "TriggerDelayTime" in varying \
                and "TemporalPosition" not in varying:
            parts.append(f"trigger {label['TriggerDelayTime']:g} ms")
        else:  # a time series: time points, or repeats told apart by acquisition only
            return f"t={index + 1}/{count}"
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
        ``(volumes, z, y, x, 3)`` colour samples for colour images as stored (the volumes
        then hold their luminance and, as 8-bit display colour, their own ``rgb``), else
        ``None``.
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

    @cached_property
    def varying(self) -> frozenset[str]:
        """The label facts that tell this group's volumes apart (see :func:`varying_facts`)."""
        return varying_facts(self.labels)

    def label_text(self, index: int) -> str:
        """Readable label of volume ``index``: the facts that vary within the group (see
        :func:`describe_label`), e.g. ``"b=1000 dir 3 4/13"`` or ``"t=4/6"``."""
        if self.n_volumes == 1:
            return describe_label(self.labels[index], index, 1)
        return describe_label(self.labels[index], index, self.n_volumes, self.varying)

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
        """A one-volume study (NIfTI, 2-D images, single-volume series); a colour volume's
        :attr:`~medsr_viewer.core.volume.Volume.rgb` becomes the group's colour samples."""
        rgb = None if volume.rgb is None else volume.rgb[np.newaxis]
        return cls((VolumeGroup(volume.modality or "image", (volume,), rgb=rgb),))

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

    @property
    def is_multi_volume(self) -> bool:
        """Whether there is anything to step through: several volumes or kinds of image."""
        return len(self.groups) > 1 or self.n_volumes > 1

    def step(self, delta: int) -> Study:
        """This study showing the volume ``delta`` places on in the shown group (clamped to
        the first and last volume; ``self`` when that is the shown one)."""
        index = min(max(self.shown_index + int(delta), 0), self.n_volumes - 1)
        return self if index == self.shown_index else self.pick(index)

    def show_group(self, group: int) -> Study:
        """This study showing group ``group`` at the same volume index when it has one (the
        same echo of the phase images as of the magnitude), else at its first volume."""
        if not 0 <= group < len(self.groups):
            raise IndexError(f"no volume group {group}")
        index = self.shown_index if self.shown_index < self.groups[group].n_volumes else 0
        return self.pick(index, group)

    def same_grid(self, other: Study) -> bool:
        """Whether the shown volumes of ``self`` and ``other`` share shape and affine (a view
        of one can show the other without moving)."""
        a, b = self.shown, other.shown
        return a.shape == b.shape and bool(np.allclose(a.affine, b.affine))

    def locate(self, volume: Volume) -> Study | None:
        """This study showing ``volume`` when it is one of its volumes (the very object),
        else ``None`` (a volume made in memory, e.g. a simulated low-resolution copy)."""
        if volume is self.shown:
            return self
        for g, group in enumerate(self.groups):
            for i, candidate in enumerate(group.volumes):
                if candidate is volume:
                    return self.pick(i, g)
        return None

    def view_state(self) -> dict[str, Any]:
        """Which volume is shown, as JSON-ready session entries (empty for a one-volume
        study): ``volume`` (index in its group), ``volume_group`` (index) and ``volume_kind``."""
        if not self.is_multi_volume:
            return {}
        return {"volume": self.shown_index, "volume_group": self.shown_group,
                "volume_kind": self.group.kind}

    def with_view_state(self, state: Mapping[str, Any]) -> Study:
        """This study showing the volume a :meth:`view_state` recorded (``self`` when it
        records none).

        The group is found by kind when the recorded index holds another kind.

        Raises
        ------
        ValueError
            The state names a group or volume this study does not have.
        """
        if "volume" not in state and "volume_group" not in state:
            return self
        group = int(state.get("volume_group", 0))
        kind = state.get("volume_kind")
        if kind is not None and not (0 <= group < len(self.groups)
                                     and self.groups[group].kind == kind):
            kinds = [g.kind for g in self.groups]
            if kind not in kinds:
                raise ValueError(f"the study has no {kind} images")
            group = kinds.index(kind)
        if not 0 <= group < len(self.groups):
            raise ValueError(f"the study has no volume group {group + 1}")
        index = int(state.get("volume", 0))
        count = self.groups[group].n_volumes
        if not 0 <= index < count:
            raise ValueError(f"the study has no volume {index + 1} (it has {count})")
        return self.pick(index, group)
