"""Cost ledger in SQLite: ``cost_records`` (one row per call) and ``cost_daily``
(atomic per day/app/model counters in integer nano-dollars). record() writes both
in one BEGIN IMMEDIATE transaction, so aggregates always equal the sum of records."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from llm_mesh.stores.interfaces import CostAggregate, CostRecord
from llm_mesh.stores.sqlite.connection import SqliteDatabase

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cost_records (
        request_id TEXT PRIMARY KEY, ts REAL NOT NULL, day TEXT NOT NULL, app TEXT NOT NULL,
        route TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, endpoint TEXT NOT NULL,
        team TEXT, project TEXT, user TEXT, tags TEXT NOT NULL, status INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
        cost_usd TEXT NOT NULL, estimated INTEGER NOT NULL, cache_hit INTEGER NOT NULL, avoided_usd TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cost_records_by_time ON cost_records (ts)",
    "CREATE INDEX IF NOT EXISTS cost_records_by_app_time ON cost_records (app, ts)",
    """CREATE TABLE IF NOT EXISTS cost_daily (
        day TEXT NOT NULL, app TEXT NOT NULL, model TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0, cost_nano INTEGER NOT NULL DEFAULT 0,
        avoided_nano INTEGER NOT NULL DEFAULT 0, cache_hits INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, app, model))""",
)
_NANO = Decimal("1e9")
MAX_RANGE_DAYS = 366  # records() looks at most this far back from ``until``
_COLUMNS = ("request_id, ts, day, app, route, provider, model, endpoint, team, project, user, tags, status, "
            "prompt_tokens, completion_tokens, cached_tokens, cost_usd, estimated, cache_hit, avoided_usd")


def nano(amount: str) -> int:
    return int(Decimal(amount) * _NANO)


def utc_day(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")


def _record(row: sqlite3.Row) -> CostRecord:
    return CostRecord(
        request_id=row["request_id"], timestamp=row["ts"], app=row["app"], route=row["route"],
        provider=row["provider"], model=row["model"], endpoint=row["endpoint"], team=row["team"],
        project=row["project"], user=row["user"], tags=json.loads(row["tags"]), status=row["status"],
        prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
        cached_tokens=row["cached_tokens"], cost_usd=row["cost_usd"], estimated=bool(row["estimated"]),
        cache_hit=bool(row["cache_hit"]), avoided_usd=row["avoided_usd"],
    )


class SqliteLedgerStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def record(self, record: CostRecord) -> bool:
        day = utc_day(record.timestamp)
        r = record
        with self._db.transaction() as conn:
            inserted = conn.execute(
                f"INSERT OR IGNORE INTO cost_records ({_COLUMNS}) VALUES ({', '.join('?' * 20)})",
                (r.request_id, r.timestamp, day, r.app, r.route, r.provider, r.model, r.endpoint, r.team, r.project,
                 r.user, json.dumps(r.tags, sort_keys=True, separators=(",", ":")), r.status, r.prompt_tokens,
                 r.completion_tokens, r.cached_tokens, r.cost_usd, int(r.estimated), int(r.cache_hit), r.avoided_usd),
            ).rowcount
            if not inserted:
                return False
            conn.execute(
                "INSERT INTO cost_daily (day, app, model, requests, prompt_tokens, completion_tokens, cost_nano,"
                " avoided_nano, cache_hits) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)"
                " ON CONFLICT (day, app, model) DO UPDATE SET requests = requests + 1,"
                " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = completion_tokens + excluded.completion_tokens,"
                " cost_nano = cost_nano + excluded.cost_nano, avoided_nano = avoided_nano + excluded.avoided_nano,"
                " cache_hits = cache_hits + excluded.cache_hits",
                (day, r.app, r.model, r.prompt_tokens, r.completion_tokens, nano(r.cost_usd), nano(r.avoided_usd),
                 int(r.cache_hit)),
            )
        return True

    def records(self, since: float, until: float, app: str | None = None, limit: int = 100_000) -> list[CostRecord]:
        since = max(since, until - MAX_RANGE_DAYS * 86400)  # the same cap as the DynamoDB ledger
        query = f"SELECT {_COLUMNS} FROM cost_records WHERE ts >= ? AND ts < ?"
        args: list[object] = [since, until]
        if app is not None:
            query += " AND app = ?"
            args.append(app)
        rows = self._db.connection().execute(query + " ORDER BY ts, request_id LIMIT ?", (*args, limit))
        return [_record(row) for row in rows]

    def aggregates(self, first_day: str, last_day: str, app: str | None = None) -> list[CostAggregate]:
        query = "SELECT * FROM cost_daily WHERE day >= ? AND day <= ?"
        args: list[object] = [first_day, last_day]
        if app is not None:
            query += " AND app = ?"
            args.append(app)
        rows = self._db.connection().execute(query + " ORDER BY day, app, model", args)
        return [
            CostAggregate(row["day"], row["app"], row["model"], row["requests"], row["prompt_tokens"],
                          row["completion_tokens"], row["cost_nano"], row["avoided_nano"], row["cache_hits"])
            for row in rows
        ]
