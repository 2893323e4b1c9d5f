"""JSON records of any size in a DynamoDB table whose items are capped at 400 KB.

A record small enough travels inline (attribute ``data``, a string). A larger one is
zlib-compressed; if it still does not fit it is cut into parts, each its own item
under the same partition key (sort key ``part#<item>#<n>``) written *before* the
item that names them (``parts``), so a reader never finds an item whose parts are
missing. A 1 MB tool result in an agent run is the case this exists for.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any, Iterable

from llm_mesh.stores.dynamodb import codec

# Below the 400 KB item limit with room for the keys and the other attributes.
INLINE_LIMIT = 350_000
PART_SIZE = 350_000
_BATCH = 25
_ATTEMPTS = 8


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _part_key(item: str, n: int) -> str:
    return f"part#{item}#{n:04d}"


class LargeItems:
    """Read, write and delete records under (``partition`` = pk, ``sort`` = item) of one table."""

    def __init__(self, client: Any, table: str, partition: str, sort: str) -> None:
        self._client = client
        self._table = table
        self._pk = partition
        self._sk = sort

    def _key(self, pk: str, item: str) -> dict[str, Any]:
        return {self._pk: codec.s(pk), self._sk: codec.s(item)}

    def put(self, pk: str, item: str, record: Any, extra: dict[str, Any] | None = None,
            part_extra: dict[str, Any] | None = None) -> None:
        """Write ``record`` (any JSON value) as item ``item``, spilling into parts when large;
        ``part_extra`` are attributes every part carries too (a TTL, so parts expire with their item)."""
        text = dumps(record)
        attributes: dict[str, Any] = {**self._key(pk, item), **(extra or {})}
        if len(text.encode()) <= INLINE_LIMIT:
            attributes["data"] = codec.s(text)
        else:
            packed = zlib.compress(text.encode(), 6)
            if len(packed) <= INLINE_LIMIT:
                attributes["z"] = {"B": packed}
            else:
                pieces = [packed[i:i + PART_SIZE] for i in range(0, len(packed), PART_SIZE)]
                for n, piece in enumerate(pieces):
                    part = {**self._key(pk, _part_key(item, n)), **(part_extra or {}), "z": {"B": piece}}
                    self._client.put_item(TableName=self._table, Item=part)
                attributes["parts"] = codec.num(len(pieces))
        self._client.put_item(TableName=self._table, Item=attributes)

    def decode(self, pk: str, stored: dict[str, Any]) -> Any:
        """The record a stored item (as GetItem/Query return it) holds."""
        if "data" in stored:
            return json.loads(stored["data"]["S"])
        if "z" in stored:
            return json.loads(zlib.decompress(_bytes(stored["z"]["B"])))
        count = codec.get_int(stored, "parts", 0) or 0
        item = stored[self._sk]["S"]
        parts = [self._client.get_item(TableName=self._table, Key=self._key(pk, _part_key(item, n)),
                                       ConsistentRead=True)["Item"]["z"]["B"] for n in range(count)]
        return json.loads(zlib.decompress(b"".join(_bytes(p) for p in parts)))

    def query_prefix(self, pk: str, prefix: str, start_at: str | None = None,
                     stop_at: str | None = None) -> Iterable[dict[str, Any]]:
        """Every stored item of ``pk`` whose sort key starts with ``prefix`` (and sorts between
        ``start_at`` and ``stop_at``, both included, when given), ascending."""
        values = {":p": codec.s(pk), ":x": codec.s(prefix)}
        condition = "#p = :p AND begins_with(#s, :x)"
        if start_at is not None or stop_at is not None:
            # The highest code point sorts last in DynamoDB's UTF-8 byte order.
            condition = "#p = :p AND #s BETWEEN :lo AND :hi"
            values = {":p": codec.s(pk), ":lo": codec.s(start_at or prefix),
                      ":hi": codec.s(stop_at or prefix + "\U0010ffff")}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#p": self._pk, "#s": self._sk},
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**request)
            yield from page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete_prefix(self, pk: str, prefix: str) -> int:
        """Delete the items under ``prefix`` and their parts; returns how many items went."""
        keys = [self._key(pk, stored[self._sk]["S"]) for stored in self.query_prefix(pk, prefix)]
        keys += [self._key(pk, stored[self._sk]["S"]) for stored in self.query_prefix(pk, f"part#{prefix}")]
        for start in range(0, len(keys), _BATCH):
            pending: dict[str, Any] = {self._table: [{"DeleteRequest": {"Key": k}} for k in keys[start:start + _BATCH]]}
            for attempt in range(_ATTEMPTS):
                pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))  # DynamoDB hands back what it throttled
            else:
                raise RuntimeError(f"could not delete the items under {prefix!r} after {_ATTEMPTS} attempts")
        return len(keys)


def _bytes(value: Any) -> bytes:
    return bytes(value) if not isinstance(value, bytes) else value
