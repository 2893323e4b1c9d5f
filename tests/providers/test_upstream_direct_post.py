"""A whole-body upstream call (``post_json``) goes to aiohttp's session directly under ``mesh
serve``, skipping httpx's request and response models. It must behave as the httpx path did:
the provider's headers and a JSON content type are sent, a compressed answer is decoded, a
redirect is an error and never followed (it would carry the key to another host), a cookie one
answer sets never rides on the next call (one pooled session serves every app), and a pool
with every slot taken sheds the call as saturated."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from llm_mesh.errors import InvalidRequest, UpstreamError, UpstreamSaturated
from llm_mesh.providers.http_base import build_client, post_json

TIMEOUTS = SimpleNamespace(connect=5.0, read=5.0, pool=0.05)


class _Upstream(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        _Upstream.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                               "body": json.loads(body)})
        if self.path == "/v1/redirect":
            self.send_response(307)
            self.send_header("location", "http://elsewhere.invalid/steal")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if self.path == "/v1/slow":
            threading.Event().wait(0.5)
        payload = gzip.compress(json.dumps({"ok": True, "echo": json.loads(body)}).encode())
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", "gzip")
        self.send_header("set-cookie", "session=app-a-secret; Path=/")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def upstream(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)  # the aiohttp transport, as under mesh serve
    _Upstream.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # "localhost", not an IP: aiohttp's default jar ignores cookies from IP addresses
    yield f"http://localhost:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _run(coro_factory):
    async def main():
        return await coro_factory()

    return asyncio.run(main())


def test_headers_body_and_a_compressed_answer(upstream: str) -> None:
    async def call():
        client = build_client(upstream, TIMEOUTS, 4, {"authorization": "Bearer sk-up"})
        try:
            return await post_json(client, "up", "/chat", {"q": 1}, headers={"X-Extra": "yes"})
        finally:
            await client.aclose()

    answer = _run(call)
    assert answer == {"ok": True, "echo": {"q": 1}}
    sent = _Upstream.seen[0]
    assert sent["path"] == "/v1/chat" and sent["body"] == {"q": 1}
    assert sent["headers"]["authorization"] == "Bearer sk-up" and sent["headers"]["x-extra"] == "yes"
    assert sent["headers"]["content-type"] == "application/json"


def test_a_cookie_set_by_one_answer_never_rides_on_the_next_call(upstream: str) -> None:
    async def call():
        client = build_client(upstream, TIMEOUTS, 4, {})
        try:
            await post_json(client, "up", "/chat", {"app": "a"})
            await post_json(client, "up", "/chat", {"app": "b"})
            async with client.stream("POST", "/chat", content=b"{}") as response:  # the streamed path too
                await response.aread()
        finally:
            await client.aclose()

    _run(call)
    assert len(_Upstream.seen) == 3
    assert all("cookie" not in seen["headers"] for seen in _Upstream.seen), _Upstream.seen


def test_a_redirect_is_an_error_and_is_not_followed(upstream: str) -> None:
    async def call():
        client = build_client(upstream, TIMEOUTS, 4, {"authorization": "Bearer sk-up"})
        try:
            return await post_json(client, "up", "/redirect", {})
        finally:
            await client.aclose()

    with pytest.raises(UpstreamError) as failed:
        _run(call)
    assert not isinstance(failed.value, InvalidRequest)
    assert "307" in str(failed.value)
    assert [seen["path"] for seen in _Upstream.seen] == ["/v1/redirect"]


def test_every_slot_busy_sheds_the_call_as_saturated(upstream: str) -> None:
    async def call():
        client = build_client(upstream, TIMEOUTS, 1, {})
        try:
            slow = asyncio.ensure_future(post_json(client, "up", "/slow", {}))
            while not _Upstream.seen:  # the one slot is taken once the upstream has the slow call
                await asyncio.sleep(0.005)
            with pytest.raises(UpstreamSaturated):
                await post_json(client, "up", "/chat", {})
            return await slow
        finally:
            await client.aclose()

    assert _run(call)["ok"] is True
