"""Label tables: the name, colour and visibility of each value of a label map.

Sources, in the order the application merges them (later ones win): generated default
colours, a model card's labels, the label file's own table (DICOM SEG segment descriptions, a
sidecar colour table next to a NIfTI/MGZ file) or, when it has none, FreeSurfer's built-in
table for a FreeSurfer-like map (:mod:`medsr_viewer.core.labels.freesurfer`), and a colour
table file the user opens (:meth:`LabelTable.merged`).
Colour table files are read and written in two common text formats:

- **FreeSurfer LUT** (``FreeSurferColorLUT.txt``): ``value name R G B A`` per line, ``#``
  comments. ``A`` is FreeSurfer's transparency byte (0 = opaque) and is ignored on reading.
- **ITK-SNAP label description**: ``value R G B alpha visible mesh "name"`` per line, ``#``
  comments; ``alpha`` is an opacity in ``[0, 1]`` and ``visible`` is 0/1.
"""

from __future__ import annotations

import colorsys
import os
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

Color = tuple[int, int, int]
#: Largest colour table file read (FreeSurfer's whole LUT is 85 kB).
MAX_TABLE_BYTES = 16 * 2**20


class LabelTableError(ValueError):
    """A colour table file is unreadable or malformed (message names file and line)."""


class CardLabel(Protocol):
    """What a model card's label looks like (``medsr_viewer.models.card.Label``)."""

    @property
    def value(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def color(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class LabelEntry:
    """Display properties of one label value.

    Attributes
    ----------
    value
        Integer stored in the label map.
    name
        Human-readable name ("Left-Hippocampus", "lesion" ...).
    color
        ``(r, g, b)``, 0-255.
    visible
        Whether the overlay shows this label.
    opacity
        Per-label opacity in ``[0, 1]`` (multiplied with the layer's opacity when drawn).
    """

    value: int
    name: str
    color: Color
    visible: bool = True
    opacity: float = 1.0


def default_color(value: int) -> Color:
    """A distinct, deterministic colour for a label value (golden-ratio hue steps)."""
    if value == 0:
        return (0, 0, 0)
    hue = (value * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


class LabelTable:
    """Mutable mapping ``value -> LabelEntry`` with defaults for values it does not list.

    The GUI's label list edits it in place (:meth:`update`); values present in a label map but
    absent from the table get :func:`default_color` and the name ``"label <value>"``.
    """

    def __init__(self, entries: Iterable[LabelEntry] = ()) -> None:
        self._entries: dict[int, LabelEntry] = {}
        for entry in entries:
            self._entries[int(entry.value)] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LabelEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.value))

    def __contains__(self, value: object) -> bool:
        return value in self._entries

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelTable):
            return NotImplemented
        return self._entries == other._entries

    def __repr__(self) -> str:
        return f"LabelTable({len(self)} entries)"

    def entry(self, value: int) -> LabelEntry:
        """The entry for ``value`` (a generated default if the table lacks it)."""
        value = int(value)
        found = self._entries.get(value)
        if found is not None:
            return found
        return LabelEntry(value, "background" if value == 0 else f"label {value}",
                          default_color(value))

    def name(self, value: int) -> str:
        """Name of a label value."""
        return self.entry(value).name

    def set(self, entry: LabelEntry) -> None:
        """Add or replace one entry."""
        self._entries[int(entry.value)] = entry

    def update(self, value: int, **changes: Any) -> LabelEntry:
        """Change ``name``, ``color``, ``visible`` or ``opacity`` of one label; returns it."""
        entry = replace(self.entry(value), **changes)
        self.set(entry)
        return entry

    def values(self) -> list[int]:
        """Label values listed in the table, ascending."""
        return sorted(self._entries)

    def merged(self, other: LabelTable) -> LabelTable:
        """A new table: this one overridden by ``other``'s entries."""
        return LabelTable([*self._entries.values(), *other._entries.values()])

    def copy(self) -> LabelTable:
        """An independent copy."""
        return LabelTable(self._entries.values())

    def colour_lut(self, max_value: int | None = None) -> list[tuple[int, int, int, int]]:
        """RGBA per value ``0..max_value`` for overlay display (hidden labels get alpha 0)."""
        top = max(self.values(), default=0) if max_value is None else int(max_value)
        lut = []
        for value in range(top + 1):
            e = self.entry(value)
            alpha = 0 if value == 0 or not e.visible else round(255 * e.opacity)
            lut.append((*e.color, alpha))
        return lut

    @classmethod
    def from_card_labels(cls, labels: Iterable[CardLabel]) -> LabelTable:
        """Table from a model card's labels (anything with ``value``, ``name``, ``color``)."""
        entries = []
        for lab in labels:
            c = tuple(int(x) for x in lab.color)
            entries.append(LabelEntry(int(lab.value), str(lab.name), (c[0], c[1], c[2])))
        return cls(entries)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON form (list of entry dicts), used in session files."""
        return [
            {"value": e.value, "name": e.name, "color": list(e.color), "visible": e.visible,
             "opacity": e.opacity}
            for e in self
        ]

    @classmethod
    def from_list(cls, items: Iterable[dict[str, Any]]) -> LabelTable:
        """Inverse of :meth:`to_list`."""
        entries = []
        for item in items:
            c = [int(x) for x in item["color"]]
            entries.append(LabelEntry(int(item["value"]), str(item["name"]), (c[0], c[1], c[2]),
                                      bool(item.get("visible", True)),
                                      float(item.get("opacity", 1.0))))
        return cls(entries)


def read_colour_table(path: str | os.PathLike[str]) -> LabelTable:
    """Read a FreeSurfer LUT or ITK-SNAP label description file (format detected per file).

    Raises :class:`LabelTableError` naming the file and line of the first problem (or the
    file, for one over :data:`MAX_TABLE_BYTES` or holding binary data, e.g. an image).
    """
    try:
        size = Path(path).stat().st_size
        if size > MAX_TABLE_BYTES:
            raise LabelTableError(f"{path}: {size / 2**20:.0f} MiB is too large for a colour "
                                  f"table (at most {MAX_TABLE_BYTES // 2**20} MiB)")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LabelTableError(f"{path}: cannot read colour table ({exc.strerror})") from exc
    if b"\0" in raw:
        raise LabelTableError(f"{path}: not a colour table (binary data, not text)")
    text = raw.decode("utf-8", errors="replace")
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise LabelTableError(f"{path}: colour table has no entries")
    itksnap = any('"' in line for _, line in lines)
    entries = []
    for number, line in lines:
        try:
            entries.append(_parse_itksnap(line) if itksnap else _parse_freesurfer(line))
        except (ValueError, IndexError) as exc:
            fmt = "ITK-SNAP" if itksnap else "FreeSurfer LUT"
            raise LabelTableError(f"{path}, line {number}: not a {fmt} entry: {line!r}") from exc
    return LabelTable(entries)


def _parse_freesurfer(line: str) -> LabelEntry:
    parts = line.split()
    if len(parts) < 5:
        raise ValueError("too few fields")
    rgb = tuple(_byte(p) for p in parts[2:5])
    return LabelEntry(int(parts[0]), parts[1], (rgb[0], rgb[1], rgb[2]))


def _parse_itksnap(line: str) -> LabelEntry:
    parts = shlex.split(line)
    if len(parts) < 8:
        raise ValueError("too few fields")
    rgb = tuple(_byte(p) for p in parts[1:4])
    opacity = float(parts[4])
    if not 0 <= opacity <= 1:
        raise ValueError("alpha out of range")
    return LabelEntry(int(parts[0]), parts[7], (rgb[0], rgb[1], rgb[2]),
                      visible=bool(int(parts[5])), opacity=opacity)


def _byte(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 255:
        raise ValueError(f"colour component {value} out of 0-255")
    return value


def format_freesurfer_lut(table: LabelTable) -> str:
    """The table as FreeSurfer LUT text (names with spaces get underscores)."""
    rows = ["#No. Label Name:                            R   G   B   A"]
    for e in table:
        name = re.sub(r"\s+", "_", e.name) or f"label_{e.value}"
        # a space after the value always: FreeSurfer's 5-digit values (11101 ...) need it
        rows.append(f"{e.value:<4d} {name:<40s}{e.color[0]:>4d}{e.color[1]:>4d}"
                    f"{e.color[2]:>4d}   0")
    return "\n".join(rows) + "\n"


def format_itksnap(table: LabelTable) -> str:
    """The table as an ITK-SNAP label description file."""
    rows = [
        "################################################",
        "# ITK-SnAP Label Description File",
        ("# Columns = Index, Red, Green, Blue, Visibility alpha, Label visibility, "
         "Mesh visibility, Label"),
        "################################################",
    ]
    for e in table:
        name = e.name.replace('"', "'")
        rows.append(f"{e.value:>5d} {e.color[0]:>5d} {e.color[1]:>4d} {e.color[2]:>4d} "
                    f"{e.opacity:>8g} {int(e.visible):>2d} {int(e.visible):>2d}    \"{name}\"")
    return "\n".join(rows) + "\n"


#: Sidecar colour-table names looked for next to a label file ``<stem>.nii.gz``.
SIDECAR_SUFFIXES = ("_lut.txt", ".lut", ".ctbl", ".label", ".txt", "_labels.txt")


def find_sidecar_table(label_path: str | os.PathLike[str]) -> Path | None:
    """A colour table file stored next to a label file (``<stem>.lut``, ``<stem>.txt`` ...)."""
    path = Path(label_path)
    stem = path.name
    for ext in (".nii.gz", ".nii", ".mgz", ".mgh", ".dcm"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None
