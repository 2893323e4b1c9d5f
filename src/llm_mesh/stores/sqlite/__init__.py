"""SQLite stores: the embedded default (one file, typically ``.mesh/mesh.db``)."""

from __future__ import annotations

from pathlib import Path

from llm_mesh.stores.sqlite.audit import SqliteAuditStore
from llm_mesh.stores.sqlite.budgets import SqliteBudgetStore
from llm_mesh.stores.sqlite.cache import SqliteCacheStore
from llm_mesh.stores.sqlite.connection import SqliteDatabase
from llm_mesh.stores.sqlite.health import SqliteTargetHealthStore
from llm_mesh.stores.sqlite.keys import SqliteApiKeyStore
from llm_mesh.stores.sqlite.ledger import SqliteLedgerStore
from llm_mesh.stores.sqlite.ratelimit import SqliteRateLimitStore
from llm_mesh.stores.sqlite.request_log import SqliteRequestLogStore
from llm_mesh.stores.sqlite.responses import SqliteResponseStore

__all__ = ["SqliteStores", "open_sqlite_stores"]


class SqliteStores:
    """StoreBundle over one SQLite file; safe to share between threads."""

    # A write can wait: on another process's transaction (mesh serve --workers N shares the file)
    # up to the busy timeout, or on this process's background writers' commits. Inline, that wait
    # stalls the event loop (/health included), so admission, cache writes and settlement run off
    # it (gateway/offload.py); reads never wait in WAL mode.
    blocking_io = True
    blocking_reads = False  # WAL: a reader never waits on a writer, so reads stay on the loop

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self.path = db.path
        self.keys = SqliteApiKeyStore(db)
        self.request_log = SqliteRequestLogStore(db)
        self.health = SqliteTargetHealthStore(db)
        self.audit = SqliteAuditStore(db)
        # cost governance (llm_mesh.cost)
        self.ledger = SqliteLedgerStore(db)
        self.budgets = SqliteBudgetStore(db)
        self.ratelimits = SqliteRateLimitStore(db)
        self.cache = SqliteCacheStore(db)
        self.responses = SqliteResponseStore(db)  # Responses API state (store: true)

    def ping(self) -> bool:
        return self._db.ping()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "SqliteStores":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sqlite_stores(path: str | Path) -> SqliteStores:
    """Open (creating the file, its parent directory and the schema if needed) the SQLite stores."""
    return SqliteStores(SqliteDatabase(path))
