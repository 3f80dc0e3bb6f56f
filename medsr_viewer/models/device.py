"""Where models run: device choice, CPU thread count, and a CUDA tile size from free memory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import torch

#: Device preferences accepted by :func:`select_device` (and the CLI's ``--device``).
DEVICE_CHOICES = ("auto", "cpu", "cuda")

_threads_lock = threading.Lock()
_threads_configured: int | None = None


class DeviceError(RuntimeError):
    """The requested device is not available."""


def select_device(preference: str = "auto") -> torch.device:
    """The device to run on: CUDA when available (``auto``) or as requested.

    Raises
    ------
    DeviceError
        When ``cuda`` is requested but no CUDA device is usable, or the name is unknown.
    """
    if preference not in DEVICE_CHOICES:
        raise DeviceError(f"unknown device {preference!r}; expected one of {DEVICE_CHOICES}")
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "cuda":
        raise DeviceError("CUDA was requested but no CUDA device is available")
    return torch.device("cpu")


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads counted once)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        physical = core = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical = value.strip()
            elif key == "core id":
                core = value.strip()
                cores.add((physical, core))
    except OSError:
        pass
    count = len(cores) if cores else (os.cpu_count() or 1)
    return max(1, min(count, allowed))


def configure_cpu_threads() -> int:
    """Set torch's intra-op thread count to the physical core count, once per process.

    Hyper-threads and oversubscription slow convolutions down; calling this again is cheap
    and keeps the first setting. Returns the thread count in use.
    """
    global _threads_configured
    with _threads_lock:
        if _threads_configured is None:
            _threads_configured = physical_cores()
            torch.set_num_threads(_threads_configured)
        return _threads_configured


def cuda_tile_size(
    free_bytes: int,
    scale: int,
    out_channels: int,
    requested: int,
    bytes_per_output_pixel: int = 4 * 256,
    largest: int = 2048,
) -> int:
    """A tile side that should fit in ``free_bytes`` of GPU memory.

    Uses a deliberately generous estimate of activation memory per *output* pixel (about 256
    float32 feature values), keeps half the free memory in reserve, and never goes below the
    ``requested`` (card) tile size: a later out-of-memory error re-splits anyway. Returns a
    multiple of 32.
    """
    per_input_pixel = bytes_per_output_pixel * max(1, out_channels) * scale * scale
    fit = int((free_bytes / 2 / per_input_pixel) ** 0.5)
    size = max(requested, min(largest, fit))
    return max(32, size - size % 32)


def initial_tile_size(
    device: torch.device, card_tile: int, scale: int, out_channels: int, override: int | None
) -> int:
    """Tile size to start with: the override, else on CUDA from free memory, else the card's."""
    if override is not None:
        return override
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return cuda_tile_size(free, scale, out_channels, card_tile)
    return card_tile


#: Most whole slices one batched GPU call takes.
MAX_GPU_SLICE_BATCH = 16


def cuda_slice_batch(
    free_bytes: int,
    slice_pixels: int,
    scale: int,
    out_channels: int,
    bytes_per_output_pixel: int = 4 * 256,
    largest: int = MAX_GPU_SLICE_BATCH,
) -> int:
    """How many whole slices of ``slice_pixels`` input pixels one GPU call should take.

    The estimate of :func:`cuda_tile_size` (about 256 float32 feature values per output
    pixel, half the free memory kept in reserve), so a batch needs no more memory than the
    tile that function would pick; at least 1, at most ``largest``. An out-of-memory error
    still falls back to one slice per call.
    """
    per_slice = bytes_per_output_pixel * max(1, out_channels) * scale * scale * slice_pixels
    return max(1, min(largest, int(free_bytes / 2 // max(1, per_slice))))
