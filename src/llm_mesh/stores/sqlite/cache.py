"""Response cache in SQLite: exact entries by key and semantic vectors per partition."""

from __future__ import annotations

import time

from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS response_cache (key TEXT PRIMARY KEY, app TEXT NOT NULL, value TEXT NOT NULL,"
    " expires_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS semantic_cache (partition TEXT NOT NULL, entry_id TEXT NOT NULL, created REAL NOT NULL,"
    " vector BLOB NOT NULL, value TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (partition, entry_id))",
    "CREATE INDEX IF NOT EXISTS semantic_cache_by_created ON semantic_cache (partition, created DESC)",
)


class SqliteCacheStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._next_sweep = 0.0
        with db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def get(self, key: str, now: float) -> str | None:
        row = self._db.connection().execute(
            "SELECT value FROM response_cache WHERE key = ? AND expires_at > ?", (key, now)
        ).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, app: str, value: str, expires_at: float) -> None:
        conn = self._db.connection()
        conn.execute(
            "INSERT OR REPLACE INTO response_cache (key, app, value, expires_at) VALUES (?, ?, ?, ?)",
            (key, app, value, expires_at),
        )
        self._sweep()

    def put_vector(self, partition: str, entry_id: str, vector: bytes, value: str, expires_at: float) -> None:
        self._db.connection().execute(
            "INSERT OR REPLACE INTO semantic_cache (partition, entry_id, created, vector, value, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (partition, entry_id, time.time(), vector, value, expires_at),
        )

    def vectors(self, partition: str, now: float, limit: int) -> list[tuple[bytes, str]]:
        rows = self._db.connection().execute(
            "SELECT vector, value FROM semantic_cache WHERE partition = ? AND expires_at > ?"
            " ORDER BY created DESC LIMIT ?",
            (partition, now, limit),
        )
        return [(bytes(row[0]), row[1]) for row in rows]

    def _sweep(self) -> None:
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + 300
            conn = self._db.connection()
            conn.execute("DELETE FROM response_cache WHERE expires_at < ?", (now,))
            conn.execute("DELETE FROM semantic_cache WHERE expires_at < ?", (now,))
