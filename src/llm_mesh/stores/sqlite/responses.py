"""Stored Responses API objects in SQLite (table ``stored_responses``), keyed by (app, id).

Expired rows are invisible to reads and swept on writes at most every five minutes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stored_responses (app TEXT NOT NULL, response_id TEXT NOT NULL,"
    " created_at REAL NOT NULL, expires_at REAL NOT NULL, response TEXT NOT NULL, input_items TEXT NOT NULL,"
    " PRIMARY KEY (app, response_id))",
    "CREATE INDEX IF NOT EXISTS stored_responses_by_expiry ON stored_responses (expires_at)",
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqliteResponseStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._next_sweep = 0.0
        with db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def put(self, app: str, response: dict[str, Any], input_items: list[dict[str, Any]], expires_at: float) -> None:
        self._db.connection().execute(
            "INSERT OR REPLACE INTO stored_responses (app, response_id, created_at, expires_at, response, input_items)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (app, response["id"], time.time(), expires_at, _dumps(response), _dumps(input_items)),
        )
        self._sweep()

    def _column(self, column: str, app: str, response_id: str, now: float) -> Any:
        row = self._db.connection().execute(
            f"SELECT {column} FROM stored_responses WHERE app = ? AND response_id = ? AND expires_at > ?",
            (app, response_id, now),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def get(self, app: str, response_id: str, now: float) -> dict[str, Any] | None:
        return self._column("response", app, response_id, now)

    def input_items(self, app: str, response_id: str, now: float) -> list[dict[str, Any]] | None:
        return self._column("input_items", app, response_id, now)

    def delete(self, app: str, response_id: str) -> bool:
        conn = self._db.connection()
        # Overwrite the deleted content with zeros rather than leave it in free space (this
        # thread's connection keeps the setting; the WAL's older frames go at its next checkpoint).
        conn.execute("PRAGMA secure_delete = ON")
        cursor = conn.execute("DELETE FROM stored_responses WHERE app = ? AND response_id = ?", (app, response_id))
        return cursor.rowcount > 0

    def _sweep(self) -> None:
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + 300
            self._db.connection().execute("DELETE FROM stored_responses WHERE expires_at <= ?", (now,))
