"""DynamoDB faults (throttling, unreachable endpoint) as the client sees them.

- /health answers 503 with the store reported unreachable (never a 500, never a hang);
- a request log that cannot be written never fails the request it describes (it is logged, without
  secrets), streamed or not;
- budgets fail closed when they cannot be checked (503), unless the budget says fail_open.

The DynamoDB stores run with the inline log writer (as on Lambda), against a boto3 client that raises
ProvisionedThroughputExceededException on every call, or against a closed loopback port.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from llm_mesh.config import parse_config
from llm_mesh.config.schema import MeshConfig
from llm_mesh.http.app import create_app
from llm_mesh.identity import ApiKeyAuthenticator, new_key
from llm_mesh.runtime import build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.stores.dynamodb import DynamoStores, open_dynamodb_stores
from llm_mesh.stores.dynamodb.request_log import DynamoRequestLogStore
from llm_mesh.stores.sqlite import open_sqlite_stores

pytest.importorskip("botocore")
from botocore.exceptions import ClientError  # noqa: E402

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"test": {"routes": "*"}},
}
TABLES = {"keys": "mesh-keys", "requests": "mesh-requests"}
CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hello there"}]}


class ThrottlingClient:
    """A boto3 DynamoDB client stand-in: every operation is throttled."""

    def __init__(self, code: str = "ProvisionedThroughputExceededException") -> None:
        self.code = code
        self.calls = 0

    def __getattr__(self, operation: str) -> Any:
        if operation.startswith("__"):
            raise AttributeError(operation)

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            raise ClientError({"Error": {"Code": self.code, "Message": "Rate of requests exceeds capacity"}},
                              operation)

        return call

    def close(self) -> None:
        return None


def dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


class MixedStores:
    """Keys on SQLite (so callers authenticate), request log on a failing DynamoDB."""

    def __init__(self, sqlite: Any, request_log: Any) -> None:
        self._sqlite = sqlite
        self.keys = sqlite.keys
        self.request_log = request_log
        self.health = None
        self.audit = None

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self._sqlite.close()


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "dummy"), ("AWS_SECRET_ACCESS_KEY", "dummy"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)


def _client(stores: Any) -> TestClient:
    config = parse_config(CONFIG, "<store faults>")
    runtime = build_runtime(config, stores, EnvSecretResolver({}), ApiKeyAuthenticator(config, stores.keys),
                            home="local", background_log=False)
    return TestClient(create_app(runtime), raise_server_exceptions=False)


@pytest.mark.parametrize("kind", ["throttled", "unreachable"])
def test_health_reports_the_store_unreachable_with_503(aws_env, kind):
    if kind == "throttled":
        stores = DynamoStores(ThrottlingClient(), TABLES)
    else:
        stores = open_dynamodb_stores(TABLES, endpoint_url=dead_endpoint(), region_name="us-east-1")
    with _client(stores) as client:
        started = time.monotonic()
        response = client.get("/health")
        assert time.monotonic() - started < 15
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "store": "unreachable"}


@pytest.mark.parametrize("kind", ["throttled", "unreachable"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_request_log_failure_never_fails_the_request(tmp_path: Path, aws_env, caplog, kind, stream):
    sqlite = open_sqlite_stores(tmp_path / "mesh.db")
    key, _ = new_key("test", sqlite.keys)
    if kind == "throttled":
        dynamo_client: Any = ThrottlingClient()
    else:
        dynamo_client = open_dynamodb_stores(TABLES, endpoint_url=dead_endpoint(), region_name="us-east-1").client
    stores = MixedStores(sqlite, DynamoRequestLogStore(dynamo_client, TABLES["requests"]))
    with caplog.at_level("ERROR"), _client(stores) as client:
        response = client.post("/v1/chat/completions", json={**CHAT, "stream": stream},
                               headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    if stream:
        assert response.text.rstrip().endswith("data: [DONE]")
    else:
        assert response.json()["choices"][0]["message"]["content"]
    assert "request log write failed" in caplog.text
    assert key not in caplog.text
    if kind == "throttled":
        assert dynamo_client.calls >= 1


@pytest.mark.parametrize("fail_open", [False, True], ids=["fail-closed", "fail-open"])
def test_budgets_fail_closed_when_the_store_cannot_be_checked(tmp_path: Path, aws_env, fail_open):
    """A hard budget whose DynamoDB store is throttled refuses the request (503) rather than
    letting unmetered spend through, unless the budget says fail_open."""
    from llm_mesh.stores.dynamodb.budgets import DynamoBudgetStore

    sqlite = open_sqlite_stores(tmp_path / "mesh.db")
    key, _ = new_key("test", sqlite.keys)
    stores = MixedStores(sqlite, sqlite.request_log)
    stores.budgets = DynamoBudgetStore(ThrottlingClient(), "mesh-budgets")  # type: ignore[attr-defined]
    stores.ledger = getattr(sqlite, "ledger", None)  # type: ignore[attr-defined]
    config = parse_config({**CONFIG, "costs": {"budgets": [
        {"name": "daily", "scope": "app", "match": "test", "period": "day", "limit_usd": "10", "mode": "hard",
         "fail_open": fail_open}]}}, "<budget faults>")
    runtime = build_runtime(config, stores, EnvSecretResolver({}), ApiKeyAuthenticator(config, stores.keys),
                            home="local", background_log=False)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        response = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    if fail_open:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and "budget" in error["message"].lower()
