"""Driving the project's progress generators: every long job yields progress and *returns* its
result (``return value`` inside a generator), so callers can report and cancel; this runs one
to its end and hands back that result."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Y = TypeVar("Y")
R = TypeVar("R")


def run_to_end(gen: Generator[Y, None, R], each: Callable[[Y], object] | None = None) -> R:
    """Exhaust ``gen``, calling ``each`` on every item it yields; return its return value."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if each is not None:
            each(item)
