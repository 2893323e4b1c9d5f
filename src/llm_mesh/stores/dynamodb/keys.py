"""API keys in DynamoDB (table ``keys``: partition key key_hash; GSIs by_key_id, by_app)."""

from __future__ import annotations

from typing import Any, Iterator

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.dynamodb.codec import Item
from llm_mesh.stores.interfaces import ApiKeyRecord


def _item(record: ApiKeyRecord) -> Item:
    item: Item = {
        "key_hash": codec.s(record.key_hash),
        "key_id": codec.s(record.key_id),
        "app": codec.s(record.app),
        "prefix": codec.s(record.prefix),
        "created_at": codec.num(record.created_at),
    }
    if record.revoked_at is not None:
        item["revoked_at"] = codec.num(record.revoked_at)
    return item


def _record(item: Item) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=codec.get_str(item, "key_id"),
        app=codec.get_str(item, "app"),
        key_hash=codec.get_str(item, "key_hash"),
        prefix=codec.get_str(item, "prefix", ""),
        created_at=codec.get_float(item, "created_at"),
        revoked_at=codec.get_float(item, "revoked_at"),
    )


class DynamoApiKeyStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_key(self, record: ApiKeyRecord) -> None:
        self._client.put_item(TableName=self._table, Item=_item(record))

    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        # Strongly consistent: a revocation must be seen by the next request.
        response = self._client.get_item(
            TableName=self._table, Key={"key_hash": codec.s(key_hash)}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else _record(item)

    def _pages(self, operation: str, **kwargs: Any) -> Iterator[Item]:
        call = getattr(self._client, operation)
        while True:
            response = call(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def list_keys(self, app: str | None = None) -> list[ApiKeyRecord]:
        if app is not None:
            items = self._pages(
                "query",
                TableName=self._table,
                IndexName="by_app",
                KeyConditionExpression="#app = :app",
                ExpressionAttributeNames={"#app": "app"},
                ExpressionAttributeValues={":app": codec.s(app)},
                ScanIndexForward=False,
            )
            return [_record(item) for item in items]
        records = [_record(item) for item in self._pages("scan", TableName=self._table)]
        records.sort(key=lambda r: r.created_at, reverse=True)
        return records

    def revoke(self, key_id: str, at: float) -> bool:
        """Mark revoked; a key already revoked keeps its first revocation time."""
        response = self._client.query(
            TableName=self._table,
            IndexName="by_key_id",
            KeyConditionExpression="#kid = :kid",
            ExpressionAttributeNames={"#kid": "key_id", "#kh": "key_hash"},
            ExpressionAttributeValues={":kid": codec.s(key_id)},
            ProjectionExpression="#kh",
        )
        items = response.get("Items", [])
        if not items:
            return False
        revoked = False
        for item in items:  # normally exactly one
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"key_hash": item["key_hash"]},
                    UpdateExpression="SET #rev = if_not_exists(#rev, :at)",
                    ConditionExpression="attribute_exists(#kh) AND #kid = :kid",
                    ExpressionAttributeNames={"#rev": "revoked_at", "#kh": "key_hash", "#kid": "key_id"},
                    ExpressionAttributeValues={":at": codec.num(at), ":kid": codec.s(key_id)},
                )
                revoked = True
            except self._client.exceptions.ConditionalCheckFailedException:
                # Deleted or re-keyed between the index read and the update.
                continue
        return revoked
