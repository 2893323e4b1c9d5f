"""Agent runs, steps and working conversations in SQLite (tables ``agent_runs``, ``agent_steps``,
``agent_messages``); records are JSON."""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS agent_runs (
        run_id      TEXT PRIMARY KEY,
        app         TEXT NOT NULL,
        agent       TEXT NOT NULL,
        created_at  REAL NOT NULL,
        data        TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS agent_runs_by_app ON agent_runs (app, created_at DESC)",
    """CREATE TABLE IF NOT EXISTS agent_steps (
        run_id  TEXT NOT NULL,
        key     TEXT NOT NULL,
        data    TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS agent_messages (
        run_id  TEXT NOT NULL,
        idx     INTEGER NOT NULL,
        data    TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    )""",
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class SqliteAgentRunStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def create_run(self, run: dict[str, Any]) -> None:
        self._db.connection().execute(
            "INSERT OR IGNORE INTO agent_runs (run_id, app, agent, created_at, data) VALUES (?, ?, ?, ?, ?)",
            (run["run_id"], run["app"], run["agent"], float(run["created_at"]), _dumps(run)),
        )

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT data FROM agent_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return
            data = {**json.loads(row["data"]), **fields}
            conn.execute("UPDATE agent_runs SET data = ? WHERE run_id = ?", (_dumps(data), run_id))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self._db.connection().execute("SELECT data FROM agent_runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else json.loads(row["data"])

    def put_step(self, run_id: str, key: str, step: dict[str, Any]) -> None:
        self._db.connection().execute(
            "INSERT OR REPLACE INTO agent_steps (run_id, key, data) VALUES (?, ?, ?)",
            (run_id, key, _dumps({**step, "key": key})),
        )

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.connection().execute(
            "SELECT data FROM agent_steps WHERE run_id = ? ORDER BY key", (run_id,)
        ).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def put_messages(self, run_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO agent_messages (run_id, idx, data) VALUES (?, ?, ?)",
                [(run_id, start + offset, _dumps(m)) for offset, m in enumerate(messages)],
            )

    def messages(self, run_id: str, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        rows = self._db.connection().execute(
            "SELECT data FROM agent_messages WHERE run_id = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (run_id, int(start), int(stop) if stop is not None else 2**62),
        ).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def drop_messages(self, run_id: str) -> None:
        self._db.connection().execute("DELETE FROM agent_messages WHERE run_id = ?", (run_id,))

    def list_runs(self, app: str, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, args = "SELECT data FROM agent_runs WHERE app = ?", [app]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        rows = self._db.connection().execute(sql + " ORDER BY created_at DESC LIMIT ?", (*args, int(limit))).fetchall()
        return [json.loads(r["data"]) for r in rows]
