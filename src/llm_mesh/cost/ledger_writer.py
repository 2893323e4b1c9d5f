"""The cost ledger written behind the request path (the local home).

``record`` journals the record (``gateway.journal``: one ``os.write``, in the kernel once
the call returns, so a killed process loses none; the next start replays it) and queues
it; a background thread writes the queue to the store in arrival order. A SQLite write
transaction on the request path cost ~0.1 ms, and more whenever it queued behind another
writer. Reads (``records``, ``aggregates``) first wait until everything recorded so far is
in the store, so an in-process reader (``GET /v1/mesh/costs``, the console, tests) sees
every answered request. A write that fails is kept, journaled again and retried with the
next batch, read or close; what is still unwritten at close stays journaled for the next start.

The store's ``record`` is idempotent by request id, so a replayed record never counts twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from llm_mesh.gateway.background import BackgroundBatches
from llm_mesh.gateway.journal import Journal, dataclass_codec
from llm_mesh.stores.interfaces import CostAggregate, CostRecord, LedgerStore

logger = logging.getLogger("llm_mesh.cost.ledger")


class BackgroundLedger:
    """A ``LedgerStore`` whose writes a background thread makes (see gateway.background)."""

    def __init__(self, store: LedgerStore, journal_dir: str | Path | None = None, interval: float = 0.05,
                 batch_size: int = 500) -> None:
        self.store = store
        self.closed = False
        self._kept: list[CostRecord] = []  # failed writes, retried first
        self._lock = threading.Lock()
        journal = Journal(journal_dir, "ledger", dataclass_codec(CostRecord)) if journal_dir else None
        self._batches: BackgroundBatches[CostRecord] = BackgroundBatches(
            self._write, name="mesh-ledger", batch_size=batch_size, interval=interval, journal=journal
        )

    @property
    def deferred(self) -> bool:
        """record() only journals and queues, until close (then it writes inline)."""
        return not self.closed

    def record(self, record: CostRecord) -> bool:
        """Queued (journaled first); True: the ledger will hold it. After ``close``: written inline."""
        if self.closed:
            return self.store.record(record)
        self._batches.put(record)
        return True

    def _write(self, batch: list[CostRecord]) -> list[CostRecord]:
        with self._lock:
            todo, self._kept = [*self._kept, *batch], []
            for index, record in enumerate(todo):
                try:
                    self.store.record(record)
                except Exception:
                    self._kept = todo[index:]
                    logger.exception("could not write %d cost record(s) (kept, retried with the next batch)",
                                     len(self._kept))
                    break
            return list(self._kept)

    def flush(self, timeout: float = 10.0) -> None:
        self._batches.flush(timeout)
        if self._kept:
            self._write([])

    def records(self, since: float, until: float, app: str | None = None, limit: int = 100_000) -> list[CostRecord]:
        self.flush()
        return self.store.records(since, until, app=app, limit=limit)

    def aggregates(self, first_day: str, last_day: str, app: str | None = None) -> list[CostAggregate]:
        self.flush()
        return self.store.aggregates(first_day, last_day, app=app)

    def __getattr__(self, name: str) -> Any:  # anything else the store offers
        return getattr(self.store, name)

    def close(self) -> None:
        """Write what is queued and stop; a record still failing stays journaled (replayed at the next start)."""
        if self.closed:
            return
        self._batches.close()
        if self._kept:
            self._write([])
        self.closed = True
        if self._kept:
            logger.error("%d cost record(s) could not be written; they stay journaled for the next start",
                         len(self._kept))
            return
        self._batches.close_journal()


def write_behind(stores: Any, journal_dir: str | Path | None) -> BackgroundLedger | None:
    """Put ``stores.ledger`` behind a background writer (once per store bundle); None without a ledger."""
    ledger = getattr(stores, "ledger", None)
    if ledger is None:
        return None
    if isinstance(ledger, BackgroundLedger):
        if not ledger.closed:
            return ledger  # another runtime on the same stores owns it
        ledger = ledger.store
    wrapped = BackgroundLedger(ledger, journal_dir=journal_dir)
    stores.ledger = wrapped
    return wrapped
