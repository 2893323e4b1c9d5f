"""Agent runs and steps in DynamoDB (table ``agent_runs``: partition ``run_id``, sort ``item``).

The run is item ``"run"``, each step item ``"step#<key>"``, each message of the run's
working conversation ``"msg#<index>"``; records travel as JSON in attribute ``data``
(runs also carry ``app``/``created_at`` for the ``by_app_time`` index). Steps and
messages may be larger than an item: they go through ``large_items`` (compressed,
then cut into parts). Steps and messages are single PutItems at their own keys, so
parallel tool calls never conflict; run updates are a conditional read-modify-write
on a ``version`` counter.
"""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.stores.dynamodb import codec
from llm_mesh.stores.dynamodb.large_items import LargeItems

_RUN = "run"
_ATTEMPTS = 8


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class DynamoAgentRunStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._large = LargeItems(client, table_name, "run_id", "item")

    def create_run(self, run: dict[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "run_id": codec.s(run["run_id"]), "item": codec.s(_RUN), "app": codec.s(run["app"]),
                    "agent": codec.s(run["agent"]), "created_at": codec.num(float(run["created_at"])),
                    "version": codec.num(0), "data": codec.s(_dumps(run)),
                },
                ConditionExpression="attribute_not_exists(run_id)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            pass  # a retried start: the run exists

    def _get(self, run_id: str) -> dict[str, Any] | None:
        return self._client.get_item(
            TableName=self._table, Key={"run_id": codec.s(run_id), "item": codec.s(_RUN)}, ConsistentRead=True
        ).get("Item")

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None:
        for _ in range(_ATTEMPTS):
            item = self._get(run_id)
            if item is None:
                return
            version = codec.get_int(item, "version", 0)
            data = {**json.loads(codec.get_str(item, "data") or "{}"), **fields}
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"run_id": codec.s(run_id), "item": codec.s(_RUN)},
                    UpdateExpression="SET #d = :d, #v = :next",
                    ConditionExpression="#v = :v",
                    ExpressionAttributeNames={"#d": "data", "#v": "version"},
                    ExpressionAttributeValues={":d": codec.s(_dumps(data)), ":v": codec.num(version),
                                               ":next": codec.num(version + 1)},
                )
                return
            except self._client.exceptions.ConditionalCheckFailedException:
                continue
        raise RuntimeError(f"could not update agent run {run_id} after {_ATTEMPTS} attempts")

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        item = self._get(run_id)
        return None if item is None else json.loads(codec.get_str(item, "data") or "{}")

    def put_step(self, run_id: str, key: str, step: dict[str, Any]) -> None:
        self._large.put(run_id, f"step#{key}", {**step, "key": key})

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        return [self._large.decode(run_id, item) for item in self._large.query_prefix(run_id, "step#")]

    def put_messages(self, run_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        for offset, message in enumerate(messages):
            self._large.put(run_id, f"msg#{start + offset:06d}", message)

    def messages(self, run_id: str, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        if stop is not None and stop <= start:
            return []
        stop_at = f"msg#{stop - 1:06d}" if stop is not None else None
        stored = self._large.query_prefix(run_id, "msg#", start_at=f"msg#{start:06d}", stop_at=stop_at)
        return [self._large.decode(run_id, item) for item in stored]

    def drop_messages(self, run_id: str) -> None:
        self._large.delete_prefix(run_id, "msg#")

    def list_runs(self, app: str, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table, "IndexName": "by_app_time", "KeyConditionExpression": "app = :a",
            "ExpressionAttributeValues": {":a": codec.s(app)}, "ScanIndexForward": False,
        }
        while len(out) < limit:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                run = json.loads(codec.get_str(item, "data") or "{}")
                if agent is None or run.get("agent") == agent:
                    out.append(run)
            if not page.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out[:limit]
