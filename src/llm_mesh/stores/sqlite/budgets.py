"""Budget counters in SQLite: reserve is one BEGIN IMMEDIATE transaction (check and
hold together), so concurrent reservations from any thread or process on the file
can never take spent + reserved past the limit.

A reservation made with a ``hold_id`` is also a row of ``budget_holds`` with an expiry
(``hold_until``): settle deletes that row and charges the actual; a hold whose
invocation died is never settled, so reserve and get first release every expired hold
of the key (row deleted, ``reserved_nano`` lowered, in the same transaction). A settle
that arrives after its hold expired finds no row and charges the actual only.
"""

from __future__ import annotations

import time
from typing import Callable

from llm_mesh.stores.interfaces import BudgetState
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = """CREATE TABLE IF NOT EXISTS budgets (
    key TEXT PRIMARY KEY, spent_nano INTEGER NOT NULL DEFAULT 0, reserved_nano INTEGER NOT NULL DEFAULT 0,
    expires_at REAL NOT NULL)"""
_HOLDS = """CREATE TABLE IF NOT EXISTS budget_holds (
    key TEXT NOT NULL, hold_id TEXT NOT NULL, amount_nano INTEGER NOT NULL, hold_until REAL NOT NULL,
    PRIMARY KEY (key, hold_id))"""


class SqliteBudgetStore:
    def __init__(self, db: SqliteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        with db.transaction() as conn:
            conn.execute(_SCHEMA)
            conn.execute(_HOLDS)

    def _state(self, conn, key: str) -> BudgetState:  # type: ignore[no-untyped-def]
        row = conn.execute("SELECT spent_nano, reserved_nano FROM budgets WHERE key = ?", (key,)).fetchone()
        return BudgetState(key) if row is None else BudgetState(key, row[0], row[1])

    def _release_expired(self, conn, key: str) -> None:  # type: ignore[no-untyped-def]
        released = conn.execute("DELETE FROM budget_holds WHERE key = ? AND hold_until <= ? RETURNING amount_nano",
                                (key, self._clock())).fetchall()
        if released:
            conn.execute("UPDATE budgets SET reserved_nano = MAX(0, reserved_nano - ?) WHERE key = ?",
                         (sum(r[0] for r in released), key))

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float, *,
                hold_id: str | None = None, hold_until: float | None = None) -> BudgetState | None:
        with self._db.transaction() as conn:
            self._release_expired(conn, key)
            state = self._state(conn, key)
            if state.spent_nano + state.reserved_nano + amount_nano > limit_nano:
                return None
            conn.execute(
                "INSERT INTO budgets (key, spent_nano, reserved_nano, expires_at) VALUES (?, 0, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET reserved_nano = reserved_nano + excluded.reserved_nano",
                (key, amount_nano, expires_at),
            )
            if hold_id is not None:
                conn.execute("INSERT INTO budget_holds (key, hold_id, amount_nano, hold_until) VALUES (?, ?, ?, ?)",
                             (key, hold_id, amount_nano, hold_until if hold_until is not None else expires_at))
        return BudgetState(key, state.spent_nano, state.reserved_nano + amount_nano)

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float, *,
               hold_id: str | None = None) -> BudgetState:
        with self._db.transaction() as conn:
            if hold_id is not None:
                held = conn.execute("DELETE FROM budget_holds WHERE key = ? AND hold_id = ? RETURNING amount_nano",
                                    (key, hold_id)).fetchone()
                reserved_nano = held[0] if held else 0  # gone: released as expired, only the actual is charged
            conn.execute(
                "INSERT INTO budgets (key, spent_nano, reserved_nano, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET spent_nano = spent_nano + excluded.spent_nano,"
                " reserved_nano = MAX(0, reserved_nano + excluded.reserved_nano)",
                (key, actual_nano, -reserved_nano, expires_at),
            )
            return self._state(conn, key)

    def get(self, key: str) -> BudgetState:
        with self._db.transaction() as conn:
            self._release_expired(conn, key)
            return self._state(conn, key)
