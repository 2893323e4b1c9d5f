"""SQLite connection handling for the embedded store.

One database file, WAL journal, one connection per thread. The FastAPI server
calls the stores both from the event-loop thread and from worker threads; a
per-thread connection lets readers run concurrently under WAL while SQLite's
own locking (with a busy timeout) serialises writers.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    app         TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    revoked_at  REAL
);
CREATE INDEX IF NOT EXISTS api_keys_by_app ON api_keys (app, created_at DESC);
CREATE INDEX IF NOT EXISTS api_keys_by_created ON api_keys (created_at DESC);

CREATE TABLE IF NOT EXISTS request_log (
    request_id              TEXT PRIMARY KEY,
    ts                      REAL NOT NULL,
    app                     TEXT NOT NULL,
    route                   TEXT NOT NULL,
    provider                TEXT NOT NULL,
    model                   TEXT NOT NULL,
    endpoint                TEXT NOT NULL,
    status                  INTEGER NOT NULL,
    stream                  INTEGER NOT NULL,
    latency_ms              REAL NOT NULL,
    upstream_ms             REAL NOT NULL,
    overhead_ms             REAL NOT NULL,
    prompt_tokens           INTEGER NOT NULL DEFAULT 0,
    completion_tokens       INTEGER NOT NULL DEFAULT 0,
    total_tokens            INTEGER NOT NULL DEFAULT 0,
    error_code              TEXT,
    attempts                INTEGER NOT NULL DEFAULT 1,
    time_to_first_token_ms  REAL,
    tags                    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS request_log_by_time ON request_log (ts DESC);
CREATE INDEX IF NOT EXISTS request_log_by_app_time ON request_log (app, ts DESC);
"""


class SqliteDatabase:
    """A SQLite file shared by several threads, one connection each."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        # One write transaction at a time per process: a thread waiting for another's (the
        # request path behind a background writer) queues on this lock and resumes the moment
        # it is released, where SQLite's busy handler would sleep 1 ms, then 2, 5... Processes
        # sharing the file still meet SQLite's own locking (busy timeout).
        self._writing = threading.RLock()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        conn = self.connection()
        with self.transaction(conn):
            # executescript() would commit on its own; run the statements inside our transaction.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit; multi-statement writes use transaction().
        # check_same_thread=False only so close() can close connections of threads that
        # have ended; each connection is otherwise used only by the thread that opened it.
        conn = sqlite3.connect(
            str(self.path),
            timeout=self._busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        return conn

    def connection(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if self._closed:
            if conn is not None:
                self._local.conn = None
                conn.close()  # this thread's own connection: safe to close here
            raise sqlite3.ProgrammingError(f"SQLite store {self.path} is closed")
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"SQLite store {self.path} is closed")
            conn = self._open()
            self._connections.append((threading.current_thread(), conn))
        self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on this thread's connection."""
        conn = conn or self.connection()
        with self._writing:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def ping(self) -> bool:
        try:
            return self.connection().execute("SELECT 1").fetchone()[0] == 1
        except Exception:
            return False

    def close(self) -> None:
        """Close this thread's connection and those of ended threads. A live thread's
        connection is closed by that thread on its next use (closing a connection another
        thread may be using can crash the interpreter)."""
        current = threading.current_thread()
        with self._lock:
            self._closed = True
            owned, self._connections = self._connections, []
        for thread, conn in owned:
            if thread is current or not thread.is_alive():
                try:
                    conn.close()
                except Exception:
                    pass
        if getattr(self._local, "conn", None) is not None:
            self._local.conn = None
