"""API keys in SQLite."""

from __future__ import annotations

import sqlite3

from llm_mesh.stores.interfaces import ApiKeyRecord
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_COLUMNS = "key_id, app, key_hash, prefix, created_at, revoked_at"


def _record(row: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row["key_id"],
        app=row["app"],
        key_hash=row["key_hash"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


class SqliteApiKeyStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_key(self, record: ApiKeyRecord) -> None:
        """Insert or replace (a row with the same key_id or key_hash is overwritten)."""
        self._db.connection().execute(
            f"INSERT OR REPLACE INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.key_id,
                record.app,
                record.key_hash,
                record.prefix,
                float(record.created_at),
                None if record.revoked_at is None else float(record.revoked_at),
            ),
        )

    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
            .fetchone()
        )
        return None if row is None else _record(row)

    def list_keys(self, app: str | None = None) -> list[ApiKeyRecord]:
        conn = self._db.connection()
        if app is None:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC, rowid DESC")
        else:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE app = ? ORDER BY created_at DESC, rowid DESC", (app,)
            )
        return [_record(row) for row in rows]

    def revoke(self, key_id: str, at: float) -> bool:
        """Mark revoked; a key already revoked keeps its first revocation time."""
        cursor = self._db.connection().execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?", (float(at), key_id)
        )
        return cursor.rowcount > 0
