"""Size checks made before anything large is allocated.

A header can claim any size: ``NumberOfFrames=2147483647`` in a 39 KB DICOM file or 1024^3
voxels in a 65-byte ``.nii.gz``. Readers compare what a header claims with what the file can
hold (:func:`check_claimed_bytes`) and the volume they are about to allocate with the memory
limit (:func:`check_volume_bytes`), and refuse with a :class:`LoadError` naming the file.

The memory limit is ``$MEDSR_MAX_VOLUME_BYTES`` (bytes; ``K``, ``M``, ``G``, ``T`` suffixes
in powers of 1024 are accepted), by default the smaller of 8 GiB and half the machine's RAM.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from medsr_viewer.core.io.errors import LoadError

#: Environment variable overriding the largest volume a reader allocates (bytes).
MAX_VOLUME_BYTES_ENV = "MEDSR_MAX_VOLUME_BYTES"
#: Upper bound of the default memory limit.
DEFAULT_MAX_VOLUME_BYTES = 8 << 30
#: Largest ratio of decompressed to compressed size believed (deflate's limit is 1032:1).
MAX_COMPRESSION_RATIO = 1100
#: Bytes added to every compressed-size bound (headers, gzip trailer, small files).
COMPRESSION_SLACK_BYTES = 1 << 16

_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*$",
                           re.IGNORECASE)


def physical_memory_bytes() -> int | None:
    """Installed RAM in bytes, ``None`` where the platform does not say."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    if pages <= 0 or size <= 0:
        return None
    return int(pages) * int(size)


def parse_size(text: str) -> int | None:
    """``"8G"``, ``"512MiB"``, ``"1e9"`` -> bytes; ``None`` when not a size."""
    match = _SIZE_PATTERN.match(text)
    if match is None:
        return None
    value = float(match.group(1)) * _SUFFIXES[match.group(2).upper()]
    return int(value) if value >= 1 else None


def max_volume_bytes() -> int:
    """The memory limit for one volume: ``$MEDSR_MAX_VOLUME_BYTES`` or the default.

    The default is the smaller of :data:`DEFAULT_MAX_VOLUME_BYTES` and half the RAM. An
    unparsable environment value is ignored (the default applies).
    """
    configured = os.environ.get(MAX_VOLUME_BYTES_ENV, "").strip()
    if configured:
        parsed = parse_size(configured)
        if parsed is not None:
            return parsed
    ram = physical_memory_bytes()
    return DEFAULT_MAX_VOLUME_BYTES if ram is None else min(DEFAULT_MAX_VOLUME_BYTES, ram // 2)


def format_bytes(count: float) -> str:
    """Human-readable byte count (``"4.0 GiB"``)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - loop always returns


def shape_bytes(shape: Sequence[int], itemsize: int) -> int:
    """Bytes of an array of ``shape`` (Python integers: no overflow)."""
    total = int(itemsize)
    for n in shape:
        total *= max(0, int(n))
    return total


def check_volume_bytes(
    path: str | os.PathLike[str], shape: Sequence[int], itemsize: int = 4, what: str = "volume"
) -> None:
    """Refuse to allocate an array of ``shape`` larger than :func:`max_volume_bytes`.

    Raises
    ------
    LoadError
        Naming ``path``, the size needed, the limit and :data:`MAX_VOLUME_BYTES_ENV`.
    """
    needed = shape_bytes(shape, itemsize)
    limit = max_volume_bytes()
    if needed > limit:
        dims = "x".join(str(int(n)) for n in shape)
        raise LoadError(
            path,
            f"{what} of {dims} voxels needs {format_bytes(needed)}, more than the memory limit "
            f"of {format_bytes(limit)} (set {MAX_VOLUME_BYTES_ENV} to allow more)",
        )


def check_claimed_bytes(
    path: str | os.PathLike[str], claimed: int, available: int, *, compressed: bool, what: str
) -> None:
    """Refuse a header that claims more data than ``available`` file bytes can hold.

    ``compressed`` allows :data:`MAX_COMPRESSION_RATIO` times ``available`` (plus
    :data:`COMPRESSION_SLACK_BYTES`) before refusing.

    Raises
    ------
    LoadError
        The claim is impossible for the file size; names ``path`` and both sizes.
    """
    if compressed:
        bound = max(0, available) * MAX_COMPRESSION_RATIO + COMPRESSION_SLACK_BYTES
        if claimed > bound:
            raise LoadError(
                path,
                f"{what} claims {format_bytes(claimed)} of image data, impossible for "
                f"{format_bytes(available)} of compressed data (more than "
                f"{MAX_COMPRESSION_RATIO}:1); corrupt header or decompression bomb",
            )
    elif claimed > available:
        raise LoadError(
            path,
            f"{what} claims {format_bytes(claimed)} of image data but the file holds "
            f"{format_bytes(available)} (truncated file or corrupt header)",
        )


def file_size(path: Path) -> int:
    """Size of ``path`` in bytes (0 when it cannot be read)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
