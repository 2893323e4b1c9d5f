"""Audit trail in SQLite (table ``audit_log``, primary key (partition, seq)).

append() reads the partition's last record and inserts the next one inside one
BEGIN IMMEDIATE transaction (append_many: one transaction for a whole batch), so
concurrent writers (threads or processes on the same file) never fork a chain and
never lose an append. Records are sealed with HMAC-SHA256 under the chain key
(by default ``audit-chain.key`` beside the database, generated on first use). Triggers refuse UPDATE and DELETE: the store is
append-only through SQL too (someone with the file can drop them; the hash chain
is what makes such edits visible).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from llm_mesh.audit.chain import seal
from llm_mesh.audit.keys import ChainKey, resolve_key
from llm_mesh.stores.interfaces import GENESIS_HASH, AuditDraft, AuditRecord
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS audit_log (
    partition          TEXT NOT NULL,
    seq                INTEGER NOT NULL,
    record_id          TEXT NOT NULL,
    ts                 REAL NOT NULL,
    app                TEXT NOT NULL,
    principal          TEXT NOT NULL,
    purpose            TEXT,
    route              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    endpoint           TEXT NOT NULL,
    status             INTEGER NOT NULL,
    decisions          TEXT NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cost_usd           TEXT NOT NULL,
    latency_ms         REAL NOT NULL,
    config_version     TEXT NOT NULL,
    payload            TEXT,
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL,
    PRIMARY KEY (partition, seq)
)""",
    "CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (ts DESC)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_app_time ON audit_log (app, ts DESC)",
    """
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
)

_FIELDS = (
    "partition",
    "seq",
    "record_id",
    "ts",
    "app",
    "principal",
    "purpose",
    "route",
    "provider",
    "model",
    "endpoint",
    "status",
    "decisions",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "config_version",
    "payload",
    "prev_hash",
    "hash",
)
_COLUMNS = ", ".join(_FIELDS)
_INSERT = f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({', '.join('?' for _ in _FIELDS)})"


def _row(record: AuditRecord) -> tuple:
    return (
        record.partition,
        record.seq,
        record.record_id,
        record.timestamp,
        record.app,
        record.principal,
        record.purpose,
        record.route,
        record.provider,
        record.model,
        record.endpoint,
        record.status,
        json.dumps(record.decisions, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        record.prompt_tokens,
        record.completion_tokens,
        record.cost_usd,
        record.latency_ms,
        record.config_version,
        record.payload,
        record.prev_hash,
        record.hash,
    )


def _record(row: sqlite3.Row) -> AuditRecord:
    return AuditRecord(
        partition=row["partition"],
        seq=row["seq"],
        record_id=row["record_id"],
        timestamp=row["ts"],
        app=row["app"],
        principal=row["principal"],
        purpose=row["purpose"],
        route=row["route"],
        provider=row["provider"],
        model=row["model"],
        endpoint=row["endpoint"],
        status=row["status"],
        decisions=json.loads(row["decisions"]),
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        cost_usd=row["cost_usd"],
        latency_ms=row["latency_ms"],
        config_version=row["config_version"],
        payload=row["payload"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


_DEFAULT_KEY: Any = object()  # the environment's key, else the key file beside the database


class SqliteAuditStore:
    def __init__(self, db: SqliteDatabase, key: ChainKey | None = _DEFAULT_KEY) -> None:
        self._db = db
        self.key: ChainKey | None = resolve_key(db.path.parent) if key is _DEFAULT_KEY else key
        with db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    @property
    def data_dir(self):
        return self._db.path.parent

    def append(self, draft: AuditDraft) -> AuditRecord:
        return self.append_many([draft])[0]

    def append_many(self, drafts: Iterable[AuditDraft]) -> list[AuditRecord]:
        """Append a batch in one BEGIN IMMEDIATE transaction: all or nothing."""
        records: list[AuditRecord] = []
        heads: dict[str, tuple[int, str]] = {}
        with self._db.transaction() as conn:
            for draft in drafts:
                if draft.partition not in heads:
                    last = conn.execute(
                        "SELECT seq, hash FROM audit_log WHERE partition = ? ORDER BY seq DESC LIMIT 1",
                        (draft.partition,),
                    ).fetchone()
                    heads[draft.partition] = (0, GENESIS_HASH) if last is None else (last["seq"], last["hash"])
                seq, prev_hash = heads[draft.partition]
                record = seal(draft, seq + 1, prev_hash, self.key)
                conn.execute(_INSERT, _row(record))
                heads[draft.partition] = (record.seq, record.hash)
                records.append(record)
        return records

    def query(
        self,
        app: str | None = None,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        if limit <= 0:
            return []
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (("app = ?", app), ("ts >= ?", since), ("ts < ?", until), ("model = ?", model)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT {_COLUMNS} FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, partition, seq DESC LIMIT ?"
        rows = self._db.connection().execute(sql, (*params, int(limit)))
        return [_record(row) for row in rows]

    def partition_records(self, partition: str) -> list[AuditRecord]:
        rows = self._db.connection().execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE partition = ? ORDER BY seq", (partition,)
        )
        return [_record(row) for row in rows]

    def head(self, partition: str) -> AuditRecord | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM audit_log WHERE partition = ? ORDER BY seq DESC LIMIT 1", (partition,))
            .fetchone()
        )
        return None if row is None else _record(row)

    def partitions(self) -> list[str]:
        rows = self._db.connection().execute("SELECT DISTINCT partition FROM audit_log ORDER BY partition")
        return [row["partition"] for row in rows]
