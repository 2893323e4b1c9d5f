"""Prompt versions, labels (with history), experiment outcomes and state in SQLite."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from llm_mesh.prompts.store import LabelMove, Outcome, StoredVersion
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS prompt_versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, content_hash TEXT NOT NULL,
        created_at REAL NOT NULL, author TEXT NOT NULL DEFAULT '', PRIMARY KEY (name, version))""",
    """CREATE TABLE IF NOT EXISTS prompt_labels (
        name TEXT NOT NULL, label TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, label))""",
    """CREATE TABLE IF NOT EXISTS prompt_label_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, label TEXT NOT NULL, version INTEGER NOT NULL,
        at REAL NOT NULL, actor TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS prompt_label_history_by_label ON prompt_label_history (name, label, id DESC)",
    """CREATE TABLE IF NOT EXISTS prompt_outcomes (
        request_id TEXT PRIMARY KEY, prompt TEXT NOT NULL, version INTEGER NOT NULL, experiment TEXT NOT NULL,
        variant TEXT NOT NULL, app TEXT NOT NULL, user TEXT NOT NULL, ts REAL NOT NULL, status INTEGER NOT NULL,
        latency_ms REAL NOT NULL, cost_usd REAL NOT NULL, feedback REAL, comment TEXT)""",
    "CREATE INDEX IF NOT EXISTS prompt_outcomes_by_experiment ON prompt_outcomes (experiment, ts)",
    "CREATE TABLE IF NOT EXISTS experiment_state (experiment TEXT PRIMARY KEY, state TEXT NOT NULL)",
)


def _outcome(row: sqlite3.Row) -> Outcome:
    return Outcome(**{key: row[key] for key in row.keys()})


class SqlitePromptStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def put_version(self, version: StoredVersion) -> bool:
        cursor = self._db.connection().execute(
            "INSERT OR IGNORE INTO prompt_versions (name, version, body, content_hash, created_at, author) VALUES (?, ?, ?, ?, ?, ?)",
            (version.name, version.version, version.body, version.content_hash, version.created_at, version.author),
        )
        return cursor.rowcount > 0

    def get_version(self, name: str, version: int) -> StoredVersion | None:
        row = self._db.connection().execute(
            "SELECT * FROM prompt_versions WHERE name = ? AND version = ?", (name, version)).fetchone()
        return StoredVersion(**dict(row)) if row else None

    def list_versions(self, name: str | None = None) -> list[StoredVersion]:
        conn = self._db.connection()
        if name is None:
            rows = conn.execute("SELECT * FROM prompt_versions ORDER BY name, version").fetchall()
        else:
            rows = conn.execute("SELECT * FROM prompt_versions WHERE name = ? ORDER BY version", (name,)).fetchall()
        return [StoredVersion(**dict(r)) for r in rows]

    def get_labels(self, name: str) -> dict[str, int]:
        rows = self._db.connection().execute("SELECT label, version FROM prompt_labels WHERE name = ?", (name,)).fetchall()
        return {r["label"]: r["version"] for r in rows}

    def move_label(self, move: LabelMove) -> None:
        with self._db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO prompt_labels (name, label, version) VALUES (?, ?, ?)", (move.name, move.label, move.version))
            conn.execute("INSERT INTO prompt_label_history (name, label, version, at, actor) VALUES (?, ?, ?, ?, ?)",
                         (move.name, move.label, move.version, move.at, move.actor))

    def label_history(self, name: str, label: str) -> list[LabelMove]:
        rows = self._db.connection().execute(
            "SELECT name, label, version, at, actor FROM prompt_label_history WHERE name = ? AND label = ? ORDER BY id DESC",
            (name, label)).fetchall()
        return [LabelMove(**dict(r)) for r in rows]

    def record_outcome(self, outcome: Outcome) -> None:
        data = asdict(outcome)
        columns = ", ".join(data)
        self._db.connection().execute(
            f"INSERT OR REPLACE INTO prompt_outcomes ({columns}) VALUES ({', '.join('?' * len(data))})", tuple(data.values()))

    def set_feedback(self, request_id: str, score: float, comment: str | None) -> Outcome | None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE prompt_outcomes SET feedback = ?, comment = ? WHERE request_id = ?", (score, comment, request_id))
        return self.get_outcome(request_id)

    def get_outcome(self, request_id: str) -> Outcome | None:
        row = self._db.connection().execute("SELECT * FROM prompt_outcomes WHERE request_id = ?", (request_id,)).fetchone()
        return _outcome(row) if row else None

    def outcomes(self, experiment: str) -> list[Outcome]:
        rows = self._db.connection().execute(
            "SELECT * FROM prompt_outcomes WHERE experiment = ? ORDER BY ts", (experiment,)).fetchall()
        return [_outcome(r) for r in rows]

    def get_state(self, experiment: str) -> dict[str, Any] | None:
        row = self._db.connection().execute("SELECT state FROM experiment_state WHERE experiment = ?", (experiment,)).fetchone()
        return json.loads(row["state"]) if row else None

    def set_state(self, experiment: str, state: dict[str, Any]) -> None:
        self._db.connection().execute("INSERT OR REPLACE INTO experiment_state (experiment, state) VALUES (?, ?)",
                                      (experiment, json.dumps(state)))
