"""Audit trail in DynamoDB (table ``audit``: partition key ``partition``, sort key ``seq`` (N);
GSI by_app_time (app, ts); no TTL).

append() reads the partition's last record (Query, newest first, Limit 1, strongly
consistent) and writes record seq + 1 with a conditional PutItem
(``attribute_not_exists``): two instances appending at once cannot both take a seq.
The loser gets the winner's item back (``ReturnValuesOnConditionCheckFailure``),
chains onto it and tries the next seq; after a few lost races it backs off with
full jitter (exponentially, capped) and re-reads the head, so 32+ writers on one hot
chain all get through instead of starving until a deadline. Records are immutable once
written (the functions' IAM allows PutItem but no UpdateItem/DeleteItem, and the code
only ever puts with ``attribute_not_exists``), so a record's prev_hash is always the
hash of the record really stored before it. Records are sealed with HMAC-SHA256 under
the chain key (``audit.keys``); an append that still fails raises ``AuditAppendFailed``
and the writers keep and retry it (``audit.hook``).

Reads for admins: ``query`` with an app uses the GSI; without one, and
``partitions()``, Scan the table (admin credentials; the functions only append).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.audit.chain import normalize_draft, seal
from llm_mesh.audit.keys import ChainKey
from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.dynamodb.codec import Item
from llm_mesh.stores.interfaces import GENESIS_HASH, AuditDraft, AuditRecord

APPEND_TIMEOUT_S = 30.0  # raise (the writer keeps the draft and retries) after this long losing races
BACKOFF_BASE_S = 0.005
BACKOFF_CAP_S = 0.5


class AuditAppendFailed(RuntimeError):
    """An append lost every seq race before its deadline; nothing was written."""


def _item(record: AuditRecord) -> Item:
    item: Item = {
        "partition": codec.s(record.partition),
        "seq": codec.num(record.seq),
        "record_id": codec.s(record.record_id),
        "ts": codec.num(record.timestamp),
        "app": codec.s(record.app),
        "principal": codec.s(record.principal),
        "route": codec.s(record.route),
        "provider": codec.s(record.provider),
        "model": codec.s(record.model),
        "endpoint": codec.s(record.endpoint),
        "status": codec.num(record.status),
        "decisions": codec.s(json.dumps(record.decisions, sort_keys=True, separators=(",", ":"), ensure_ascii=False)),
        "prompt_tokens": codec.num(record.prompt_tokens),
        "completion_tokens": codec.num(record.completion_tokens),
        "cost_usd": codec.s(record.cost_usd),
        "latency_ms": codec.num(record.latency_ms),
        "config_version": codec.s(record.config_version),
        "prev_hash": codec.s(record.prev_hash),
        "hash": codec.s(record.hash),
    }
    if record.purpose is not None:
        item["purpose"] = codec.s(record.purpose)
    if record.payload is not None:
        item["payload"] = codec.s(record.payload)
    return item


def _record(item: Item) -> AuditRecord:
    decisions = codec.get_str(item, "decisions")
    return AuditRecord(
        partition=codec.get_str(item, "partition"),
        seq=codec.get_int(item, "seq"),
        record_id=codec.get_str(item, "record_id", ""),
        timestamp=codec.get_float(item, "ts", 0.0),
        app=codec.get_str(item, "app", ""),
        principal=codec.get_str(item, "principal", ""),
        purpose=codec.get_str(item, "purpose"),
        route=codec.get_str(item, "route", ""),
        provider=codec.get_str(item, "provider", ""),
        model=codec.get_str(item, "model", ""),
        endpoint=codec.get_str(item, "endpoint", ""),
        status=codec.get_int(item, "status", 0),
        decisions=json.loads(decisions) if decisions else {},
        prompt_tokens=codec.get_int(item, "prompt_tokens", 0),
        completion_tokens=codec.get_int(item, "completion_tokens", 0),
        cost_usd=codec.get_str(item, "cost_usd", "0"),
        latency_ms=codec.get_float(item, "latency_ms", 0.0),
        config_version=codec.get_str(item, "config_version", ""),
        payload=codec.get_str(item, "payload"),
        prev_hash=codec.get_str(item, "prev_hash", ""),
        hash=codec.get_str(item, "hash", ""),
    )


def _newest_first(record: AuditRecord) -> tuple:
    return (-record.timestamp, record.partition, -record.seq)


class DynamoAuditStore:
    def __init__(
        self, client: Any, table_name: str, *, key: ChainKey | None = None, append_timeout_s: float = APPEND_TIMEOUT_S
    ) -> None:
        self._client = client
        self._table = table_name
        self._append_timeout_s = append_timeout_s
        self.key = key
        self.conflicts = 0  # seq races lost by this instance (a contention metric)
        self._window = 0.0  # back-off window (s), adapted to how contended the chains are

    # -- append --------------------------------------------------------------
    def _put_new(self, record: AuditRecord) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=_item(record),
            ConditionExpression="attribute_not_exists(#p)",
            ExpressionAttributeNames={"#p": "partition"},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def append(self, draft: AuditDraft) -> AuditRecord:
        values = normalize_draft(draft)  # validate before any I/O
        partition = values["partition"]
        last = self.head(partition)
        conflict = self._client.exceptions.ConditionalCheckFailedException
        deadline = time.monotonic() + self._append_timeout_s
        attempt = 0
        while True:
            seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
            record = seal(values, seq, prev_hash, self.key)
            try:
                self._put_new(record)
                self._window /= 2  # contention easing: try sooner next time
                return record
            except conflict as exc:
                attempt += 1
                self.conflicts += 1
                if time.monotonic() > deadline:
                    raise AuditAppendFailed(
                        f"could not append to audit partition {partition!r}:"
                        f" {attempt} lost races in {self._append_timeout_s:g}s"
                    ) from exc
                if attempt < 2 and self._window < BACKOFF_BASE_S:  # a rare race: chain onto the winner
                    item = getattr(exc, "response", {}).get("Item")
                    last = _record(item) if item else self.head(partition)
                    continue
                # Many writers on one chain: the window doubles with each loss and is kept across
                # appends (halved on success), so a busy chain settles to about one try at a time.
                self._window = min(BACKOFF_CAP_S, max(BACKOFF_BASE_S, self._window * 2))
                time.sleep(random.uniform(0, self._window))
                last = self.head(partition)

    # -- reads ---------------------------------------------------------------
    def _pages(self, operation: str, **kwargs: Any) -> Iterator[Item]:
        call = getattr(self._client, operation)
        while True:
            response = call(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def head(self, partition: str) -> AuditRecord | None:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": "partition"},
            ExpressionAttributeValues={":p": codec.s(partition)},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return _record(items[0]) if items else None

    def partition_records(self, partition: str) -> list[AuditRecord]:
        items = self._pages(
            "query",
            TableName=self._table,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": "partition"},
            ExpressionAttributeValues={":p": codec.s(partition)},
            ScanIndexForward=True,
            ConsistentRead=True,
        )
        return [_record(item) for item in items]

    def partitions(self) -> list[str]:
        items = self._pages(
            "scan", TableName=self._table, ProjectionExpression="#p", ExpressionAttributeNames={"#p": "partition"}
        )
        return sorted({codec.get_str(item, "partition") for item in items})

    def query(
        self,
        app: str | None = None,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Newest first; ``since`` inclusive, ``until`` exclusive. With ``app``: a Query on
        by_app_time; without: a Scan (admin use)."""
        if limit <= 0:
            return []
        expression = _Expression()
        if model is not None:
            expression.names["#m"] = "model"
            expression.values[":m"] = codec.s(model)
            expression.filters.append("#m = :m")
        if app is not None:
            return self._query_app(app, since, until, limit, expression)
        return self._scan(since, until, limit, expression)

    def _query_app(
        self, app: str, since: float | None, until: float | None, limit: int, expression: _Expression
    ) -> list[AuditRecord]:
        """One app's records through by_app_time, newest first, stopping at ``limit``."""
        names, values = expression.names, expression.values
        names["#app"] = "app"
        values[":app"] = codec.s(app)
        key = "#app = :app" + _time_key_condition(since, until, expression)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_app_time",
            "KeyConditionExpression": key,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if expression.filters:
            kwargs["FilterExpression"] = " AND ".join(expression.filters)
        found: list[AuditRecord] = []
        for item in self._pages("query", **kwargs):
            record = _record(item)
            if until is not None and record.timestamp >= until:
                continue
            found.append(record)
            if len(found) >= limit:
                break
        found.sort(key=_newest_first)
        return found

    def _scan(self, since: float | None, until: float | None, limit: int, expression: _Expression) -> list[AuditRecord]:
        """Every partition's records (a Scan: no key to query on), newest first."""
        names, values, filters = expression.names, expression.values, expression.filters
        if since is not None:
            names["#ts"] = "ts"
            values[":since"] = codec.num(float(since))
            filters.append("#ts >= :since")
        if until is not None:
            names["#ts"] = "ts"
            values[":until"] = codec.num(float(until))
            filters.append("#ts < :until")
        kwargs: dict[str, Any] = {"TableName": self._table}
        if filters:
            kwargs |= {
                "FilterExpression": " AND ".join(filters),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        records = [_record(item) for item in self._pages("scan", **kwargs)]
        records.sort(key=_newest_first)
        return records[:limit]


@dataclass
class _Expression:
    """The attribute names, values and filter clauses one Query or Scan is built from."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)


def _time_key_condition(since: float | None, until: float | None, expression: _Expression) -> str:
    """The sort-key clause on ``ts`` to append to a by_app_time key condition ("" for no bound)."""
    names, values = expression.names, expression.values
    if since is not None or until is not None:
        names["#ts"] = "ts"
    if since is not None and until is not None:
        values |= {":since": codec.num(float(since)), ":until": codec.num(float(until))}
        return " AND #ts BETWEEN :since AND :until"  # inclusive: ts == until is dropped by the caller
    if since is not None:
        values[":since"] = codec.num(float(since))
        return " AND #ts >= :since"
    if until is not None:
        values[":until"] = codec.num(float(until))
        return " AND #ts < :until"
    return ""
