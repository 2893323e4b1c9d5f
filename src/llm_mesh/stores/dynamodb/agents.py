"""Agent runs and steps in DynamoDB (table ``agent_runs``: partition ``run_id``, sort ``item``).

The run is item ``"run"``, each step item ``"step#<key>"``; records travel as JSON in
attribute ``data`` (runs also carry ``app``/``created_at`` for the ``by_app_time``
index). Steps are single PutItems, so parallel tool calls never conflict; run
updates are a conditional read-modify-write on a ``version`` counter.
"""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.stores.dynamodb import codec

_RUN = "run"
_ATTEMPTS = 8


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class DynamoAgentRunStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

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
        self._client.put_item(
            TableName=self._table,
            Item={"run_id": codec.s(run_id), "item": codec.s(f"step#{key}"), "data": codec.s(_dumps({**step, "key": key}))},
        )

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "run_id = :r AND begins_with(#i, :p)",
            "ExpressionAttributeNames": {"#i": "item"},
            "ExpressionAttributeValues": {":r": codec.s(run_id), ":p": codec.s("step#")},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**request)
            out.extend(json.loads(codec.get_str(i, "data") or "{}") for i in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return out
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
