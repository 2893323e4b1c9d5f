"""Writing request-log entries without putting the store on the hot path.

Locally a background thread batches entries into the store; on Lambda the
entries are written before the invocation ends (a frozen process cannot flush).
"""

from __future__ import annotations

import logging
import queue
import threading
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
    """Batches entries on a daemon thread; ``flush`` waits until all are stored."""

    def __init__(self, store: RequestLogStore, batch_size: int = 200, interval: float = 0.05) -> None:
        self._store = store
        self._queue: queue.Queue[RequestLogEntry | None] = queue.Queue()
        self._batch_size = batch_size
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="mesh-request-log", daemon=True)
        self._thread.start()

    def write(self, entry: RequestLogEntry) -> None:
        self._queue.put_nowait(entry)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[RequestLogEntry] = []
            item = self._queue.get()
            if item is None:
                stop = True
            else:
                batch.append(item)
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=self._interval if batch else 0)
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            if batch:
                try:
                    self._store.append_many(batch)
                except Exception:
                    logger.exception("request log batch write failed (%d entries)", len(batch))
            for _ in range(len(batch) + (1 if stop else 0)):
                self._queue.task_done()

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
