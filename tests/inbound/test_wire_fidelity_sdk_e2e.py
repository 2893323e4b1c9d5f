"""OpenAI's documented nulls and the request-id headers, through the official SDKs over loopback.

Keys OpenAI documents as present-but-null stay present: ``message.content`` on a tool-call
answer, ``message.refusal``, ``choices[].logprobs``, a running chunk's ``finish_reason`` and
the ``usage: null`` of every chunk but the last when usage was asked for. Every OpenAI-API
answer carries ``x-request-id`` and every Anthropic-API answer ``request-id``, both the mesh
request id, so the SDKs' ``_request_id`` / ``request_id`` is set."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.harness import serve_mesh

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def mesh():
    config = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}}}
    with serve_mesh(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


@pytest.fixture(scope="module")
def claude(mesh):
    return anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0)


def _sse_bodies(response) -> list[dict]:
    lines = [line for line in response.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
    return [json.loads(line[len("data: "):]) for line in lines]


def test_tool_call_answer_keeps_null_content_refusal_and_logprobs(client):
    raw = client.chat.completions.with_raw_response.create(
        model="echo", messages=HELLO, tools=[TOOL], tool_choice={"type": "function", "function": {"name": "lookup"}})
    [choice] = json.loads(raw.text)["choices"]
    assert choice["message"]["content"] is None and "content" in choice["message"]
    assert "refusal" in choice["message"] and choice["message"]["refusal"] is None
    assert "logprobs" in choice and choice["logprobs"] is None
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"][0]["function"]["name"] == "lookup"


def test_stream_chunks_keep_running_finish_reason_and_usage_null(client):
    with client.chat.completions.with_streaming_response.create(
            model="echo", messages=HELLO, stream=True, stream_options={"include_usage": True}) as response:
        bodies = _sse_bodies(response)
    *running, last = bodies
    assert last["choices"] == [] and last["usage"]["total_tokens"] > 0
    assert all("usage" in body and body["usage"] is None for body in running)
    finishes = [choice["finish_reason"] for body in running for choice in body["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert all("logprobs" in choice for body in running for choice in body["choices"])
    with client.chat.completions.with_streaming_response.create(model="echo", messages=HELLO, stream=True) as response:
        assert not any("usage" in body for body in _sse_bodies(response))  # only present when asked for


def test_openai_answers_carry_x_request_id(mesh, client):
    raw = client.chat.completions.with_raw_response.create(model="echo", messages=HELLO)
    assert raw.headers["x-request-id"] == raw.headers["x-mesh-request-id"].strip()
    assert raw.parse()._request_id == raw.headers["x-mesh-request-id"]
    embedded = client.embeddings.with_raw_response.create(model="echo", input="hi")
    assert embedded.parse()._request_id == embedded.headers["x-mesh-request-id"]
    listed = client.models.with_raw_response.list()
    assert listed.headers["x-request-id"] == listed.headers["x-mesh-request-id"]
    with client.chat.completions.with_streaming_response.create(model="echo", messages=HELLO, stream=True) as streamed:
        assert streamed.headers["x-request-id"] == streamed.headers["x-mesh-request-id"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-route", messages=HELLO)
    assert missing.value.request_id == missing.value.response.headers["x-mesh-request-id"]
    with pytest.raises(openai.AuthenticationError) as denied:
        openai.OpenAI(base_url=mesh.base_url, api_key="sk-wrong", max_retries=0).models.list()
    assert denied.value.request_id and denied.value.request_id.startswith("req_")


def test_anthropic_answers_carry_request_id(claude):
    raw = claude.messages.with_raw_response.create(model="echo", max_tokens=20, messages=HELLO)
    assert raw.headers["request-id"] == raw.headers["x-mesh-request-id"] and "x-request-id" not in raw.headers
    assert raw.parse()._request_id == raw.headers["x-mesh-request-id"]
    with claude.messages.stream(model="echo", max_tokens=20, messages=HELLO) as stream:
        assert stream.request_id == stream.response.headers["x-mesh-request-id"]
        stream.until_done()
    models = claude.models.with_raw_response.list()
    assert models.headers["request-id"] == models.headers["x-mesh-request-id"]
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="no-such-route", max_tokens=20, messages=HELLO)
    assert missing.value.request_id == missing.value.response.headers["x-mesh-request-id"]
