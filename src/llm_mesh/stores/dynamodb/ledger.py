"""Cost ledger in DynamoDB (table ``ledger``, see tables.LEDGER).

record() is one TransactWriteItems: Put the record (condition: not already there,
so a retry never double counts) and ADD to its (day, app, model) aggregate in
integer nano-dollars. Both happen or neither does, so the aggregates equal the sum
of the records exactly. Concurrent transactions on one aggregate conflict
(TransactionConflict) and are retried with jittered backoff.

Write sharding: one busy app would put every record of its day in one partition and every
request's ADD on one aggregate item (a transaction per request on one item tops out near
500/s). So both carry a shard (``crc32(request_id) % SHARDS``, stable, so a retried write
lands on the same item and the put's condition still dedupes): records live under
``R#{app}#{day}#{shard}`` and aggregates under ``{app}#{model}#{shard}``; reads query every
shard and merge (sums are exact: each record went to exactly one shard). Items written
before sharding (``R#{app}#{day}``, ``{app}#{model}``) are read too.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import zlib
from typing import Any

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.interfaces import CostAggregate, CostRecord
from llm_mesh.stores.sqlite.ledger import MAX_RANGE_DAYS, nano, utc_day

MAX_ATTEMPTS = 40
SHARDS = 8


def shard_of(request_id: str, shards: int = SHARDS) -> int:
    """A request's shard: stable across processes and retries (not Python's salted hash)."""
    return zlib.crc32(request_id.encode()) % shards


def _record_partitions(app: str, day: str) -> list[str]:
    return [f"R#{app}#{day}"] + [f"R#{app}#{day}#{shard}" for shard in range(SHARDS)]


def _sk(ts: float, request_id: str) -> str:
    return f"{ts:020.6f}#{request_id}"


def _days(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _item(r: CostRecord) -> dict[str, Any]:
    item = {
        "pk": codec.s(f"R#{r.app}#{utc_day(r.timestamp)}#{shard_of(r.request_id)}"),
        "sk": codec.s(_sk(r.timestamp, r.request_id)),
        "request_id": codec.s(r.request_id), "ts": codec.num(r.timestamp), "app": codec.s(r.app),
        "route": codec.s(r.route), "provider": codec.s(r.provider), "model": codec.s(r.model),
        "endpoint": codec.s(r.endpoint), "tags": codec.s(json.dumps(r.tags, sort_keys=True)), "status": codec.num(r.status),
        "prompt_tokens": codec.num(r.prompt_tokens), "completion_tokens": codec.num(r.completion_tokens),
        "cached_tokens": codec.num(r.cached_tokens), "cost_usd": codec.s(r.cost_usd),
        "estimated": codec.b(r.estimated), "cache_hit": codec.b(r.cache_hit), "avoided_usd": codec.s(r.avoided_usd),
    }
    for name in ("team", "project", "user"):
        if getattr(r, name):
            item[name] = codec.s(getattr(r, name))
    return item


def _record(item: dict[str, Any]) -> CostRecord:
    return CostRecord(
        request_id=codec.get_str(item, "request_id"), timestamp=codec.get_float(item, "ts"),
        app=codec.get_str(item, "app"), route=codec.get_str(item, "route"), provider=codec.get_str(item, "provider"),
        model=codec.get_str(item, "model"), endpoint=codec.get_str(item, "endpoint"),
        team=codec.get_str(item, "team"), project=codec.get_str(item, "project"), user=codec.get_str(item, "user"),
        tags=json.loads(codec.get_str(item, "tags", "{}")), status=codec.get_int(item, "status", 200),
        prompt_tokens=codec.get_int(item, "prompt_tokens", 0), completion_tokens=codec.get_int(item, "completion_tokens", 0),
        cached_tokens=codec.get_int(item, "cached_tokens", 0), cost_usd=codec.get_str(item, "cost_usd", "0"),
        estimated=codec.get_bool(item, "estimated"), cache_hit=codec.get_bool(item, "cache_hit"),
        avoided_usd=codec.get_str(item, "avoided_usd", "0"),
    )


def query_all(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        response = client.query(**kwargs)
        items.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class DynamoLedgerStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, record: CostRecord) -> bool:
        r = record
        aggregate = {
            "TableName": self._table,
            "Key": {"pk": codec.s(f"A#{utc_day(r.timestamp)}"), "sk": codec.s(f"{r.app}#{r.model}#{shard_of(r.request_id)}")},
            "UpdateExpression": "SET app = :app, model = :model ADD requests :one, prompt_tokens :pt,"
                                " completion_tokens :ct, cost_nano :cost, avoided_nano :avoided, cache_hits :hit",
            "ExpressionAttributeValues": {
                ":app": codec.s(r.app), ":model": codec.s(r.model), ":one": codec.num(1),
                ":pt": codec.num(r.prompt_tokens), ":ct": codec.num(r.completion_tokens),
                ":cost": codec.num(nano(r.cost_usd)), ":avoided": codec.num(nano(r.avoided_usd)),
                ":hit": codec.num(int(r.cache_hit)),
            },
        }
        put = {"TableName": self._table, "Item": _item(r), "ConditionExpression": "attribute_not_exists(pk)"}
        for attempt in range(MAX_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=[{"Put": put}, {"Update": aggregate}])
                return True
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # already recorded (a retry of a committed write)
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** min(attempt, 6))))
        raise RuntimeError(f"could not record cost of {r.request_id} after {MAX_ATTEMPTS} attempts")

    def aggregates(self, first_day: str, last_day: str, app: str | None = None) -> list[CostAggregate]:
        """One aggregate per (day, app, model): the shards' items summed."""
        merged: dict[tuple[str, str, str], CostAggregate] = {}
        for part in self._aggregate_items(first_day, last_day, app):
            key = (part.day, part.app, part.model)
            seen = merged.get(key)
            merged[key] = part if seen is None else CostAggregate(
                day=part.day, app=part.app, model=part.model, requests=seen.requests + part.requests,
                prompt_tokens=seen.prompt_tokens + part.prompt_tokens,
                completion_tokens=seen.completion_tokens + part.completion_tokens,
                cost_nano=seen.cost_nano + part.cost_nano, avoided_nano=seen.avoided_nano + part.avoided_nano,
                cache_hits=seen.cache_hits + part.cache_hits,
            )
        return list(merged.values())

    def _aggregate_items(self, first_day: str, last_day: str, app: str | None) -> list[CostAggregate]:
        found: list[CostAggregate] = []
        for day in _days(first_day, last_day):
            kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True,
                                      "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": codec.s(f"A#{day}")}}
            if app is not None:
                kwargs["KeyConditionExpression"] += " AND begins_with(sk, :app)"
                kwargs["ExpressionAttributeValues"][":app"] = codec.s(f"{app}#")
            for item in query_all(self._client, **kwargs):
                if app is not None and codec.get_str(item, "app") != app:
                    continue
                found.append(CostAggregate(
                    day=day, app=codec.get_str(item, "app"), model=codec.get_str(item, "model"),
                    requests=codec.get_int(item, "requests", 0), prompt_tokens=codec.get_int(item, "prompt_tokens", 0),
                    completion_tokens=codec.get_int(item, "completion_tokens", 0),
                    cost_nano=codec.get_int(item, "cost_nano", 0), avoided_nano=codec.get_int(item, "avoided_nano", 0),
                    cache_hits=codec.get_int(item, "cache_hits", 0),
                ))
        return found

    def records(self, since: float, until: float, app: str | None = None, limit: int = 100_000) -> list[CostRecord]:
        """Records are partitioned by app and day, so a query walks days: ranges are capped at
        MAX_RANGE_DAYS (ending at ``until``); days without an aggregate are skipped."""
        since = max(since, until - MAX_RANGE_DAYS * 86400)
        first, last = utc_day(since), utc_day(max(since, until - 1e-6))
        out: list[CostRecord] = []
        for day in _days(first, last):
            apps = sorted({a.app for a in self.aggregates(day, day, app=app)})
            for partition in (p for name in apps for p in _record_partitions(name, day)):
                items = query_all(
                    self._client, TableName=self._table, ConsistentRead=True,
                    KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                    ExpressionAttributeValues={":pk": codec.s(partition), ":lo": codec.s(_sk(since, "")),
                                               ":hi": codec.s(_sk(until, "\uffff"))},
                )
                out.extend(r for r in map(_record, items) if since <= r.timestamp < until)
        out.sort(key=lambda r: (r.timestamp, r.request_id))
        return out[:limit]
