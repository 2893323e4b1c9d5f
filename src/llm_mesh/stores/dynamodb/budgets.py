"""Budget counters in DynamoDB (table ``budgets``), atomic across Lambda instances.

Condition expressions cannot add, so the item keeps ``committed = spent + reserved``
alongside both. reserve() is one conditional UpdateItem: ADD committed and reserved
by the amount IF committed <= limit - amount (or the item is new). settle() is an
unconditional UpdateItem: ADD spent actual, reserved -held, committed actual - held.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.interfaces import BudgetState


def _state(key: str, item: dict[str, Any] | None) -> BudgetState:
    if not item:
        return BudgetState(key)
    return BudgetState(key, codec.get_int(item, "spent", 0), codec.get_int(item, "reserved", 0))


class DynamoBudgetStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float) -> BudgetState | None:
        if amount_nano > limit_nano:
            return None
        try:
            response = self._client.update_item(
                TableName=self._table, Key={"key": codec.s(key)},
                UpdateExpression="ADD committed :amt, reserved :amt SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression="attribute_not_exists(committed) OR committed <= :max",
                ExpressionAttributeValues={":amt": codec.num(amount_nano), ":max": codec.num(limit_nano - amount_nano),
                                           ":exp": codec.num(int(expires_at))},
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _state(key, response.get("Attributes"))

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float) -> BudgetState:
        response = self._client.update_item(
            TableName=self._table, Key={"key": codec.s(key)},
            UpdateExpression="ADD committed :delta, reserved :release, spent :actual"
                             " SET expires_at = if_not_exists(expires_at, :exp)",
            ExpressionAttributeValues={":delta": codec.num(actual_nano - reserved_nano),
                                       ":release": codec.num(-reserved_nano), ":actual": codec.num(actual_nano),
                                       ":exp": codec.num(int(expires_at))},
            ReturnValues="ALL_NEW",
        )
        return _state(key, response.get("Attributes"))

    def get(self, key: str) -> BudgetState:
        item = self._client.get_item(TableName=self._table, Key={"key": codec.s(key)}, ConsistentRead=True).get("Item")
        return _state(key, item)
