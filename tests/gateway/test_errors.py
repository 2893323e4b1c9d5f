"""Bad input and bad credentials get a clear 4xx in OpenAI's error shape, never a 500."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.harness import serve_mesh


@pytest.fixture(scope="module")
def mesh():
    config = {
        "server": {"max_body_bytes": 4096},
        "providers": {"echo": {"kind": "echo"}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    }
    with serve_mesh(config) as running:
        yield running


@pytest.fixture(scope="module")
def http(mesh):
    with httpx.Client(base_url=mesh.root_url, headers={"Authorization": f"Bearer {mesh.api_key}"}) as client:
        yield client


def _assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    assert "Traceback" not in response.text
    assert response.headers["x-mesh-request-id"].startswith("req_")
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


GOOD = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature"),
        ({"model": "echo", "messages": []}, "messages"),
        ({"model": "echo", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0"),
        ({"model": "echo", "messages": [{"role": "user"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 10**30}, "n"),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}, None),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}}, None),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}],
          "response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
def test_invalid_requests_are_400_with_param(http, payload, param):
    error = _assert_error(http.post("/v1/chat/completions", json=payload), 400)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[1, 2]", b'"just a string"', b"\xff\xfe\x00garbage", b"[" * 5000 + b"]" * 5000,
     b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 1' + b"0" * 5000 + b"}"],
)
def test_malformed_bodies_are_400(http, raw):
    response = http.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    # an over-long body may hit the size limit first; both are clear 4xx answers
    assert response.status_code in (400, 413)
    _assert_error(response, response.status_code)


def test_oversize_body_is_413(http):
    payload = {"model": "echo", "messages": [{"role": "user", "content": "x" * 10_000}]}
    _assert_error(http.post("/v1/chat/completions", json=payload), 413, "request_too_large")


def test_oversize_chunked_body_is_413(http):
    def chunks():
        yield b'{"model": "echo", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"y" * 1000
        yield b'"}]}'

    _assert_error(http.post("/v1/chat/completions", content=chunks()), 413)


def test_unknown_model_is_404(http):
    _assert_error(http.post("/v1/chat/completions", json={**GOOD, "model": "gpt-17"}), 404, "model_not_found")


def test_missing_key_is_401(mesh):
    _assert_error(httpx.post(f"{mesh.base_url}/chat/completions", json=GOOD), 401)


@pytest.mark.parametrize("header", ["Bearer nope", "Basic abc", "Bearer", "mesh-abc"])
def test_bad_key_is_401(mesh, header):
    _assert_error(httpx.post(f"{mesh.base_url}/chat/completions", json=GOOD, headers={"Authorization": header}), 401)


def test_revoked_key_is_401(mesh):
    from llm_mesh.identity import new_key

    secret, record = new_key("test", mesh.runtime.stores.keys)
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.post(f"{mesh.base_url}/chat/completions", json=GOOD, headers=headers).status_code == 200
    assert mesh.runtime.stores.keys.revoke(record.key_id, time.time())
    _assert_error(httpx.post(f"{mesh.base_url}/chat/completions", json=GOOD, headers=headers), 401, "invalid_api_key")


def test_unknown_path_and_method(http):
    _assert_error(http.get("/v1/nothing-here"), 404)
    response = http.get("/v1/chat/completions")
    assert response.status_code == 405
    _assert_error(response, 405)


def test_embeddings_validation(http):
    _assert_error(http.post("/v1/embeddings", json={"model": "echo", "input": []}), 400)
    _assert_error(http.post("/v1/embeddings", json={"model": "echo", "input": "x", "encoding_format": "hex"}), 400)


def test_health_needs_no_auth(mesh):
    response = httpx.get(f"{mesh.root_url}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "store": "ok"}


def test_identity_headers_are_ignored_locally(mesh):
    # A client claiming an IAM identity locally gets nowhere.
    headers = {"x-amzn-request-context": '{"identity": {"userArn": "arn:aws:iam::1:role/admin"}}'}
    _assert_error(httpx.post(f"{mesh.base_url}/chat/completions", json=GOOD, headers=headers), 401)
