"""Knowledge-base documents in SQLite (table ``kb_documents``): source -> hash and chunk ids."""

from __future__ import annotations

import json
import sqlite3

from llm_mesh.kb.documents import DocumentRecord
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kb_documents (
    kb            TEXT NOT NULL,
    source        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    title         TEXT NOT NULL,
    chunk_ids     TEXT NOT NULL,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (kb, source)
)
"""


def _record(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(row["kb"], row["source"], row["content_hash"], row["title"], tuple(json.loads(row["chunk_ids"])), row["updated_at"])


class SqliteDocumentStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)

    def get_document(self, kb: str, source: str) -> DocumentRecord | None:
        row = self._db.connection().execute("SELECT * FROM kb_documents WHERE kb = ? AND source = ?", (kb, source)).fetchone()
        return _record(row) if row else None

    def list_documents(self, kb: str) -> list[DocumentRecord]:
        rows = self._db.connection().execute("SELECT * FROM kb_documents WHERE kb = ? ORDER BY source", (kb,)).fetchall()
        return [_record(r) for r in rows]

    def put_document(self, record: DocumentRecord) -> None:
        self._db.connection().execute(
            "INSERT OR REPLACE INTO kb_documents (kb, source, content_hash, title, chunk_ids, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (record.kb, record.source, record.content_hash, record.title, json.dumps(list(record.chunk_ids)), record.updated_at),
        )

    def delete_document(self, kb: str, source: str) -> bool:
        cursor = self._db.connection().execute("DELETE FROM kb_documents WHERE kb = ? AND source = ?", (kb, source))
        return cursor.rowcount > 0
