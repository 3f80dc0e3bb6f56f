"""What the CPU offers the execution layer: vector ISA, native bf16, last-level cache size.

Read once per process (:func:`detect_cpu`). torch's own probes (``torch.cpu._is_*``, backed
by the cpuinfo library, so they work on every platform) come first; ``/proc/cpuinfo`` flags
and ``/sys`` cache sizes are used where present (Linux). Nothing here changes torch's state.

A CPU has *native* bf16 when it has AVX512_BF16 or AMX-BF16: oneDNN then runs bf16
convolutions about twice as fast as fp32. Without them (AVX2-only CPUs) oneDNN emulates bf16
with conversions and a bf16 model runs several times *slower* than fp32, so the execution
layer never picks bf16 there.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

#: ``/proc/cpuinfo`` flags that give oneDNN native bf16 arithmetic.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
#: Flags the execution layer reports (the rest of ``/proc/cpuinfo`` is ignored).
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "amx_tile")
_CPUINFO = Path("/proc/cpuinfo")
_CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU facts a plan depends on.

    Parameters
    ----------
    capability
        ``torch.backends.cpu.get_cpu_capability()`` (``"AVX2"``, ``"AVX512"``, ...).
    flags
        The :data:`REPORTED_FLAGS` this CPU has.
    l3_bytes
        Size of the last-level (L3) cache, ``None`` when unknown.
    """

    capability: str
    flags: frozenset[str] = field(default_factory=frozenset)
    l3_bytes: int | None = None

    @property
    def native_bf16(self) -> bool:
        """Whether bf16 convolutions run natively (AVX512_BF16 or AMX-BF16)."""
        return bool(BF16_FLAGS & self.flags)

    def describe(self) -> str:
        """One line: ISA, flags, L3 size."""
        flags = ", ".join(f for f in REPORTED_FLAGS if f in self.flags) or "none"
        l3 = f"{self.l3_bytes / 2**20:.0f} MiB L3" if self.l3_bytes else "L3 size unknown"
        return f"CPU capability {self.capability} (flags: {flags}; {l3})"


def parse_cpuinfo_flags(text: str) -> frozenset[str]:
    """The :data:`REPORTED_FLAGS` named on the first ``flags`` line of ``/proc/cpuinfo`` text."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split()) & frozenset(REPORTED_FLAGS)
    return frozenset()


def parse_cache_size(text: str) -> int | None:
    """Bytes of a ``/sys`` cache ``size`` entry (``"32768K"``, ``"1M"``), ``None`` if unreadable."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", text)
    if match is None:
        return None
    unit = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[match.group(2)]
    return int(match.group(1)) * unit


def _torch_flags() -> frozenset[str]:
    """Flags from torch's cpuinfo probes (private but stable since torch 2.3; skipped if gone)."""
    probes = {
        "avx2": "_is_avx2_supported",
        "avx512f": "_is_avx512_supported",
        "avx512_bf16": "_is_avx512_bf16_supported",
        "avx512_vnni": "_is_vnni_supported",
        "amx_tile": "_is_amx_tile_supported",
    }
    found = set()
    for flag, name in probes.items():
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                found.add(flag)
        except RuntimeError:
            continue
    if "amx_tile" in found and "avx512_bf16" in found:
        found.add("amx_bf16")  # every AMX CPU so far (Sapphire Rapids on) has AMX-BF16
    return frozenset(found)


def _l3_bytes() -> int | None:
    """The level-3 cache size of CPU 0 from ``/sys`` (Linux), else ``None``."""
    try:
        for index in sorted(_CACHE_DIR.glob("index*")):
            if (index / "level").read_text().strip() == "3":
                return parse_cache_size((index / "size").read_text())
    except OSError:
        return None
    return None


@functools.lru_cache(maxsize=1)
def detect_cpu() -> CpuFeatures:
    """This machine's :class:`CpuFeatures` (read once per process)."""
    flags = set(_torch_flags())
    try:
        flags |= parse_cpuinfo_flags(_CPUINFO.read_text())
    except OSError:
        pass
    return CpuFeatures(torch.backends.cpu.get_cpu_capability(), frozenset(flags), _l3_bytes())
