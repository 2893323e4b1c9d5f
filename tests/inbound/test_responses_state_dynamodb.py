"""Responses API state on the AWS home: a mesh serving on DynamoDB Local's tables keeps
responses in the ``responses`` table (TTL set), continues from them and deletes them,
through the official openai SDK over loopback HTTP."""

from __future__ import annotations

import json
import time
import uuid

import openai
import pytest

from tests.harness import serve_mesh


@pytest.fixture
def dynamo_mesh(dynamodb_local_endpoint, dynamodb_local_client, monkeypatch):
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores

    for key, value in {"AWS_ACCESS_KEY_ID": "dummy", "AWS_SECRET_ACCESS_KEY": "dummy",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    tag = uuid.uuid4().hex[:8]
    names = {logical: f"resp-{tag}-{logical}" for logical in ("keys", "requests", "responses")}  # the rest are optional
    create_tables(dynamodb_local_client, names)
    stores = open_dynamodb_stores(names, endpoint_url=dynamodb_local_endpoint, region_name="us-east-1")
    config = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
              "apps": {"test": {"routes": "*"}}}
    try:
        with serve_mesh(config, stores=stores) as running:
            yield running, names["responses"]
    finally:
        stores.close()
        for name in names.values():
            dynamodb_local_client.delete_table(TableName=name)


def test_store_continue_and_delete_on_dynamodb(dynamo_mesh, dynamodb_local_client):
    mesh, table = dynamo_mesh
    client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    first = client.responses.create(model="echo", input="remember 7")
    second = client.responses.create(model="echo", input="what number?", previous_response_id=first.id)
    assert [m["role"] for m in json.loads(second.output_text)["messages"]] == ["user", "assistant", "user"]
    assert client.responses.retrieve(second.id).output_text == second.output_text
    assert len(client.responses.input_items.list(second.id).data) == 3
    items = dynamodb_local_client.scan(TableName=table)["Items"]
    assert {item["item"]["S"] for item in items} == {"response", "input"}
    assert all(int(item["expires_at"]["N"]) > time.time() + 29 * 86_400 for item in items)  # TTL about 30 days out
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    assert {item["pk"]["S"] for item in dynamodb_local_client.scan(TableName=table)["Items"]} == {f"test#{second.id}"}
