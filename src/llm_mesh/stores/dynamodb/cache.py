"""Response cache in DynamoDB (table ``cache``). TTL deletes lazily, so reads check
``expires_at`` themselves."""

from __future__ import annotations

import math
import time
from typing import Any

from llm_mesh.stores.dynamodb import codec


class DynamoCacheStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, key: str, now: float) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": codec.s(f"E#{key}"), "sk": codec.s("-")}
        ).get("Item")
        if not item or codec.get_float(item, "expires_at", 0.0) <= now:
            return None
        return codec.get_str(item, "value")

    def put(self, key: str, app: str, value: str, expires_at: float) -> None:
        self._client.put_item(TableName=self._table, Item={
            "pk": codec.s(f"E#{key}"), "sk": codec.s("-"), "app": codec.s(app), "value": codec.s(value),
            "expires_at": codec.num(math.ceil(expires_at)),
        })

    def put_vector(self, partition: str, entry_id: str, vector: bytes, value: str, expires_at: float) -> None:
        self._client.put_item(TableName=self._table, Item={
            "pk": codec.s(f"S#{partition}"), "sk": codec.s(f"{time.time():020.6f}#{entry_id}"),
            "vector": {"B": vector}, "value": codec.s(value), "expires_at": codec.num(math.ceil(expires_at)),
        })

    def vectors(self, partition: str, now: float, limit: int) -> list[tuple[bytes, str]]:
        found: list[tuple[bytes, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk", "FilterExpression": "expires_at > :now",
            "ExpressionAttributeValues": {":pk": codec.s(f"S#{partition}"), ":now": codec.num(now)},
            "ScanIndexForward": False, "Limit": limit,
        }
        while len(found) < limit:  # Limit counts items before the filter: page until enough live ones
            response = self._client.query(**kwargs)
            found.extend((bytes(item["vector"]["B"]), codec.get_str(item, "value")) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]
