"""One DICOM file's header as rows for the tag browser, patient-identifying values flagged.

:func:`read_tags` parses the header (pixel data is never read: ``stop_before_pixels``, and
values over :data:`INLINE_BYTES` are summarised by their size without being read; the
last file parsed is kept while unchanged, for browsing the frames of a multi-frame file) into
:class:`TagRow` rows: the file meta group first, then the data set in tag order, sequence
items nested below their sequence (``depth``), bounded in nesting (:data:`MAX_NESTING`),
items per sequence (:data:`MAX_ITEMS`) and rows in all (:data:`MAX_ROWS`). Binary values
read ``"<1024 bytes>"``, long values are cut at :data:`MAX_VALUE_CHARS` characters.

Each row says whether it identifies the patient (``phi``, the rule of
:mod:`~medsr_viewer.core.io.dicom_phi`); :func:`value_shown` masks such values
(:data:`MASK`) until the user reveals them, and :func:`visible_rows` filters without ever
matching a masked value. Nothing here logs a value.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.datadict import dictionary_description, dictionary_keyword, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from medsr_viewer.core.io.dicom_phi import is_phi
from medsr_viewer.core.io.errors import LoadError, describe_exception, is_fatal
from medsr_viewer.core.io.limits import file_size

#: What a patient-identifying value reads until revealed.
MASK = "••••••"
#: Values are cut to this many characters ("…" marks the cut).
MAX_VALUE_CHARS = 160
#: Values of a multi-valued attribute shown (the rest: "…").
MAX_VALUES = 64
#: Values larger than this are not read from the file: their size is shown.
INLINE_BYTES = 64 * 1024
#: Sequences nested deeper than this are not listed.
MAX_NESTING = 6
#: Items listed per sequence (a note counts the others).
MAX_ITEMS = 50
#: Rows listed per file (a note says when the header holds more).
MAX_ROWS = 10_000
#: Tag text of sequence items.
ITEM_TAG = "(FFFE,E000)"
#: Sequence of an enhanced multi-frame file holding one item per frame.
PER_FRAME = "PerFrameFunctionalGroupsSequence"
#: Value representations of byte values (shown by their size).
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
_UNDEFINED_LENGTH = 0xFFFFFFFF
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ROWS_TAG, _SOP_CLASS_TAG, _MEDIA_CLASS_TAG = 0x00280010, 0x00080016, 0x00020002


@dataclass(frozen=True)
class TagRow:
    """One attribute (or sequence item, or note) of a DICOM header.

    Parameters
    ----------
    tag
        ``"(0010,0010)"``; ``"(FFFE,E000)"`` for a sequence item, ``""`` for a note.
    keyword
        The DICOM keyword (``"PatientName"``); ``""`` for private and unknown attributes.
    name
        The attribute's name (``"Patient's Name"``, ``"[CSA Image Header Info]"``,
        ``"Private tag data"``), ``"Item 2"`` for an item, ``"…"`` for a note.
    vr
        Value representation (``"PN"``; ``""`` for items and notes).
    value
        The value as text (cut, binary summarised); for sequences ``"<3 items>"``.
    depth
        Nesting: 0 at the top, items of a top-level sequence 1, their attributes 2 ...
    phi
        Whether the row identifies the patient (masked until revealed).
    """

    tag: str
    keyword: str
    name: str
    vr: str
    value: str
    depth: int = 0
    phi: bool = False

    @property
    def label(self) -> str:
        """What the Name column shows: the keyword, else the name."""
        return self.keyword or self.name

    @property
    def structural(self) -> bool:
        """A sequence, an item or a note: its value says how much, never what (not masked)."""
        return self.vr == "SQ" or self.tag in ("", ITEM_TAG)


# ---------------------------------------------------------------- masking and filtering


def value_shown(row: TagRow, reveal: bool) -> str:
    """The value as the browser shows it: :data:`MASK` for a patient-identifying value
    unless ``reveal`` (empty values, sequences and items are shown as they are)."""
    if row.phi and row.value and not row.structural and not reveal:
        return MASK
    return row.value


def masked(rows: list[TagRow]) -> list[TagRow]:
    """``rows`` with every patient-identifying value replaced by :data:`MASK`."""
    return [replace(row, value=value_shown(row, False)) for row in rows]


def row_matches(row: TagRow, text: str, reveal: bool) -> bool:
    """Whether ``text`` (case-insensitive) is in the row's tag (``"(0010,0010)"`` or
    ``"00100010"``), keyword, name or shown value (a masked value matches only
    :data:`MASK`, never the hidden text). Empty ``text`` matches every row."""
    needle = text.strip().casefold()
    if not needle:
        return True
    digits = row.tag.strip("()").replace(",", "")
    fields = (row.tag, digits, row.keyword, row.name, value_shown(row, reveal))
    return any(needle in field.casefold() for field in fields)


def visible_rows(rows: list[TagRow], text: str, reveal: bool) -> list[bool]:
    """Per row, whether the filter ``text`` keeps it: the rows that match, the sequences
    and items they are nested in, and everything nested in a matching row."""
    hits = [row_matches(row, text, reveal) for row in rows]
    shown = list(hits)
    ancestors: list[int] = []
    for index, row in enumerate(rows):
        del ancestors[row.depth:]
        if hits[index]:
            for parent in ancestors:
                shown[parent] = True
        elif any(hits[parent] for parent in ancestors):
            shown[index] = True
        ancestors.append(index)
    return shown


# ---------------------------------------------------------------- reading


def read_tags(path: str | os.PathLike[str], frame: int | None = None) -> list[TagRow]:
    """The header of one DICOM file as rows (file meta first, pixel data never read).

    Parameters
    ----------
    path
        A DICOM file (with or without the ``DICM`` preamble).
    frame
        For an enhanced multi-frame file, the frame (0-based) whose item of the
        per-frame functional groups is listed (the others are counted in a note);
        ``None`` lists the first :data:`MAX_ITEMS` items.

    Returns
    -------
    list of TagRow
        In file order, items below their sequence.

    Raises
    ------
    LoadError
        Naming the file: not found, empty, not DICOM, truncated or corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise LoadError(path, "file not found")
    if not path.is_file():
        raise LoadError(path, "not a file")
    size = file_size(path)
    if size == 0:
        raise LoadError(path, "empty file")
    try:
        dataset, stopped = _parsed(str(path), path.stat().st_mtime_ns, size)
    except LoadError:
        raise
    except PermissionError as exc:
        raise LoadError(path, "permission denied") from exc
    except MemoryError as exc:
        raise LoadError(path, "corrupt DICOM header (needs more memory than available)") from exc
    except BaseException as exc:  # pydicom raises many types for corrupt input
        if is_fatal(exc):
            raise
        raise LoadError(path, f"unreadable or corrupt DICOM header ({describe_exception(exc)})"
                        ) from exc
    _check_complete(path, dataset, stopped, size)
    rows = _Rows(frame)
    rows.dataset(dataset.file_meta, 0, False, 0)
    rows.dataset(dataset, 0, False, 0)
    return rows.rows


@lru_cache(maxsize=1)
def _parsed(path: str, mtime_ns: int, size: int) -> tuple[Dataset, int]:
    """The last file parsed, kept while it is unchanged (the frames of one multi-frame
    file are browsed without parsing it again)."""
    del mtime_ns, size  # part of the cache key only
    with open(path, "rb") as stream:
        return _parse(stream, Path(path))


def _parse(stream: BinaryIO, path: Path) -> tuple[Dataset, int]:
    """The data set (pixel data not read, large values deferred) and where parsing ended."""
    try:
        dataset = pydicom.dcmread(stream, stop_before_pixels=True, defer_size=INLINE_BYTES)
    except InvalidDicomError:  # no "DICM" preamble: maybe a raw data set
        stream.seek(0)
        try:
            dataset = pydicom.dcmread(stream, stop_before_pixels=True, defer_size=INLINE_BYTES,
                                      force=True)
        except BaseException as exc:
            if is_fatal(exc):
                raise
            raise LoadError(path, "not a DICOM file") from exc
        if _SOP_CLASS_TAG not in dataset:
            raise LoadError(path, "not a DICOM file (no DICOM preamble and no SOP Class UID)")
    return dataset, stream.tell()


def _check_complete(path: Path, dataset: Dataset, stopped: int, size: int) -> None:
    """Refuse a header cut short: its last value runs past the end of the file, or the
    file of an image (Rows given, or an image storage SOP class) ends before its pixels."""
    tags = list(dataset.keys())
    if not tags:
        raise LoadError(path, "truncated or empty DICOM file: no data set after the file meta "
                        "information")
    last = dataset.get_item(tags[-1], keep_deferred=True)
    if isinstance(last, RawDataElement) and last.length != _UNDEFINED_LENGTH and (
            last.value_tell + last.length > size):
        raise LoadError(path, f"truncated file: it ends inside {_tag_text(Tag(tags[-1]))} "
                        f"({size} bytes)")
    if stopped >= size and (_ROWS_TAG in dataset or _is_image_class(dataset)):
        raise LoadError(path, f"truncated file: it ends before its pixel data ({size} bytes)")


def _is_image_class(dataset: Dataset) -> bool:
    """Whether the data set's SOP class stores images (which must have pixel data)."""
    holder: Dataset = dataset
    if _SOP_CLASS_TAG not in dataset:
        holder = dataset.file_meta  # MediaStorageSOPClassUID
        if _MEDIA_CLASS_TAG not in holder:
            return False
    try:
        tag = _SOP_CLASS_TAG if holder is dataset else _MEDIA_CLASS_TAG
        uid = UID(str(holder[tag].value).strip())
    except BaseException as exc:
        if is_fatal(exc):
            raise
        return False
    return "Image Storage" in uid.name


class _Rows:
    """Collects the rows of a data set, within the limits."""

    def __init__(self, frame: int | None) -> None:
        self.rows: list[TagRow] = []
        self.frame = frame
        self.full = False

    def add(self, row: TagRow) -> bool:
        if self.full:
            return False
        if len(self.rows) >= MAX_ROWS:
            self.full = True
            self.rows.append(TagRow("", "", "…", "", f"more than {MAX_ROWS} rows: the rest "
                                    "is not listed"))
            return False
        self.rows.append(row)
        return True

    def dataset(self, dataset: Dataset, depth: int, inherited: bool, nesting: int) -> None:
        for tag in list(dataset.keys()):
            if self.full:
                return
            self.element(dataset, Tag(tag), depth, inherited, nesting)

    def element(self, dataset: Dataset, tag: BaseTag, depth: int, inherited: bool,
                nesting: int) -> None:
        raw = dataset.get_item(tag, keep_deferred=True)
        text = _tag_text(tag)
        if isinstance(raw, RawDataElement) and raw.value is None and raw.length not in (
                0, _UNDEFINED_LENGTH):  # deferred: too large to read
            keyword, name = _dictionary_names(tag)
            vr = str(raw.VR or _dictionary_vr(tag))
            phi = inherited or is_phi(tag.group, keyword, vr)
            self.add(TagRow(text, keyword, name, vr, f"<{raw.length} bytes>", depth, phi))
            return
        try:
            element = dataset[tag]
        except BaseException as exc:
            if is_fatal(exc):
                raise
            keyword, name = _dictionary_names(tag)
            vr = str(getattr(raw, "VR", "") or _dictionary_vr(tag))
            phi = inherited or is_phi(tag.group, keyword, vr)
            self.add(TagRow(text, keyword, name, vr, f"<unreadable value: {type(exc).__name__}>",
                            depth, phi))
            return
        keyword, name = _names(element)
        vr = str(element.VR or "")
        phi = inherited or is_phi(tag.group, keyword, vr)
        if vr != "SQ":
            self.add(TagRow(text, keyword, name, vr, _value_text(element), depth, phi))
            return
        items = list(element.value or [])
        count = len(items)
        if self.add(TagRow(text, keyword, name, vr, f"<{count} item{'' if count == 1 else 's'}>",
                           depth, phi)):
            self.items(keyword, items, depth + 1, phi, nesting + 1)

    def items(self, keyword: str, items: list[Dataset], depth: int, phi: bool,
              nesting: int) -> None:
        count = len(items)
        if not count:
            return
        if nesting > MAX_NESTING:
            self.add(TagRow("", "", "…", "", f"nested deeper than {MAX_NESTING} sequences: "
                            "not listed", depth, phi))
            return
        frame = self.frame
        if keyword == PER_FRAME and frame is not None and 0 <= frame < count:
            chosen = [(frame, f"frame {frame + 1} of {count}, the frame shown")]
            left = f"the items of the {count - 1} other frames are not listed"
        else:
            chosen = [(i, f"{i + 1} of {count}") for i in range(min(count, MAX_ITEMS))]
            left = f"{count - MAX_ITEMS} more items are not listed"
        for index, where in chosen:
            if not self.add(TagRow(ITEM_TAG, "", f"Item {index + 1}", "", where, depth, phi)):
                return
            self.dataset(items[index], depth + 1, phi, nesting)
        if len(chosen) < count:
            self.add(TagRow("", "", "…", "", left, depth, phi))


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _dictionary_names(tag: BaseTag) -> tuple[str, str]:
    """Keyword and name of a tag from the dictionary (private: ``("", "Private tag")``)."""
    if tag.is_private:
        return "", "Private Creator" if tag.is_private_creator else "Private tag data"
    try:
        return dictionary_keyword(tag), dictionary_description(tag)
    except KeyError:
        return "", "Unknown attribute"


def _dictionary_vr(tag: BaseTag) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def _names(element: DataElement) -> tuple[str, str]:
    """Keyword and name of a parsed element (private names from pydicom's dictionary)."""
    if element.tag.is_private:
        return "", str(element.name or "Private tag data")
    return str(element.keyword or ""), str(element.name or "Unknown attribute")


def _value_text(element: DataElement) -> str:
    """The value as one line of text: binary summarised, long text and lists cut."""
    value: Any = element.value
    vr = str(element.VR or "")
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)) or any(
            part in BINARY_VRS for part in vr.split(" or ")):
        data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else b""
        if vr == "UN" and data and len(data) <= MAX_VALUE_CHARS and _printable(data):
            return _clean(data.decode("ascii"))
        length = len(data) if data else int(getattr(element, "length", 0) or 0)
        return f"<{length} bytes>"
    if isinstance(value, (MultiValue, list, tuple)):
        parts = [_single(v, vr) for v in list(value)[:MAX_VALUES]]
        if len(value) > MAX_VALUES:
            parts.append("…")
        return _clean("\\".join(parts))
    return _clean(_single(value, vr))


def _single(value: Any, vr: str) -> str:
    text = str(value)
    if vr == "UI" and text:
        name = UID(text).name
        if name and name != text:
            return f"{text} ({name})"
    return text


def _printable(data: bytes) -> bool:
    stripped = data.rstrip(b"\x00 ")
    return bool(stripped) and all(32 <= b < 127 for b in stripped)


def _clean(text: str) -> str:
    """One line (control characters and runs of spaces become one space), cut to length."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) > MAX_VALUE_CHARS:
        return line[: MAX_VALUE_CHARS - 1] + "…"
    return line
