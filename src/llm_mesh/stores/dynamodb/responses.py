"""Stored Responses API objects in DynamoDB (table ``responses``: partition ``pk`` =
``"<app>#<response id>"``, sort ``item``). The ``Response`` object is item ``"response"``,
the input items item ``"input"``; both travel through ``large_items`` (compressed, then cut
into parts past 400 KB) and carry ``expires_at``, the table's TTL attribute, as do their
parts. TTL deletes lazily, so reads check ``expires_at`` themselves."""

from __future__ import annotations

import math
from typing import Any

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.dynamodb.large_items import LargeItems

_RESPONSE = "response"
_INPUT = "input"


def _pk(app: str, response_id: str) -> str:
    return f"{app}#{response_id}"


class DynamoResponseStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._large = LargeItems(client, table_name, "pk", "item")

    def put(self, app: str, response: dict[str, Any], input_items: list[dict[str, Any]], expires_at: float) -> None:
        pk = _pk(app, response["id"])
        ttl = {"expires_at": codec.num(math.ceil(expires_at))}
        # The input first: a reader that finds the response finds its input items too.
        self._large.put(pk, _INPUT, input_items, extra=ttl, part_extra=ttl)
        self._large.put(pk, _RESPONSE, response, extra=ttl, part_extra=ttl)

    def _read(self, app: str, response_id: str, item: str, now: float) -> Any:
        pk = _pk(app, response_id)
        stored = self._client.get_item(
            TableName=self._table, Key={"pk": codec.s(pk), "item": codec.s(item)}, ConsistentRead=True
        ).get("Item")
        if not stored or (codec.get_float(stored, "expires_at", 0.0) or 0.0) <= now:
            return None
        return self._large.decode(pk, stored)

    def get(self, app: str, response_id: str, now: float) -> dict[str, Any] | None:
        return self._read(app, response_id, _RESPONSE, now)

    def input_items(self, app: str, response_id: str, now: float) -> list[dict[str, Any]] | None:
        if self._read(app, response_id, _RESPONSE, now) is None:
            return None  # a deleted or expired response has no input items, whatever is left of them
        return self._read(app, response_id, _INPUT, now)

    def delete(self, app: str, response_id: str) -> bool:
        pk = _pk(app, response_id)
        removed = self._large.delete_prefix(pk, _RESPONSE)  # the response first: it is what makes the entry visible
        removed += self._large.delete_prefix(pk, _INPUT)
        return removed > 0
