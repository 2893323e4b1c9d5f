"""Writing request-log entries without putting the store on the hot path.

Locally a background thread batches entries into the store; on Lambda the
entries are written before the invocation ends (a frozen process cannot flush).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Protocol

from llm_mesh.stores.interfaces import RequestLogEntry, RequestLogStore

logger = logging.getLogger("llm_mesh.request_log")


class RequestLogWriter(Protocol):
    def write(self, entry: RequestLogEntry) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class InlineLogWriter:
    """Writes immediately (Lambda, tests)."""

    def __init__(self, store: RequestLogStore) -> None:
        self._store = store

    def write(self, entry: RequestLogEntry) -> None:
        try:
            self._store.append(entry)
        except Exception:  # logging must never fail the request it describes
            logger.exception("request log write failed for %s", entry.request_id)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class BackgroundLogWriter:
    """Batches entries on a daemon thread; ``flush`` waits until all are stored.

    The request path only appends to a deque (no lock hand-off, no thread wake-up);
    the writer drains it every ``interval`` seconds.
    """

    def __init__(self, store: RequestLogStore, batch_size: int = 500, interval: float = 0.05) -> None:
        self._store = store
        self._pending: collections.deque[RequestLogEntry] = collections.deque()
        self._batch_size = batch_size
        self._interval = interval
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="mesh-request-log", daemon=True)
        self._thread.start()

    def write(self, entry: RequestLogEntry) -> None:
        self._pending.append(entry)

    def _drain(self) -> None:
        while self._pending:
            self._idle.clear()
            batch = []
            while self._pending and len(batch) < self._batch_size:
                batch.append(self._pending.popleft())
            try:
                self._store.append_many(batch)
            except Exception:
                logger.exception("request log batch write failed (%d entries)", len(batch))
        self._idle.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._drain()
        self._drain()

    def flush(self) -> None:
        deadline = time.monotonic() + 10
        while (self._pending or not self._idle.is_set()) and time.monotonic() < deadline:
            time.sleep(self._interval / 5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
