"""A daemon thread that takes writes off the request path.

The request path only appends to a deque (no lock hand-off, no thread wake-up);
the thread drains it every ``interval`` seconds in arrival order, in batches.
``flush`` waits until everything written so far is handled; ``close`` drains and
stops. Used locally only: on Lambda a frozen process cannot flush, so writers there
are inline.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class BackgroundBatches(Generic[T]):
    def __init__(self, handle: Callable[[list[T]], None], *, name: str, batch_size: int, interval: float) -> None:
        self._handle = handle  # must not raise: it owns its own error reporting
        self._batch_size = batch_size
        self._interval = interval
        self._pending: collections.deque[T] = collections.deque()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        self._pending.append(item)

    def _drain(self) -> None:
        while self._pending:
            self._idle.clear()
            batch = []
            while self._pending and len(batch) < self._batch_size:
                batch.append(self._pending.popleft())
            self._handle(batch)
        self._idle.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._drain()
        self._drain()

    def flush(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (self._pending or not self._idle.is_set()) and time.monotonic() < deadline:
            time.sleep(self._interval / 5)

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=10)
