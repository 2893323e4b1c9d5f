"""Writing request-log entries without putting the store on the hot path.

Locally a background thread batches entries into the store; on Lambda the
entries are written before the invocation ends (a frozen process cannot flush).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from llm_mesh.gateway.background import BackgroundBatches
from llm_mesh.gateway.journal import Journal, dataclass_codec
from llm_mesh.gateway.metrics_observer import note_dropped_write
from llm_mesh.stores.interfaces import RequestLogEntry, RequestLogStore

logger = logging.getLogger("llm_mesh.request_log")


class RequestLogWriter(Protocol):
    deferred: bool  # True when write() only queues (the store write happens on another thread)

    def write(self, entry: RequestLogEntry) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class InlineLogWriter:
    """Writes immediately (Lambda, tests)."""

    deferred = False

    def __init__(self, store: RequestLogStore) -> None:
        self._store = store

    def write(self, entry: RequestLogEntry) -> None:
        try:
            self._store.append(entry)
        except Exception:  # logging must never fail the request it describes
            note_dropped_write("request_log")
            logger.exception("request log write failed for %s", entry.request_id)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class BackgroundLogWriter:
    """Batches entries into the store on a background thread (see gateway.background).
    With ``journal_dir`` every entry is journaled first, so a killed process loses none."""

    deferred = True  # write() only journals and queues

    def __init__(self, store: RequestLogStore, batch_size: int = 500, interval: float = 0.05,
                 journal_dir: str | Path | None = None) -> None:
        self._store = store
        journal = Journal(journal_dir, "request-log", dataclass_codec(RequestLogEntry)) if journal_dir else None
        self._batches: BackgroundBatches[RequestLogEntry] = BackgroundBatches(
            self._append, name="mesh-request-log", batch_size=batch_size, interval=interval, journal=journal
        )

    def _append(self, batch: list[RequestLogEntry]) -> None:
        try:
            self._store.append_many(batch)
        except Exception:
            note_dropped_write("request_log", len(batch))
            logger.exception("request log batch write failed (%d entries)", len(batch))

    def write(self, entry: RequestLogEntry) -> None:
        self._batches.put(entry)

    def flush(self) -> None:
        self._batches.flush()

    def close(self) -> None:
        self._batches.close()
        self._batches.close_journal()
