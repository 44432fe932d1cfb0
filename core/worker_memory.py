"""Values one worker process keeps for a few seconds: data every request reads and that
changes rarely (platform registrations, the tool's key, a course item's catalogue content).

A change made in this process forgets them at once (the owner calls :meth:`WorkerMemory.forget`);
one made by another process (a second web worker, the CLI) reaches this one within the memory's
lifetime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Final, TypeVar

T = TypeVar("T")

#: How long a worker keeps what it read.
WORKER_MEMORY_SECONDS: Final = 5.0
_MAX_ENTRIES: Final = 1000


class WorkerMemory:
    """Values kept in this process for ``seconds`` (at most ``max_entries``; when full, it
    starts over rather than tracking what is oldest)."""

    def __init__(
        self, seconds: float = WORKER_MEMORY_SECONDS, max_entries: int = _MAX_ENTRIES
    ) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, object]] = {}

    def get(self, key: Hashable) -> object | None:
        """The value kept under ``key``, or None when there is none or it is too old."""
        with self._lock:
            found = self._values.get(key)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def put(self, key: Hashable, value: object) -> None:
        """Keep ``value`` under ``key`` for this memory's lifetime."""
        with self._lock:
            if len(self._values) >= self._max_entries:
                self._values.clear()
            self._values[key] = (time.monotonic() + self._seconds, value)

    def remembered(self, key: Hashable, kind: type[T], read: Callable[[], T]) -> T:
        """The value under ``key`` if it is a ``kind`` kept less than the lifetime ago, else
        ``read()`` (kept; what it raises is not)."""
        found = self.get(key)
        if isinstance(found, kind):
            return found
        value = read()
        self.put(key, value)
        return value

    def forget(self) -> None:
        """Forget everything (this process changed something)."""
        with self._lock:
            self._values.clear()


__all__ = ["WORKER_MEMORY_SECONDS", "WorkerMemory"]
