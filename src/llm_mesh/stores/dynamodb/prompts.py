"""The prompt catalogue in DynamoDB; mirrors ``stores/sqlite/prompts.py``.

Table ``prompts`` (partition ``name``, sort ``item``):
- ``v#<version, 8 digits>``: an immutable version (``PutItem`` with ``attribute_not_exists``);
- ``label#<label>``: where a label points; ``hist#<label>#<at>#<nonce>``: each move (newest
  first by querying backwards); a move writes both in one transaction;
- partition ``experiment#<name>``, item ``state``: an experiment's state (JSON).

Table ``prompt_outcomes`` (partition ``request_id``; sparse index ``by_experiment`` on
``experiment``/``ts``, set only inside experiments since key attributes cannot be empty):
one item per request rendered from a prompt, feedback attached with an ``UpdateItem``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any

from llm_mesh.prompts.store import LabelMove, Outcome, StoredVersion
from llm_mesh.stores.dynamodb import codec

_VERSION, _LABEL, _HISTORY = "v#", "label#", "hist#"


def _version_key(number: int) -> str:
    return f"{_VERSION}{number:08d}"


def _version(item: dict[str, Any]) -> StoredVersion:
    return StoredVersion(
        name=codec.get_str(item, "name") or "", version=codec.get_int(item, "version", 0) or 0,
        body=codec.get_str(item, "body") or "", content_hash=codec.get_str(item, "content_hash") or "",
        created_at=codec.get_float(item, "created_at", 0.0) or 0.0, author=codec.get_str(item, "author") or "",
    )


def _outcome_item(outcome: Outcome) -> dict[str, Any]:
    item = {"request_id": codec.s(outcome.request_id), "ts": codec.num(float(outcome.ts)),
            "data": codec.s(json.dumps(asdict(outcome), separators=(",", ":")))}
    if outcome.experiment:
        item["experiment"] = codec.s(outcome.experiment)
    return item


def _outcome(item: dict[str, Any]) -> Outcome:
    data = json.loads(codec.get_str(item, "data") or "{}")
    feedback = codec.get_float(item, "feedback")
    if feedback is not None or "comment" in item:
        data["feedback"], data["comment"] = feedback, codec.get_str(item, "comment")
    return Outcome(**data)


class DynamoPromptStore:
    def __init__(self, client: Any, prompts_table: str, outcomes_table: str) -> None:
        self._client = client
        self._prompts = prompts_table
        self._outcomes = outcomes_table

    def _query(self, table: str, **request: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request["TableName"] = table
        while True:
            page = self._client.query(**request)
            items.extend(page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _prefixed(self, name: str, prefix: str, forward: bool = True) -> list[dict[str, Any]]:
        return self._query(self._prompts, KeyConditionExpression="#n = :n AND begins_with(#i, :p)",
                           ExpressionAttributeNames={"#n": "name", "#i": "item"},
                           ExpressionAttributeValues={":n": codec.s(name), ":p": codec.s(prefix)},
                           ScanIndexForward=forward, ConsistentRead=True)

    # ------------------------------------------------------------ versions
    def put_version(self, version: StoredVersion) -> bool:
        try:
            self._client.put_item(TableName=self._prompts, Item={
                "name": codec.s(version.name), "item": codec.s(_version_key(version.version)),
                "version": codec.num(version.version), "body": codec.s(version.body),
                "content_hash": codec.s(version.content_hash), "created_at": codec.num(float(version.created_at)),
                "author": codec.s(version.author),
            }, ConditionExpression="attribute_not_exists(#i)", ExpressionAttributeNames={"#i": "item"})
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def get_version(self, name: str, version: int) -> StoredVersion | None:
        item = self._client.get_item(TableName=self._prompts, ConsistentRead=True,
                                     Key={"name": codec.s(name), "item": codec.s(_version_key(version))}).get("Item")
        return _version(item) if item else None

    def list_versions(self, name: str | None = None) -> list[StoredVersion]:
        if name is not None:
            return [_version(i) for i in self._prefixed(name, _VERSION)]
        items: list[dict[str, Any]] = []  # every prompt: an admin listing, a scan is fine
        request: dict[str, Any] = {"TableName": self._prompts, "FilterExpression": "begins_with(#i, :p)",
                                   "ExpressionAttributeNames": {"#i": "item"}, "ExpressionAttributeValues": {":p": codec.s(_VERSION)},
                                   "ConsistentRead": True}
        while True:
            page = self._client.scan(**request)
            items.extend(page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((_version(i) for i in items), key=lambda v: (v.name, v.version))

    # ------------------------------------------------------------ labels
    def get_labels(self, name: str) -> dict[str, int]:
        return {(codec.get_str(i, "item") or "")[len(_LABEL):]: codec.get_int(i, "version", 0) or 0
                for i in self._prefixed(name, _LABEL)}

    def move_label(self, move: LabelMove) -> None:
        history = f"{_HISTORY}{move.label}#{move.at:020.6f}#{uuid.uuid4().hex[:8]}"
        self._client.transact_write_items(TransactItems=[
            {"Put": {"TableName": self._prompts, "Item": {"name": codec.s(move.name), "item": codec.s(f"{_LABEL}{move.label}"),
                                                          "version": codec.num(move.version)}}},
            {"Put": {"TableName": self._prompts, "Item": {
                "name": codec.s(move.name), "item": codec.s(history), "label": codec.s(move.label),
                "version": codec.num(move.version), "at": codec.num(float(move.at)), "actor": codec.s(move.actor)}}},
        ])

    def label_history(self, name: str, label: str) -> list[LabelMove]:
        return [LabelMove(name, label, codec.get_int(i, "version", 0) or 0, codec.get_float(i, "at", 0.0) or 0.0,
                          codec.get_str(i, "actor") or "")
                for i in self._prefixed(name, f"{_HISTORY}{label}#", forward=False)]

    # ------------------------------------------------------------ outcomes
    def record_outcome(self, outcome: Outcome) -> None:
        self._client.put_item(TableName=self._outcomes, Item=_outcome_item(outcome))

    def set_feedback(self, request_id: str, score: float, comment: str | None) -> Outcome | None:
        try:
            self._client.update_item(
                TableName=self._outcomes, Key={"request_id": codec.s(request_id)},
                UpdateExpression="SET feedback = :f, #c = :c", ConditionExpression="attribute_exists(request_id)",
                ExpressionAttributeNames={"#c": "comment"},
                ExpressionAttributeValues={":f": codec.num(float(score)), ":c": codec.s(comment) if comment is not None else {"NULL": True}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return self.get_outcome(request_id)

    def get_outcome(self, request_id: str) -> Outcome | None:
        item = self._client.get_item(TableName=self._outcomes, Key={"request_id": codec.s(request_id)}, ConsistentRead=True).get("Item")
        return _outcome(item) if item else None

    def outcomes(self, experiment: str) -> list[Outcome]:
        if not experiment:
            return []  # outside experiments nothing is indexed
        items = self._query(self._outcomes, IndexName="by_experiment", KeyConditionExpression="experiment = :e",
                            ExpressionAttributeValues={":e": codec.s(experiment)})
        return [_outcome(i) for i in items]

    # ------------------------------------------------------------ experiment state
    def get_state(self, experiment: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._prompts, ConsistentRead=True,
                                     Key={"name": codec.s(f"experiment#{experiment}"), "item": codec.s("state")}).get("Item")
        return json.loads(codec.get_str(item, "state") or "{}") if item else None

    def set_state(self, experiment: str, state: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._prompts, Item={
            "name": codec.s(f"experiment#{experiment}"), "item": codec.s("state"), "state": codec.s(json.dumps(state))})
