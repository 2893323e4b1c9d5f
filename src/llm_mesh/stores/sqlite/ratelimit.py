"""Fixed-window rate-limit counters in SQLite (one row per key and window)."""

from __future__ import annotations

import time
from typing import Callable

from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = "CREATE TABLE IF NOT EXISTS rate_counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"
_UPSERT = ("INSERT INTO rate_counters (key, count, expires_at) VALUES (?, ?, ?)"
           " ON CONFLICT (key) DO UPDATE SET count = count + excluded.count")


class SqliteRateLimitStore:
    def __init__(self, db: SqliteDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock  # injected so windows and their sweep follow the caller's time, not the wall's
        self._next_sweep = 0.0
        with db.transaction() as conn:
            conn.execute(_SCHEMA)

    def hit(self, key: str, amount: int, limit: int, expires_at: float) -> int | None:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT count FROM rate_counters WHERE key = ?", (key,)).fetchone()
            current = row[0] if row else 0
            if current + amount > limit:
                return None
            conn.execute(_UPSERT, (key, amount, expires_at))
        self._sweep()
        return current + amount

    def add(self, key: str, amount: int, expires_at: float) -> int:
        with self._db.transaction() as conn:
            conn.execute(_UPSERT, (key, amount, expires_at))
            return conn.execute("SELECT count FROM rate_counters WHERE key = ?", (key,)).fetchone()[0]

    def _sweep(self) -> None:
        now = self._clock()
        if now >= self._next_sweep:  # expired windows, at most once a minute per instance
            self._next_sweep = now + 60
            self._db.connection().execute("DELETE FROM rate_counters WHERE expires_at < ?", (now,))
