"""Per-request log in SQLite."""

from __future__ import annotations

import json
import sqlite3
from typing import Sequence

from llm_mesh.stores.interfaces import RequestLogEntry
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_FIELDS = (
    "request_id",
    "ts",
    "app",
    "route",
    "provider",
    "model",
    "endpoint",
    "status",
    "stream",
    "latency_ms",
    "upstream_ms",
    "overhead_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error_code",
    "attempts",
    "time_to_first_token_ms",
    "tags",
)
_COLUMNS = ", ".join(_FIELDS)
_INSERT = f"INSERT OR REPLACE INTO request_log ({_COLUMNS}) VALUES ({', '.join('?' for _ in _FIELDS)})"


def _row(entry: RequestLogEntry) -> tuple:
    return (
        entry.request_id,
        float(entry.timestamp),
        entry.app,
        entry.route,
        entry.provider,
        entry.model,
        entry.endpoint,
        int(entry.status),
        1 if entry.stream else 0,
        float(entry.latency_ms),
        float(entry.upstream_ms),
        float(entry.overhead_ms),
        int(entry.prompt_tokens),
        int(entry.completion_tokens),
        int(entry.total_tokens),
        entry.error_code,
        int(entry.attempts),
        None if entry.time_to_first_token_ms is None else float(entry.time_to_first_token_ms),
        json.dumps(dict(entry.tags), separators=(",", ":"), sort_keys=True),
    )


def _entry(row: sqlite3.Row) -> RequestLogEntry:
    return RequestLogEntry(
        request_id=row["request_id"],
        timestamp=row["ts"],
        app=row["app"],
        route=row["route"],
        provider=row["provider"],
        model=row["model"],
        endpoint=row["endpoint"],
        status=row["status"],
        stream=bool(row["stream"]),
        latency_ms=row["latency_ms"],
        upstream_ms=row["upstream_ms"],
        overhead_ms=row["overhead_ms"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        total_tokens=row["total_tokens"],
        error_code=row["error_code"],
        attempts=row["attempts"],
        time_to_first_token_ms=row["time_to_first_token_ms"],
        tags=json.loads(row["tags"]) if row["tags"] else {},
    )


class SqliteRequestLogStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def append(self, entry: RequestLogEntry) -> None:
        """Write one entry (an entry with the same request_id is replaced)."""
        self._db.connection().execute(_INSERT, _row(entry))

    def append_many(self, entries: Sequence[RequestLogEntry]) -> None:
        """Write all entries in one transaction."""
        if not entries:
            return
        rows = [_row(entry) for entry in entries]
        with self._db.transaction() as conn:
            conn.executemany(_INSERT, rows)

    def get(self, request_id: str) -> RequestLogEntry | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM request_log WHERE request_id = ?", (request_id,))
            .fetchone()
        )
        return None if row is None else _entry(row)

    def recent(self, limit: int = 50, app: str | None = None) -> list[RequestLogEntry]:
        if limit <= 0:
            return []
        conn = self._db.connection()
        if app is None:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM request_log ORDER BY ts DESC, rowid DESC LIMIT ?", (int(limit),)
            )
        else:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM request_log WHERE app = ? ORDER BY ts DESC, rowid DESC LIMIT ?",
                (app, int(limit)),
            )
        return [_entry(row) for row in rows]
