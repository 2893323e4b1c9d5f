"""Inputs that once answered 500, through the real HTTP API: non-finite and huge numbers in query
parameters and prompt references, bodies nested past what the wire models can serialize (with the
cache and a budget on, so both see the request), and an upstream answer nested that deep. Each is a
4xx (or the upstream's 502) in the OpenAI error shape; the answered requests keep their request-log,
ledger and audit records and leave no budget hold; a cache write that fails is counted, not raised."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.openai_upstream import Behaviour, start_fake_openai
from tests.harness import serve_mesh
from tests.hostile.common import openai_error

HUGE = "9" * 40  # past any 64-bit integer, under Python's int-parsing digit limit
DEEP = 300  # past pydantic's ~255-level serialization limit
HELLO = [{"role": "user", "content": "hello"}]


def _config(upstream_url: str, prompts_dir: str) -> dict:
    return {
        "providers": {"echo": {"kind": "echo"},
                      "up": {"kind": "openai", "base_url": upstream_url, "api_key": {"env": "FAKE_KEY"}}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"}, "up": {"provider": "up", "model": "gpt-4o-mini"}},
        "prompts": {"directory": prompts_dir},
        "governance": {"audit": {"enabled": True}},
        "costs": {"cache": {"ttl_seconds": 600, "default": {"temperature_any": True}},
                  "budgets": [{"name": "daily", "scope": "global", "period": "day", "limit_usd": "100", "mode": "hard"}]},
    }


@pytest.fixture(scope="module")
def upstream():
    with start_fake_openai() as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream, tmp_path_factory):
    config = _config(upstream.base_url, str(tmp_path_factory.mktemp("prompts")))
    with serve_mesh(config, env={"FAKE_KEY": "k"}) as running:
        with httpx.Client(base_url=running.root_url, headers={"Authorization": f"Bearer {running.api_key}"}) as c:
            made = c.post("/v1/mesh/prompts/greet/versions",
                          json={"route": "echo", "messages": [{"role": "system", "content": "Be kind."}]})
            assert made.status_code == 200, made.text
        yield running


@pytest.fixture()
def http(mesh):
    with httpx.Client(base_url=mesh.root_url, headers={"Authorization": f"Bearer {mesh.api_key}"}, timeout=30) as c:
        yield c


def _dropped_cache_writes(http: httpx.Client) -> float:
    scraped = http.get("/metrics")
    assert scraped.status_code == 200, scraped.text[:300]
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name == "mesh_dropped_writes_total" and sample.labels.get("kind") == "cache":
                return sample.value
    return 0.0


def _wait_until(condition, attempts: int = 400) -> bool:
    """Waits on the condition itself (polled), never on a fixed sleep."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.025)
    return condition()


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert openai_error(response.json()) and "Traceback" not in response.text, response.text[:300]
    return response.json()["error"]


@pytest.mark.parametrize("query", ["since=nan", "since=inf", "since=-inf", "until=NaN", "since=1e400", "until=-1e999"])
def test_non_finite_cost_times_are_refused(http, query):
    error = _error(http.get("/v1/mesh/costs?" + query), 400)
    assert "finite" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_reference_to_a_huge_version_is_not_found(http, stream):
    answer = http.post("/v1/chat/completions", json={"model": f"prompt:greet@{HUGE}", "messages": HELLO, "stream": stream})
    assert _error(answer, 404)["code"] == "prompt_not_found"


@pytest.mark.parametrize("query, status", [(f"from={HUGE}&to=1", 404), (f"from=1&to={HUGE}", 404),
                                           ("from=1e30&to=1", 400), ("from=-1&to=1", 404)])
def test_prompt_diff_of_out_of_range_versions(http, query, status):
    _error(http.get("/v1/mesh/prompts/greet/diff?" + query), status)


def test_moving_a_label_to_a_huge_version_is_not_found(http):
    _error(http.post("/v1/mesh/prompts/greet/labels/production", json={"version": int(HUGE)}), 404)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("where", ["metadata", "tool schema", "message content", "embeddings input"])
def test_a_body_nested_past_the_limit_is_refused_with_the_cache_and_a_budget_on(http, where):
    path, body = "/v1/chat/completions", '{"model": "up", "messages": [{"role": "user", "content": "hi"}]'
    if where == "metadata":
        body += ', "metadata": {"a": ' + _nested(DEEP) + "}}"
    elif where == "tool schema":
        schema = '{"type": "object", "properties": ' + '{"a": ' * DEEP + "{}" + "}" * DEEP + "}"
        body += ', "tools": [{"type": "function", "function": {"name": "f", "parameters": ' + schema + "}}]}"
    elif where == "message content":
        body = '{"model": "up", "messages": [{"role": "user", "content": ' + _nested(DEEP) + "}]}"
    else:
        path, body = "/v1/embeddings", '{"model": "up", "input": ' + _nested(DEEP) + "}"
    error = _error(http.post(path, content=body, headers={"content-type": "application/json"}), 400)
    assert "nested too deeply" in error["message"]


def test_a_schema_nested_within_the_limit_is_served(http):
    schema = '{"type": "object", "properties": ' + '{"a": ' * 40 + "{}" + "}" * 40 + "}"
    body = ('{"model": "up", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", '
            '"function": {"name": "f", "parameters": ' + schema + '}}], "tool_choice": "none"}')
    answer = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text[:300]


def _deep_answer() -> str:
    answer = {"id": "chatcmpl-deep", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
    return json.dumps(answer)[:-1] + ', "extra": ' + _nested(DEEP) + "}"


def _records_of(mesh, request_id: str) -> tuple[object, list]:
    """The request-log entry and the audit records of one request, once the background writers drained."""
    mesh.flush_logs()
    next(h for h in mesh.runtime.service.hooks if h.name == "audit").flush()
    audit = [r for r in mesh.runtime.stores.audit.query(limit=1000) if r.record_id == request_id]
    return mesh.runtime.stores.request_log.get(request_id), audit


def _no_budget_hold(mesh) -> None:
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert mesh.runtime.stores.budgets.get(f"daily#global#{day}").reserved_nano == 0


def test_an_upstream_answer_nested_past_the_limit_is_a_502_with_its_records(mesh, upstream, http):
    upstream.queue(Behaviour(body=_deep_answer()))
    answer = http.post("/v1/chat/completions", json={"model": "up", "messages": [{"role": "user", "content": "deep one"}]})
    error = _error(answer, 502)
    assert "nested" in error["message"]
    request_id = answer.headers["x-mesh-request-id"]
    logged, audit = _records_of(mesh, request_id)
    assert logged is not None and logged.status == 502
    assert [r.status for r in audit] == [502]
    _no_budget_hold(mesh)
    again = http.post("/v1/chat/completions", json={"model": "up", "messages": [{"role": "user", "content": "deep one"}]})
    assert again.status_code == 200 and again.headers.get("x-mesh-cache") == "miss"  # nothing was cached


def test_a_failing_cache_write_is_counted_and_the_answer_keeps_its_records(mesh, http):
    database = sqlite3.connect(mesh.data_dir / "mesh.db")
    tables = [row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%cache%'")]
    assert tables, "the SQLite store has a cache table"
    for table in tables:
        database.execute(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    database.commit()
    before = _dropped_cache_writes(http)
    try:
        answer = http.post("/v1/chat/completions", json={"model": "up", "messages": [{"role": "user", "content": "uncacheable"}]})
    finally:
        for table in tables:
            database.execute(f"DROP TRIGGER fail_{table}")
        database.commit()
        database.close()
    assert answer.status_code == 200, answer.text[:300]
    # the drop is counted on the mesh's own metrics (reported when the request is recorded)
    assert _wait_until(lambda: _dropped_cache_writes(http) == before + 1), _dropped_cache_writes(http)
    request_id = answer.headers["x-mesh-request-id"]
    logged, audit = _records_of(mesh, request_id)
    assert logged is not None and logged.status == 200 and [r.status for r in audit] == [200]
    assert any(r.request_id == request_id for r in mesh.runtime.stores.ledger.records(0, time.time() + 10))
    _no_budget_hold(mesh)
