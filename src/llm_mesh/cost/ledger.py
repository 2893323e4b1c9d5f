"""Ledger queries: filter cost records, group them, export CSV for re-billing.

Amounts are summed as integer nano-dollars and printed as exact decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Sequence

from llm_mesh.stores.interfaces import CostRecord

GROUP_FIELDS = ("app", "team", "project", "user", "route", "provider", "model", "endpoint", "day", "month")
_NANO = Decimal(1_000_000_000)


@dataclass(frozen=True)
class CostQuery:
    since: float
    until: float
    app: str | None = None
    team: str | None = None
    project: str | None = None
    route: str | None = None
    provider: str | None = None
    model: str | None = None
    user: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.group_by:
            if name not in GROUP_FIELDS and not name.startswith("tag:"):
                raise ValueError(f"cannot group by {name!r}; use {', '.join(GROUP_FIELDS)} or tag:<key>")

    def matches(self, record: CostRecord) -> bool:
        for name in ("app", "team", "project", "route", "provider", "model", "user"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(record, name) != wanted:
                return False
        return all(record.tags.get(k) == v for k, v in self.tags.items())


def parse_time(value: str | None, default: float, end_of_day: bool = False) -> float:
    """Epoch seconds, an ISO date (``2026-11-01``: midnight UTC; the day after for ``until``) or datetime."""
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{value!r} is not a finite time (give epoch seconds or an ISO date)")
        return seconds
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        return (moment + dt.timedelta(days=1 if end_of_day else 0)).timestamp()
    moment = dt.datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def parse_tag_filters(values: Iterable[str]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep:
            raise ValueError("tag filters are key=value")
        tags[key] = wanted
    return tags


def _key_value(record: CostRecord, name: str) -> str:
    if name == "day":
        return dt.datetime.fromtimestamp(record.timestamp, dt.timezone.utc).strftime("%Y-%m-%d")
    if name == "month":
        return dt.datetime.fromtimestamp(record.timestamp, dt.timezone.utc).strftime("%Y-%m")
    if name.startswith("tag:"):
        return record.tags.get(name[4:], "")
    return getattr(record, name) or ""


def nano(amount: str) -> int:
    return int(Decimal(amount) * _NANO)


def usd(nano_amount: int) -> str:
    return f"{(Decimal(nano_amount) / _NANO).quantize(Decimal('0.000000001')):f}"


def run_query(store: Any, query: CostQuery) -> tuple[list[CostRecord], list[dict[str, Any]]]:
    """(matching records, groups). Groups carry requests, tokens, cost, avoided cost, cache hits."""
    records = [r for r in store.records(query.since, query.until, app=query.app) if query.matches(r)]
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for record in records:
        key = tuple(_key_value(record, name) for name in query.group_by)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {**dict(zip(query.group_by, key)), "requests": 0, "prompt_tokens": 0,
                                   "completion_tokens": 0, "cost_nano": 0, "avoided_nano": 0, "cache_hits": 0,
                                   "estimated": 0}
        group["requests"] += 1
        group["prompt_tokens"] += record.prompt_tokens
        group["completion_tokens"] += record.completion_tokens
        group["cost_nano"] += nano(record.cost_usd)
        group["avoided_nano"] += nano(record.avoided_usd)
        group["cache_hits"] += int(record.cache_hit)
        group["estimated"] += int(record.estimated)
    rows = []
    for group in sorted(groups.values(), key=lambda g: -g["cost_nano"]):
        group["cost_usd"] = usd(group.pop("cost_nano"))
        group["avoided_usd"] = usd(group.pop("avoided_nano"))
        rows.append(group)
    return records, rows


def record_dict(record: CostRecord) -> dict[str, Any]:
    return asdict(record)


RECORD_COLUMNS = ("request_id", "timestamp", "app", "team", "project", "user", "route", "provider", "model",
                  "endpoint", "status", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd",
                  "estimated", "cache_hit", "avoided_usd", "tags")


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    buffer = io.StringIO()
    columns = list(columns or (rows[0].keys() if rows else ()))
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (";".join(f"{a}={b}" for a, b in sorted(v.items())) if isinstance(v, dict) else v)
                         for k, v in row.items()})
    return buffer.getvalue()


def records_csv(records: Sequence[CostRecord]) -> str:
    rows = []
    for r in records:
        row = record_dict(r)
        row["timestamp"] = dt.datetime.fromtimestamp(r.timestamp, dt.timezone.utc).isoformat()
        rows.append(row)
    return to_csv(rows, RECORD_COLUMNS)
