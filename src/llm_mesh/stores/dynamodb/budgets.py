"""Budget counters in DynamoDB (table ``budgets``), atomic across Lambda instances.

Condition expressions cannot add, so the item keeps ``committed = spent + reserved``
alongside both. reserve() is one conditional UpdateItem: ADD committed and reserved
by the amount IF committed <= limit - amount (or the item is new). settle() is an
unconditional UpdateItem: ADD spent actual, reserved -held, committed actual - held.

Holds with an expiry: a reservation made with a ``hold_id`` also SETs the attribute
``h:<hold_id>`` = {a: amount, u: hold_until} on the counter item, in the same
UpdateItem. The table has no sort key, and one item keeps the limit check a single
conditional write, so each hold is an attribute rather than an item of its own (an
item holds ~5,000 of them within DynamoDB's 400 KB). settle REMOVEs the attribute
IF it exists and moves the amount; a dead invocation's hold is never settled, so
when a reserve is refused, or on get, every expired hold is released: REMOVE it IF it
exists and ADD -amount to committed and reserved. The condition makes release and
settle exclusive (exactly one of them gives the amount back). A settle that finds
its hold already released charges the actual only. The counter item itself expires
(TTL ``expires_at``) after its period.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.interfaces import BudgetState

HOLD_PREFIX = "h:"


def _state(key: str, item: dict[str, Any] | None) -> BudgetState:
    if not item:
        return BudgetState(key)
    return BudgetState(key, codec.get_int(item, "spent", 0), codec.get_int(item, "reserved", 0))


def _expired(item: dict[str, Any] | None, now: float) -> list[tuple[str, int]]:
    out = []
    for name, value in (item or {}).items():
        hold = value.get("M") if name.startswith(HOLD_PREFIX) else None
        if hold and float(hold["u"]["N"]) <= now:
            out.append((name, int(hold["a"]["N"])))
    return out


class DynamoBudgetStore:
    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float, *,
                hold_id: str | None = None, hold_until: float | None = None) -> BudgetState | None:
        if amount_nano > limit_nano:
            return None
        for _ in range(2):  # a refusal releases any expired holds, then tries once more
            state = self._try_reserve(key, amount_nano, limit_nano, expires_at, hold_id, hold_until)
            if state is not None or not self._release_expired(key):
                return state
        return None

    def _try_reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float,
                     hold_id: str | None, hold_until: float | None) -> BudgetState | None:
        update = "ADD committed :amt, reserved :amt SET expires_at = if_not_exists(expires_at, :exp)"
        condition = "(attribute_not_exists(committed) OR committed <= :max)"
        values = {":amt": codec.num(amount_nano), ":max": codec.num(limit_nano - amount_nano),
                  ":exp": codec.num(int(expires_at))}
        extra: dict[str, Any] = {}
        if hold_id is not None:
            update += ", #h = :hold"
            condition += " AND attribute_not_exists(#h)"
            until = hold_until if hold_until is not None else expires_at
            values[":hold"] = {"M": {"a": codec.num(amount_nano), "u": codec.num(until)}}
            extra["ExpressionAttributeNames"] = {"#h": HOLD_PREFIX + hold_id}
        try:
            response = self._client.update_item(
                TableName=self._table, Key={"key": codec.s(key)}, UpdateExpression=update,
                ConditionExpression=condition, ExpressionAttributeValues=values, ReturnValues="ALL_NEW", **extra)
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _state(key, response.get("Attributes"))

    def _release_expired(self, key: str, item: dict[str, Any] | None = None) -> int:
        """Give back every expired hold of ``key``; how many this call released."""
        if item is None:
            item = self._client.get_item(TableName=self._table, Key={"key": codec.s(key)},
                                         ConsistentRead=True).get("Item")
        released = 0
        for name, amount in _expired(item, self._clock()):
            try:
                self._client.update_item(
                    TableName=self._table, Key={"key": codec.s(key)},
                    UpdateExpression="REMOVE #h ADD committed :neg, reserved :neg",
                    ConditionExpression="attribute_exists(#h)",
                    ExpressionAttributeNames={"#h": name}, ExpressionAttributeValues={":neg": codec.num(-amount)})
                released += 1
            except self._client.exceptions.ConditionalCheckFailedException:
                continue  # settled or released by another instance meanwhile
        return released

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float, *,
               hold_id: str | None = None) -> BudgetState:
        values = {":delta": codec.num(actual_nano - reserved_nano), ":release": codec.num(-reserved_nano),
                  ":actual": codec.num(actual_nano), ":exp": codec.num(int(expires_at))}
        update = "ADD committed :delta, reserved :release, spent :actual SET expires_at = if_not_exists(expires_at, :exp)"
        if hold_id is None:
            response = self._client.update_item(TableName=self._table, Key={"key": codec.s(key)},
                                                UpdateExpression=update, ExpressionAttributeValues=values,
                                                ReturnValues="ALL_NEW")
            return _state(key, response.get("Attributes"))
        try:
            response = self._client.update_item(
                TableName=self._table, Key={"key": codec.s(key)}, UpdateExpression=update + " REMOVE #h",
                ConditionExpression="attribute_exists(#h)", ExpressionAttributeNames={"#h": HOLD_PREFIX + hold_id},
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        except self._client.exceptions.ConditionalCheckFailedException:  # released as expired: charge the actual
            response = self._client.update_item(
                TableName=self._table, Key={"key": codec.s(key)},
                UpdateExpression="ADD committed :actual, spent :actual SET expires_at = if_not_exists(expires_at, :exp)",
                ExpressionAttributeValues={":actual": codec.num(actual_nano), ":exp": codec.num(int(expires_at))},
                ReturnValues="ALL_NEW")
        return _state(key, response.get("Attributes"))

    def get(self, key: str) -> BudgetState:
        item = self._client.get_item(TableName=self._table, Key={"key": codec.s(key)}, ConsistentRead=True).get("Item")
        if _expired(item, self._clock()):
            self._release_expired(key, item)
            item = self._client.get_item(TableName=self._table, Key={"key": codec.s(key)},
                                         ConsistentRead=True).get("Item")
        return _state(key, item)
