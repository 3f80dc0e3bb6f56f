"""A thread-safe least-recently-used cache bounded by the bytes of the arrays it holds.

Model outputs for a slice are big (a 512x512 slice at x4 is 16 MiB as float32), so the viewer
bounds its cache by memory, not by entry count: scrolling back to a slice seen recently is
instant, and old slices are dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np


class ByteLRUCache:
    """Maps hashable keys to NumPy arrays, evicting the least recently used past ``max_bytes``.

    Parameters
    ----------
    max_bytes
        Upper bound on the summed ``nbytes`` of the stored arrays. An array larger than the
        bound on its own is not stored.
    """

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> np.ndarray | None:
        """The array for ``key`` (marking it recently used), or ``None``."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: np.ndarray) -> bool:
        """Store ``value`` (read-only from now on); returns whether it was kept."""
        size = int(value.nbytes)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= int(old.nbytes)
            if size > self.max_bytes:
                return False
            value.flags.writeable = False
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _key, evicted = self._items.popitem(last=False)
                self._bytes -= int(evicted.nbytes)
            return True

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
