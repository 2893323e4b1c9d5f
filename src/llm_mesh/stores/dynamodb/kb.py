"""Knowledge-base documents in DynamoDB (table ``kb_documents``: partition ``kb``, sort ``source``).

One item per ingested source: its sha256, title, the chunk ids it produced (JSON text in
``chunk_ids``) and when. Mirrors ``stores/sqlite/kb.py``.
"""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.kb.documents import DocumentRecord
from llm_mesh.stores.dynamodb import codec


def _record(item: dict[str, Any]) -> DocumentRecord:
    return DocumentRecord(
        kb=codec.get_str(item, "kb") or "", source=codec.get_str(item, "source") or "",
        content_hash=codec.get_str(item, "content_hash") or "", title=codec.get_str(item, "title") or "",
        chunk_ids=tuple(json.loads(codec.get_str(item, "chunk_ids") or "[]")),
        updated_at=codec.get_float(item, "updated_at", 0.0) or 0.0,
    )


class DynamoDocumentStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get_document(self, kb: str, source: str) -> DocumentRecord | None:
        item = self._client.get_item(TableName=self._table, Key={"kb": codec.s(kb), "source": codec.s(source)},
                                     ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def list_documents(self, kb: str) -> list[DocumentRecord]:
        out: list[DocumentRecord] = []
        request: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "kb = :k",
                                   "ExpressionAttributeValues": {":k": codec.s(kb)}, "ConsistentRead": True}
        while True:
            page = self._client.query(**request)
            out.extend(_record(i) for i in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return out  # the sort key orders by source
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_document(self, record: DocumentRecord) -> None:
        self._client.put_item(TableName=self._table, Item={
            "kb": codec.s(record.kb), "source": codec.s(record.source), "content_hash": codec.s(record.content_hash),
            "title": codec.s(record.title), "chunk_ids": codec.s(json.dumps(list(record.chunk_ids))),
            "updated_at": codec.num(float(record.updated_at)),
        })

    def delete_document(self, kb: str, source: str) -> bool:
        response = self._client.delete_item(TableName=self._table, Key={"kb": codec.s(kb), "source": codec.s(source)},
                                            ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))
