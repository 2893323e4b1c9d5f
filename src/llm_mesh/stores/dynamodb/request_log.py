"""Per-request log in DynamoDB (table ``requests``: partition key request_id;
GSIs by_app_time (app, ts) and by_day_time (day, ts); TTL on expires_at).

The day index is write-sharded: ``day`` is ``YYYY-MM-DD#<shard>`` (``crc32(request_id) %
DAY_SHARDS``), because one plain day value would send every request mesh-wide to one GSI
partition (about 1,000 writes/s, and a throttled GSI throttles the table's writes). ``recent``
queries each shard's newest items and merges them by time; items written before sharding (a
plain ``YYYY-MM-DD``) are read as one more shard."""

from __future__ import annotations

import time
import heapq
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.dynamodb.codec import Item
from llm_mesh.stores.interfaces import RequestLogEntry

DEFAULT_RETENTION_DAYS = 30
DEFAULT_LOOKBACK_DAYS = 7
_BATCH = 25  # BatchWriteItem limit
_BATCH_ATTEMPTS = 8
DAY_SHARDS = 16


def day_shard_key(ts: float, request_id: str) -> str:
    return f"{utc_day(ts)}#{zlib.crc32(request_id.encode()) % DAY_SHARDS}"


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


class DynamoRequestLogStore:
    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        clock: Any = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention_s = retention_days * 86400
        self._lookback_days = lookback_days
        self._clock = clock

    # -- marshalling -------------------------------------------------------
    def _item(self, entry: RequestLogEntry) -> Item:
        item: Item = {
            "request_id": codec.s(entry.request_id),
            "ts": codec.num(float(entry.timestamp)),
            "day": codec.s(day_shard_key(entry.timestamp, entry.request_id)),
            "expires_at": codec.num(int(entry.timestamp + self._retention_s)),
            "app": codec.s(entry.app),
            "route": codec.s(entry.route),
            "provider": codec.s(entry.provider),
            "model": codec.s(entry.model),
            "endpoint": codec.s(entry.endpoint),
            "status": codec.num(int(entry.status)),
            "stream": codec.b(entry.stream),
            "latency_ms": codec.num(float(entry.latency_ms)),
            "upstream_ms": codec.num(float(entry.upstream_ms)),
            "overhead_ms": codec.num(float(entry.overhead_ms)),
            "prompt_tokens": codec.num(int(entry.prompt_tokens)),
            "completion_tokens": codec.num(int(entry.completion_tokens)),
            "total_tokens": codec.num(int(entry.total_tokens)),
            "attempts": codec.num(int(entry.attempts)),
            "tags": codec.str_map(entry.tags),
        }
        if entry.error_code is not None:
            item["error_code"] = codec.s(entry.error_code)
        if entry.time_to_first_token_ms is not None:
            item["time_to_first_token_ms"] = codec.num(float(entry.time_to_first_token_ms))
        return item

    @staticmethod
    def _entry(item: Item) -> RequestLogEntry:
        return RequestLogEntry(
            request_id=codec.get_str(item, "request_id"),
            timestamp=codec.get_float(item, "ts"),
            app=codec.get_str(item, "app"),
            route=codec.get_str(item, "route", ""),
            provider=codec.get_str(item, "provider", ""),
            model=codec.get_str(item, "model", ""),
            endpoint=codec.get_str(item, "endpoint", ""),
            status=codec.get_int(item, "status", 0),
            stream=codec.get_bool(item, "stream"),
            latency_ms=codec.get_float(item, "latency_ms", 0.0),
            upstream_ms=codec.get_float(item, "upstream_ms", 0.0),
            overhead_ms=codec.get_float(item, "overhead_ms", 0.0),
            prompt_tokens=codec.get_int(item, "prompt_tokens", 0),
            completion_tokens=codec.get_int(item, "completion_tokens", 0),
            total_tokens=codec.get_int(item, "total_tokens", 0),
            error_code=codec.get_str(item, "error_code"),
            attempts=codec.get_int(item, "attempts", 1),
            time_to_first_token_ms=codec.get_float(item, "time_to_first_token_ms"),
            tags=codec.get_str_map(item, "tags"),
        )

    # -- writes ------------------------------------------------------------
    def append(self, entry: RequestLogEntry) -> None:
        self._client.put_item(TableName=self._table, Item=self._item(entry))

    def append_many(self, entries: Sequence[RequestLogEntry]) -> None:
        """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff.

        A request_id repeated within the call is written once (the last entry wins),
        as BatchWriteItem rejects duplicate keys in one batch.
        """
        latest: dict[str, Item] = {}
        for entry in entries:
            latest[entry.request_id] = self._item(entry)
        items = list(latest.values())
        for start in range(0, len(items), _BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]]
            self._write_batch(requests)

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending = {self._table: requests}
        for attempt in range(_BATCH_ATTEMPTS):
            response = self._client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(0.05 * (2**attempt), 1.0))
        left = sum(len(v) for v in pending.values())
        raise RuntimeError(f"DynamoDB left {left} request log item(s) unprocessed after {_BATCH_ATTEMPTS} attempts")

    # -- reads -------------------------------------------------------------
    def get(self, request_id: str) -> RequestLogEntry | None:
        response = self._client.get_item(TableName=self._table, Key={"request_id": codec.s(request_id)})
        item = response.get("Item")
        return None if item is None else self._entry(item)

    def _query_newest(self, index: str, key: str, value: str, limit: int) -> list[Item]:
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": codec.s(value)},
            "ScanIndexForward": False,
        }
        while len(items) < limit:
            response = self._client.query(Limit=limit - len(items), **kwargs)
            items.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        return items[:limit]

    def _newest_of_day(self, day: str, limit: int) -> list[Item]:
        """The day's newest ``limit`` items: each shard's newest, merged by time."""
        shards = [day] + [f"{day}#{shard}" for shard in range(DAY_SHARDS)]
        per_shard = [self._query_newest("by_day_time", "day", key, limit) for key in shards]
        merged = heapq.merge(*per_shard, key=lambda item: float(item["ts"]["N"]), reverse=True)
        return list(merged)[:limit]

    def recent(self, limit: int = 50, app: str | None = None) -> list[RequestLogEntry]:
        """Newest first. Without ``app``, reads the by_day_time index from today
        (UTC) backwards over at most ``lookback_days`` days, today included."""
        if limit <= 0:
            return []
        if app is not None:
            items = self._query_newest("by_app_time", "app", app, limit)
        else:
            items = []
            today = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
            for back in range(max(1, self._lookback_days)):
                day = (today - timedelta(days=back)).strftime("%Y-%m-%d")
                items.extend(self._newest_of_day(day, limit - len(items)))
                if len(items) >= limit:
                    break
        return [self._entry(item) for item in items]
