"""Shared circuit-breaker state in SQLite (table ``target_health``).

record_failure is one BEGIN IMMEDIATE transaction (read, decide, write), so every
process and thread on the file sees each failure counted exactly once. The rules are
those of routing.memory_health.InMemoryHealthStore.
"""

from __future__ import annotations

import sqlite3
from typing import Sequence

from llm_mesh.stores.interfaces import TargetHealth
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS target_health (
    target        TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  REAL NOT NULL,
    open_until    REAL NOT NULL
)
"""
_CHUNK = 500  # host parameters per SELECT ... IN (...)


def next_health(
    current: TargetHealth | None, target: str, now: float, threshold: int, window: float, cooldown: float
) -> TargetHealth:
    """The state after one more failure (the rules of the in-memory reference store)."""
    current = current or TargetHealth(target)
    if current.open_until and now >= current.open_until:
        # Half-open: the probe after a cool-down failed, so re-open at once.
        return TargetHealth(target, current.failures + 1, current.window_start, now + cooldown)
    if current.failures == 0 or now - current.window_start > window:
        failures, start = 1, now
    else:
        failures, start = current.failures + 1, current.window_start
    open_until = now + cooldown if failures >= threshold else current.open_until
    return TargetHealth(target, failures, start, open_until)


def _health(row: sqlite3.Row) -> TargetHealth:
    return TargetHealth(row["target"], row["failures"], row["window_start"], row["open_until"])


class SqliteTargetHealthStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)

    def get_health(self, targets: Sequence[str]) -> dict[str, TargetHealth]:
        wanted = list(dict.fromkeys(targets))
        found: dict[str, TargetHealth] = {}
        conn = self._db.connection()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = conn.execute(
                "SELECT target, failures, window_start, open_until FROM target_health"
                f" WHERE target IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for row in rows:
                found[row["target"]] = _health(row)
        return found

    def record_failure(self, target: str, now: float, threshold: int, window: float, cooldown: float) -> TargetHealth:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT target, failures, window_start, open_until FROM target_health WHERE target = ?", (target,)
            ).fetchone()
            updated = next_health(None if row is None else _health(row), target, now, threshold, window, cooldown)
            conn.execute(
                "INSERT OR REPLACE INTO target_health (target, failures, window_start, open_until) VALUES (?, ?, ?, ?)",
                (target, int(updated.failures), float(updated.window_start), float(updated.open_until)),
            )
        return updated

    def record_success(self, target: str) -> None:
        self._db.connection().execute("DELETE FROM target_health WHERE target = ?", (target,))
