"""Small lists read on every request, kept per process for a few seconds.

The hosted domains and the blocked domains are asked about by every request and
every fetch, and change rarely: each process keeps its copy for a few seconds and
drops it at once when it changes them itself; other processes see a change within
those seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Expiring(Generic[T]):
    """The value ``load()`` returns, loaded again once it is ``seconds`` old."""

    def __init__(self, load: Callable[[], T], seconds: float) -> None:
        self._load = load
        self.seconds = seconds
        self._loaded: tuple[float, T] | None = None

    def get(self) -> T:
        """The value, loaded now if it never was or has expired."""
        loaded = self._loaded
        if loaded is None or time.monotonic() - loaded[0] > self.seconds:
            loaded = self._loaded = (time.monotonic(), self._load())
        return loaded[1]

    def forget(self) -> None:
        """Drop the value: the next :meth:`get` loads it again."""
        self._loaded = None
