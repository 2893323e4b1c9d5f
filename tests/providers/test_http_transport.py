"""The upstream transport per place: aiohttp's pool where many requests share the process
(``mesh serve``), httpx's own on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set), where an instance
serves one request at a time and the aiohttp import would only lengthen the cold start. On
Lambda's transport a chat still answers, and a connection the upstream resets still reads as
the upstream being unavailable (503 ``upstream_unavailable`` in the OpenAI error shape), never a timeout."""

from __future__ import annotations

import httpx
import openai
import pytest

from llm_mesh.providers.http_base import aiohttp_transport
from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


def _config(upstream_url: str) -> dict:
    return {"providers": {"up": {"kind": "openai", "base_url": upstream_url, "api_key": {"env": "FAKE_KEY"}}},
            "routes": {"chat": {"provider": "up", "model": "gpt-4o-mini"},
                       "reset": {"provider": "up", "model": "gpt-4o-mini;reset_connection"}}}


def test_serve_uses_aiohttp_and_lambda_uses_httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert type(aiohttp_transport(LIMITS)).__name__ == "AiohttpTransport"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "llm-mesh-gateway")
    assert aiohttp_transport(LIMITS) is None  # the client falls back to httpx's AsyncHTTPTransport


def test_on_lambda_chat_answers_and_a_reset_connection_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "llm-mesh-gateway")
    with start_fake_openai() as upstream, serve_mesh(_config(upstream.base_url), env={"FAKE_KEY": "k"}) as mesh:
        client = openai.OpenAI(base_url=mesh.root_url + "/v1", api_key=mesh.api_key, max_retries=0)
        answer = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hello"}])
        assert answer.choices[0].message.content
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(model="reset", messages=[{"role": "user", "content": "hello"}])
    error = failed.value.response.json()["error"]
    assert failed.value.status_code == 503 and error["code"] == "upstream_unavailable", error
    assert error["message"].startswith("provider up connection failed"), error
