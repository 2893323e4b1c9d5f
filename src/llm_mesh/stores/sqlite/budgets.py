"""Budget counters in SQLite: reserve is one BEGIN IMMEDIATE transaction (check and
hold together), so concurrent reservations from any thread or process on the file
can never take spent + reserved past the limit."""

from __future__ import annotations

from llm_mesh.stores.interfaces import BudgetState
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = """CREATE TABLE IF NOT EXISTS budgets (
    key TEXT PRIMARY KEY, spent_nano INTEGER NOT NULL DEFAULT 0, reserved_nano INTEGER NOT NULL DEFAULT 0,
    expires_at REAL NOT NULL)"""


class SqliteBudgetStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)

    def _state(self, conn, key: str) -> BudgetState:  # type: ignore[no-untyped-def]
        row = conn.execute("SELECT spent_nano, reserved_nano FROM budgets WHERE key = ?", (key,)).fetchone()
        return BudgetState(key) if row is None else BudgetState(key, row[0], row[1])

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float) -> BudgetState | None:
        with self._db.transaction() as conn:
            state = self._state(conn, key)
            if state.spent_nano + state.reserved_nano + amount_nano > limit_nano:
                return None
            conn.execute(
                "INSERT INTO budgets (key, spent_nano, reserved_nano, expires_at) VALUES (?, 0, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET reserved_nano = reserved_nano + excluded.reserved_nano",
                (key, amount_nano, expires_at),
            )
        return BudgetState(key, state.spent_nano, state.reserved_nano + amount_nano)

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float) -> BudgetState:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO budgets (key, spent_nano, reserved_nano, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET spent_nano = spent_nano + excluded.spent_nano,"
                " reserved_nano = MAX(0, reserved_nano + excluded.reserved_nano)",
                (key, actual_nano, -reserved_nano, expires_at),
            )
            return self._state(conn, key)

    def get(self, key: str) -> BudgetState:
        return self._state(self._db.connection(), key)
