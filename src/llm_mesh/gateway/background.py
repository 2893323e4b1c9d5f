"""A daemon thread that takes writes off the request path.

The request path only appends to a deque (no lock hand-off, no thread wake-up);
the thread drains it every ``interval`` seconds in arrival order, in batches.
``flush`` waits until everything written so far is handled; ``close`` drains and
stops. Used locally only: on Lambda a frozen process cannot flush, so writers there
are inline. With a ``journal`` (gateway.journal) every item is journaled before it is
queued and each drained segment is retired only once its items were handled, so a
killed process loses nothing; ``handle`` then returns the items it could not write
yet (they are journaled again), and items journaled by a dead process are queued first.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from llm_mesh.gateway.journal import Journal

T = TypeVar("T")


class BackgroundBatches(Generic[T]):
    def __init__(self, handle: Callable[[list[T]], Any], *, name: str, batch_size: int, interval: float,
                 journal: Journal[T] | None = None,
                 keep_recovered: Callable[[list[T]], list[T]] | None = None) -> None:
        self._handle = handle  # must not raise: it owns its own error reporting
        self._batch_size = batch_size
        self._interval = interval
        self._journal = journal
        self._pending: collections.deque[T] = collections.deque()
        if journal is not None:
            recovered = journal.recover()
            self._pending.extend(keep_recovered(recovered) if keep_recovered and recovered else recovered)
        self._stop = threading.Event()
        self._wake = threading.Event()  # flush and close: drain now rather than at the next tick
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        if self._journal is None:
            self._pending.append(item)
        else:
            self._journal.append(item, then=lambda: self._pending.append(item))

    def _drain(self) -> None:
        if not self._pending:
            return
        self._idle.clear()
        retiring = self._journal.rotate() if self._journal is not None else None
        unwritten: list[T] = []
        while self._pending:
            batch = []
            while self._pending and len(batch) < self._batch_size:
                batch.append(self._pending.popleft())
            unwritten = list(self._handle(batch) or ())  # the handler keeps and retries these itself
        if self._journal is not None and retiring is not None:
            self._journal_again(unwritten)
            self._journal.retire(retiring)
        self._idle.set()

    def _journal_again(self, items: Iterable[T]) -> None:
        for item in items:
            self._journal.append(item)  # type: ignore[union-attr]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self._drain()
        self._drain()

    def busy(self) -> bool:
        """Items are queued or being handled."""
        return bool(self._pending) or not self._idle.is_set()

    def flush(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self.busy() and time.monotonic() < deadline:
            time.sleep(min(self._interval / 5, 0.001))

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._drain()  # whatever was queued while the thread made its last drain

    def close_journal(self) -> None:
        """After ``close``, once the owner has put away whatever it still held (the journal's
        segments go: a clean stop leaves nothing to recover)."""
        if self._journal is not None and not self._thread.is_alive() and not self._pending:
            self._journal.close()
