"""Upstream faults through a real mesh server: each has its asserted client-visible outcome, and each
request still leaves exactly one request-log record with the status the client saw."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.fakes.openai_upstream import Behaviour, start_fake_openai
from tests.harness import serve_mesh
from tests.prove.faults import FAULTS, Fault, fault_routes, route_name

UPSTREAM_SECRET = "sk-prove-upstream-5b1e8c2d9a"


@pytest.fixture(scope="module")
def fake():
    with start_fake_openai() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def mesh(fake):
    routes = fault_routes("fake")
    routes["healthy"] = {"provider": "fake", "model": "gpt-4o"}
    routes["retry-429"] = {"provider": "fake", "model": "gpt-4o",
                           "retry": {"attempts": 2, "backoff_base": 0.01, "retry_after_max": 1}}
    routes["failover"] = {"targets": [{"provider": "fake", "model": "gpt-4o;status=503"},
                                      {"provider": "fake", "model": "gpt-4o"}]}
    routes["failover-stream-cut"] = {"targets": [{"provider": "fake", "model": "gpt-4o;cut_stream_after=1"},
                                                 {"provider": "fake", "model": "gpt-4o"}]}
    config = {
        "providers": {"fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "PROVE_UPSTREAM_KEY"}}},
        "routes": routes,
    }
    with serve_mesh(config, env={"PROVE_UPSTREAM_KEY": UPSTREAM_SECRET}) as running:
        yield running


@pytest.fixture(scope="module")
def http(mesh):
    with httpx.Client(base_url=mesh.root_url, headers={"Authorization": f"Bearer {mesh.api_key}"}, timeout=20) as c:
        yield c


def _body(route: str, stream: bool) -> dict:
    body = {"model": route, "messages": [{"role": "user", "content": "tell me one two three four five"}]}
    if stream:
        body["stream"] = True
    return body


def _events(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def _assert_error_shape(response: httpx.Response, code: str | None) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    assert UPSTREAM_SECRET not in response.text
    return body["error"]


def _logged(mesh, request_id: str):
    mesh.flush_logs()
    entry = mesh.runtime.stores.request_log.get(request_id)
    assert entry is not None, f"no request-log record for {request_id}"
    return entry


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_outcome(http, mesh, fake, fault: Fault):
    fake.reset()
    started = time.monotonic()
    response = http.post("/v1/chat/completions", json=_body(route_name(fault), fault.stream))
    elapsed = time.monotonic() - started
    if fault.known_issue and response.status_code != fault.status:
        assert response.status_code in (502, 503, 504) and elapsed < 2.0, response.text
        assert response.json()["error"]["type"] == "upstream_error"
        assert _logged(mesh, response.headers["x-mesh-request-id"]).status == response.status_code
        pytest.xfail(f"got {response.status_code} {response.json()['error']['code']}: {fault.known_issue}")
    assert response.status_code == fault.status, response.text
    request_id = response.headers["x-mesh-request-id"]
    if fault.stream_outcome is None:
        assert response.status_code >= 400
        error = _assert_error_shape(response, fault.code)
        assert error["message"]
        if fault.retry_after:
            assert response.headers.get("retry-after") == fault.retry_after
    else:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.text)
        assert events, response.text
        if fault.stream_outcome == "done":
            assert events[-1] == "[DONE]"
            text = "".join(
                (choice.get("delta") or {}).get("content") or ""
                for event in events[:-1] for choice in json.loads(event).get("choices", [])
            )
            assert text == "Echo: tell me one two three four five"
        else:
            assert "[DONE]" not in events, "a cut stream must never end with a clean [DONE]"
            last = json.loads(events[-1])
            assert set(last) == {"error"} and last["error"]["message"], last
            assert any(json.loads(e).get("choices") for e in events[:-1]), "content arrived before the cut"
            entry = _logged(mesh, request_id)
            assert entry.status >= 500 and entry.error_code == last["error"]["code"], entry
            return
    if fault.route_extra and "timeout" in fault.route_extra:
        assert elapsed < 2.5, f"the target timeout did not bound the wait ({elapsed:.2f} s)"
    entry = _logged(mesh, request_id)
    assert entry.status == fault.status


def test_429_with_short_retry_after_is_retried_and_succeeds(http, mesh, fake):
    fake.reset()
    fake.queue(Behaviour(status=429, retry_after=0.2))
    started = time.monotonic()
    response = http.post("/v1/chat/completions", json=_body("retry-429", False))
    assert response.status_code == 200, response.text
    assert response.headers["x-mesh-attempts"] == "2"
    assert time.monotonic() - started >= 0.15, "Retry-After was honoured before retrying"
    assert len(fake.requests) == 2


def test_503_fails_over_to_the_next_target(http, mesh, fake):
    fake.reset()
    response = http.post("/v1/chat/completions", json=_body("failover", False))
    assert response.status_code == 200, response.text
    assert response.headers["x-mesh-fallback-reason"].startswith("fake:")
    assert _logged(mesh, response.headers["x-mesh-request-id"]).status == 200


def test_stream_cut_before_content_fails_over(http, mesh, fake):
    fake.reset()
    response = http.post("/v1/chat/completions", json=_body("failover-stream-cut", True))
    assert response.status_code == 200, response.text
    assert _events(response.text)[-1] == "[DONE]"
    assert response.headers.get("x-mesh-fallback-reason")


def test_faults_never_leak_the_upstream_key_or_logs(http, mesh, fake, caplog):
    fake.reset()
    with caplog.at_level("DEBUG"):
        for fault in FAULTS[:6]:
            http.post("/v1/chat/completions", json=_body(route_name(fault), fault.stream))
    assert UPSTREAM_SECRET not in caplog.text
