"""Replay events/*.json through functions/gateway/handler.py (mangum) against DynamoDB Local.

The real handler module is loaded from its file, with the environment the CDK stack
gives the function (MESH_CONFIG, MESH_TABLE_*, MESH_HOME=aws) plus
MESH_DYNAMODB_ENDPOINT pointing at DynamoDB Local. Identity comes only from
``requestContext.identity.userArn`` (the events also carry a spoofed header).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import textwrap
import uuid
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

CONFIG = textwrap.dedent(
    """
    version: 1
    providers:
      echo: {kind: echo}
    routes:
      support-chat: {provider: echo, model: echo-1}
      internal: {provider: echo, model: echo-2}
    apps:
      support-bot:
        routes: [support-chat]
        principals: [arn:aws:iam::123456789012:role/support-bot]
      admin:
        routes: "*"
        admin: true
        principals: [arn:aws:iam::123456789012:role/mesh-admin]
    """
)


def load_handler(module_name: str) -> ModuleType:
    """A fresh copy of functions/gateway/handler.py (its app is built on the first invocation)."""
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions/gateway/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, dynamodb_local_endpoint: str,
            dynamodb_local_client: Any) -> Iterator[ModuleType]:
    from llm_mesh.stores.dynamodb import create_tables
    from llm_mesh.stores.dynamodb.tables import TABLES

    tag = uuid.uuid4().hex[:8]
    names = {spec.logical: f"handler-{tag}-{spec.logical}" for spec in TABLES}
    create_tables(dynamodb_local_client, names)
    config = tmp_path_factory.mktemp("fn") / "mesh.yaml"
    config.write_text(CONFIG)
    from tests.fixtures.dynamodb_local import DUMMY_CREDENTIALS

    env = {
        "MESH_CONFIG": str(config),
        "MESH_HOME": "aws",
        "MESH_DYNAMODB_ENDPOINT": dynamodb_local_endpoint,
        # DynamoDB Local keeps tables per (access key, region): use the fixture's pair
        "AWS_DEFAULT_REGION": DUMMY_CREDENTIALS["region_name"],
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        **{spec.env_var: names[spec.logical] for spec in TABLES},
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        yield load_handler("gateway_handler_under_test")
    for name in names.values():
        dynamodb_local_client.delete_table(TableName=name)


def invoke(gateway: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    context = SimpleNamespace(aws_request_id=str(uuid.uuid4()), function_name="gateway", memory_limit_in_mb=1024,
                              get_remaining_time_in_millis=lambda: 29000)
    response = gateway.handler(event, context)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key.lower(), values[-1])
    body = response.get("body") or ""
    assert not response.get("isBase64Encoded")
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = body
    return response["statusCode"], headers, parsed


def assert_openai_error(body: Any, status: int) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert {"message", "type", "param", "code"} <= set(body["error"])
    assert "Traceback" not in json.dumps(body)


def test_health(gateway: ModuleType) -> None:
    status, _, body = invoke(gateway, load_event("health.json"))
    assert status == 200, body
    assert body["status"] == "ok"


def test_models_lists_only_the_callers_routes(gateway: ModuleType) -> None:
    status, headers, body = invoke(gateway, load_event("models.json"))
    assert status == 200, body
    assert [m["id"] for m in body["data"]] == ["support-chat"]  # not "internal", despite X-Mesh-App: spoofed-admin
    assert "x-mesh-request-id" in headers


def test_chat_completion(gateway: ModuleType) -> None:
    status, headers, body = invoke(gateway, load_event("chat_completions.json"))
    assert status == 200, body
    assert body["object"] == "chat.completion"
    assert body["usage"]["total_tokens"] > 0
    assert "Where is my order 42?" in json.dumps(body["choices"][0]["message"])
    assert headers["x-mesh-route"] == "support-chat"
    assert headers["x-mesh-provider"] == "echo"
    for name in ("x-mesh-request-id", "x-mesh-model", "x-mesh-overhead-ms"):
        assert name in headers


def test_malformed_body_is_a_400(gateway: ModuleType) -> None:
    status, _, body = invoke(gateway, load_event("chat_malformed.json"))
    assert status == 400
    assert_openai_error(body, status)


def test_unknown_model_is_a_404(gateway: ModuleType) -> None:
    status, _, body = invoke(gateway, load_event("chat_unknown_model.json"))
    assert status == 404
    assert_openai_error(body, status)


def test_unmapped_principal_is_a_403(gateway: ModuleType) -> None:
    event = copy.deepcopy(load_event("models.json"))
    event["requestContext"]["identity"]["userArn"] = "arn:aws:iam::999999999999:role/stranger"
    status, _, body = invoke(gateway, event)
    assert status == 403
    assert_openai_error(body, status)


def test_missing_identity_is_a_401_even_with_a_bearer_header(gateway: ModuleType) -> None:
    event = copy.deepcopy(load_event("models.json"))
    event["requestContext"]["identity"]["userArn"] = None
    event["headers"]["Authorization"] = "Bearer mesh-anything"
    event["multiValueHeaders"]["Authorization"] = ["Bearer mesh-anything"]
    status, _, body = invoke(gateway, event)
    assert status == 401
    assert_openai_error(body, status)


def test_requests_are_logged_to_dynamodb(gateway: ModuleType, dynamodb_local_client: Any) -> None:
    import os

    invoke(gateway, load_event("chat_completions.json"))
    items = dynamodb_local_client.scan(TableName=os.environ["MESH_TABLE_REQUESTS"])["Items"]
    assert any(item.get("app", {}).get("S") == "support-bot" for item in items)
