"""Hand-made hostile bodies against every POST endpoint the mesh declares: oversize (declared and
streamed), deeply nested JSON, huge numbers, invalid UTF-8, lone surrogates, NaN literals, NUL
bytes. Each answer is a 4xx in the endpoint's error shape (or a 2xx), never a 5xx, never a hang."""

from __future__ import annotations

import socket

import httpx
import pytest

from llm_mesh.http.app import create_app
from tests.harness import serve_mesh
from tests.hostile.common import assert_error_shape

LIMIT = 16_384
CONFIG = {
    "server": {"max_body_bytes": LIMIT},
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
}
MSG = b'"messages": [{"role": "user", "content": "hi"}]'

BODIES: dict[str, bytes] = {
    "empty": b"",
    "not json": b"{model: echo",
    "array": b"[1,2,3]",
    "nested 100k": b"[" * 100_000 + b"]" * 100_000,
    "nested objects 5k": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "nested inside a field": b'{"model": "echo", ' + MSG + b', "metadata": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    "huge integer": b'{"model": "echo", ' + MSG + b', "max_tokens": 1' + b"0" * 4000 + b"}",
    "huge float": b'{"model": "echo", ' + MSG + b', "temperature": 1e999999}',
    "NaN literal": b'{"model": "echo", ' + MSG + b', "temperature": NaN}',
    "negative zero tokens": b'{"model": "echo", ' + MSG + b', "max_tokens": -0}',
    "invalid utf-8": b'{"model": "echo", "messages": [{"role": "user", "content": "\xff\xfe\xc0\xaf"}]}',
    "lone surrogate": b'{"model": "echo", "messages": [{"role": "user", "content": "\\ud800"}]}',
    "NUL bytes": b'{"model": "echo\\u0000", "messages": [{"role": "user", "content": "a\\u0000b"}]}',
    "duplicate keys": b'{"model": "nope", "model": "echo", ' + MSG + b"}",
    "model is a number": b'{"model": 1e308, ' + MSG + b"}",
    "utf-16 body": '{"model": "echo"}'.encode("utf-16"),
    "just below limit": b'{"model": "echo", ' + MSG + b', "user": "' + b"a" * (LIMIT - 200) + b'"}',
}


@pytest.fixture(scope="module")
def mesh():
    with serve_mesh(CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def post_paths(mesh):
    spec = create_app(mesh.runtime).openapi()
    paths = sorted(p for p, ops in spec["paths"].items() if "post" in ops and "{" not in p)
    assert "/v1/chat/completions" in paths and "/v1/embeddings" in paths
    return paths


@pytest.fixture(scope="module")
def http(mesh):
    headers = {"Authorization": f"Bearer {mesh.api_key}", "x-api-key": mesh.api_key, "content-type": "application/json"}
    with httpx.Client(base_url=mesh.root_url, headers=headers, timeout=20) as client:
        yield client


KNOWN: dict[str, str] = {}  # hostile bodies with a known wrong outcome (none at present)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN[n])) if n in KNOWN else n for n in sorted(BODIES)
])
def test_hostile_body_on_every_post_endpoint(http, post_paths, name):
    for path in post_paths:
        response = http.post(path, content=BODIES[name])
        _check(path, response)


def _check(path: str, response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        body = None
    assert_error_shape(path, response.status_code, body, response.text)


def test_oversize_declared_and_streamed_bodies_are_413(http, post_paths):
    big = b'{"model": "echo", "x": "' + b"a" * (LIMIT * 4) + b'"}'

    def chunks():
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]

    for path in post_paths:
        declared = http.post(path, content=big)
        assert declared.status_code == 413, (path, declared.status_code, declared.text[:200])
        _check(path, declared)
        streamed = http.post(path, content=chunks())  # chunked: no Content-Length to trust
        assert streamed.status_code == 413, (path, streamed.status_code, streamed.text[:200])
        _check(path, streamed)


def test_lying_content_length_is_rejected(mesh):
    host, port = mesh.root_url.removeprefix("http://").split(":")
    for value in (b"-1", b"abc", b"99999999999999999999999", b"1"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer "
                         + mesh.api_key.encode() + b"\r\ncontent-length: " + value + b"\r\n\r\n{}")
            head = sock.recv(65536).split(b"\r\n", 1)[0]
        status = int(head.split(b" ")[1]) if head else 0
        assert 400 <= status < 500, (value, head)
