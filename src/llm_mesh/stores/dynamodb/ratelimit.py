"""Rate-limit windows in DynamoDB (table ``ratelimits``): one conditional ADD per hit."""

from __future__ import annotations

from typing import Any

from llm_mesh.stores.dynamodb import codec


class DynamoRateLimitStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _update(self, key: str, amount: int, expires_at: float, condition: str | None, limit: int = 0) -> int:
        values = {":n": codec.num(amount), ":exp": codec.num(int(expires_at))}
        kwargs: dict[str, Any] = {}
        if condition:
            kwargs["ConditionExpression"] = condition
            values[":max"] = codec.num(limit - amount)
        response = self._client.update_item(
            TableName=self._table, Key={"key": codec.s(key)},
            UpdateExpression="ADD #c :n SET expires_at = if_not_exists(expires_at, :exp)",
            ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW", **kwargs,
        )
        return codec.get_int(response["Attributes"], "count", 0)

    def hit(self, key: str, amount: int, limit: int, expires_at: float) -> int | None:
        if amount > limit:
            return None
        try:
            return self._update(key, amount, expires_at, "attribute_not_exists(#c) OR #c <= :max", limit)
        except self._client.exceptions.ConditionalCheckFailedException:
            return None

    def add(self, key: str, amount: int, expires_at: float) -> int:
        return self._update(key, amount, expires_at, None)
