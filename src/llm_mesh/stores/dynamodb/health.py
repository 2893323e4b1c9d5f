"""Shared circuit-breaker state in DynamoDB (table ``health``: partition key ``target``;
TTL on ``expires_at``). Item: failures (N), window_start (N), open_until (N; 0 = closed).

record_failure is atomic across instances without locks or read-modify-write races.
A failure falls in exactly one of four cases, each with a condition expression that
holds exactly when that case applies (the rules of routing.memory_health):

- ``count``:  window current, circuit not in half-open, count stays below threshold
              -> ADD failures 1
- ``trip``:   as ``count`` but the count reaches the threshold
              -> ADD failures 1, SET open_until = now + cooldown
- ``fresh``:  no item, no failures, or the window expired (and not half-open)
              -> SET failures = 1, window_start = now (open_until kept; set when threshold <= 1)
- ``reopen``: the cool-down ended (open_until in (0, now]): the half-open probe failed
              -> ADD failures 1, SET open_until = now + cooldown

Each attempt is one conditional UpdateItem. The counting cases use ADD, so concurrent
failures inside a window never conflict with each other. When the condition fails,
``ReturnValuesOnConditionCheckFailure=ALL_OLD`` returns the item as it is (a
consistent GetItem when the service does not), the right case is chosen from it and
tried again, a bounded number of times.
"""

from __future__ import annotations

import random
import re
import time
from decimal import Decimal
from typing import Any, Sequence

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.dynamodb.codec import Item
from llm_mesh.stores.interfaces import TargetHealth

TTL_MARGIN_S = 86400  # expires_at = now + max(window, cooldown) + one day
MAX_ATTEMPTS = 12
_BATCH_GET = 100  # BatchGetItem limit
_BATCH_ATTEMPTS = 8

_TOKEN = re.compile(r"[#:][A-Za-z_]+")
_NAMES = {"#t": "target", "#f": "failures", "#ws": "window_start", "#ou": "open_until", "#exp": "expires_at"}
_NOT_HALF_OPEN = "(attribute_not_exists(#ou) OR #ou <= :zero OR #ou > :now)"
_HALF_OPEN = "#ou > :zero AND #ou <= :now"
_CURRENT = f"{_NOT_HALF_OPEN} AND #f > :zero AND #ws >= :floor"
_EXPIRED = f"{_NOT_HALF_OPEN} AND (attribute_not_exists(#t) OR attribute_not_exists(#f) OR #f <= :zero OR #ws < :floor)"


def _dec(value: float | int) -> Decimal:
    return Decimal(codec.num(value)["N"])


def _health(target: str, item: Item | None) -> TargetHealth:
    if not item:
        return TargetHealth(target)
    return TargetHealth(
        target=target,
        failures=codec.get_int(item, "failures", 0),
        window_start=codec.get_float(item, "window_start", 0.0),
        open_until=codec.get_float(item, "open_until", 0.0),
    )


def choose_case(current: TargetHealth | None, now: float, threshold: int, window: float) -> str:
    """Which of the four cases one more failure is, given the current state."""
    if current is None:
        return "fresh"
    if current.open_until > 0 and now >= current.open_until:
        return "reopen"
    # Same comparison as the ``#ws >= :floor`` condition (exact decimals).
    if current.failures <= 0 or _dec(current.window_start) < _dec(now) - _dec(window):
        return "fresh"
    return "trip" if current.failures + 1 >= threshold else "count"


class DynamoTargetHealthStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- reads ---------------------------------------------------------------
    def get_health(self, targets: Sequence[str]) -> dict[str, TargetHealth]:
        """BatchGetItem (strongly consistent) in chunks of 100; unknown targets are absent."""
        wanted = list(dict.fromkeys(targets))
        found: dict[str, TargetHealth] = {}
        for start in range(0, len(wanted), _BATCH_GET):
            keys = [{"target": codec.s(t)} for t in wanted[start : start + _BATCH_GET]]
            for item in self._batch_get(keys):
                target = codec.get_str(item, "target")
                found[target] = _health(target, item)
        return found

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        items: list[Item] = []
        pending: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(_BATCH_ATTEMPTS):
            response = self._client.batch_get_item(RequestItems=pending)
            items.extend(response.get("Responses", {}).get(self._table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return items
            time.sleep(min(0.02 * (2**attempt), 0.5))
        left = sum(len(v.get("Keys", [])) for v in pending.values())
        raise RuntimeError(f"DynamoDB left {left} health key(s) unprocessed after {_BATCH_ATTEMPTS} attempts")

    def _get(self, target: str) -> TargetHealth | None:
        item = self._client.get_item(
            TableName=self._table, Key={"target": codec.s(target)}, ConsistentRead=True
        ).get("Item")
        return None if item is None else _health(target, item)

    # -- writes --------------------------------------------------------------
    def record_failure(self, target: str, now: float, threshold: int, window: float, cooldown: float) -> TargetHealth:
        values = {
            ":zero": codec.num(0),
            ":now": codec.num(float(now)),
            ":floor": {"N": str(_dec(now) - _dec(window))},
            ":one": codec.num(1),
            ":until": codec.num(float(now + cooldown)),
            ":exp": codec.num(int(now + max(window, cooldown) + TTL_MARGIN_S)),
            ":below": codec.num(int(threshold) - 1),
        }
        # First guess without reading: inside an outage the window is usually current.
        case = "count" if threshold > 1 else "trip"
        conflict = self._client.exceptions.ConditionalCheckFailedException
        for attempt in range(MAX_ATTEMPTS):
            update, condition = self._plan(case, threshold)
            used = set(_TOKEN.findall(update + " " + condition))
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key={"target": codec.s(target)},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={k: v for k, v in _NAMES.items() if k in used},
                    ExpressionAttributeValues={k: v for k, v in values.items() if k in used},
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return _health(target, response.get("Attributes"))
            except conflict as exc:
                item = getattr(exc, "response", {}).get("Item")
                current = _health(target, item) if item is not None else self._get(target)
                case = choose_case(current, now, threshold, window)
                if attempt >= 3:  # real contention on the same transition: spread the retries
                    time.sleep(random.uniform(0, 0.005 * attempt))
        raise RuntimeError(f"could not record a failure of {target} after {MAX_ATTEMPTS} conditional attempts")

    @staticmethod
    def _plan(case: str, threshold: int) -> tuple[str, str]:
        """(UpdateExpression, ConditionExpression) for one case."""
        if case == "reopen":
            return "ADD #f :one SET #ou = :until, #exp = :exp", _HALF_OPEN
        if case == "fresh":
            opens = "#ou = :until" if threshold <= 1 else "#ou = if_not_exists(#ou, :zero)"
            return f"SET #f = :one, #ws = :now, {opens}, #exp = :exp", _EXPIRED
        if case == "count":
            return "ADD #f :one SET #exp = :exp", f"{_CURRENT} AND #f < :below"
        return "ADD #f :one SET #ou = :until, #exp = :exp", f"{_CURRENT} AND #f >= :below"  # trip

    def record_success(self, target: str) -> None:
        self._client.delete_item(TableName=self._table, Key={"target": codec.s(target)})
