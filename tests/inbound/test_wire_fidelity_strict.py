"""Strict key-set comparison of the mesh's answers with the official SDKs' response types.

For every JSON object in an answer, the expected keys come from the SDK pydantic class it
parses into (``model_fields``): every required field, every field the API reference
documents as present-but-null (``DOCUMENTED_NULLABLE``, each checked to be an optional SDK
field), and optional fields only when they carry a value. Unknown keys, missing required
keys, missing documented nulls and undocumented nulls all fail. The walk follows the SDK
annotations (lists, Optional, discriminated unions by ``type``) into nested objects.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import anthropic
import anthropic.pagination
import anthropic.types as A
import openai
import openai.pagination
import openai.types as O
import pytest
from openai.types.chat import chat_completion as cc
from openai.types.chat import chat_completion_chunk as ck
from openai.types.chat import chat_completion_message as cm
from pydantic import BaseModel

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

# Present-but-null per the API references (OpenAI: chat object / streaming / completions objects;
# Anthropic: Messages API and streaming). Keyed by the SDK class the object parses into.
DOCUMENTED_NULLABLE: dict[type, frozenset[str]] = {
    cm.ChatCompletionMessage: frozenset({"content", "refusal"}),
    cc.Choice: frozenset({"logprobs"}),
    ck.Choice: frozenset({"finish_reason", "logprobs"}),
    O.CompletionChoice: frozenset({"logprobs"}),
    A.Message: frozenset({"stop_reason", "stop_sequence"}),
    A.raw_message_delta_event.Delta: frozenset({"stop_reason", "stop_sequence"}),
}
# ``usage``: null on every chunk but the last, when ``stream_options.include_usage`` is set.
WITH_USAGE = {ck.ChatCompletionChunk: frozenset({"usage"}), O.Completion: frozenset({"usage"})}

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
CLAUDE_TOOL = {"name": "lookup", "input_schema": {"type": "object", "properties": {}}}
HELLO = [{"role": "user", "content": "hello there"}]


def test_documented_nulls_are_optional_sdk_fields():
    for cls, names in {**DOCUMENTED_NULLABLE, **WITH_USAGE}.items():
        for name in names:
            field = cls.model_fields[name]
            assert not field.is_required() and type(None) in typing.get_args(field.annotation), (cls, name)


# ---------------------------------------------------------------- the walk
def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic classes an annotation can hold (through Optional, List, Union, Annotated)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []  # scalars, Literals, dicts (free-form objects such as tool input)


def _pick(candidates: list[type[BaseModel]], value: dict[str, Any], where: str) -> type[BaseModel]:
    if len(candidates) == 1:
        return candidates[0]
    for cls in candidates:
        kind = cls.model_fields.get("type")
        if kind is not None and value.get("type") in typing.get_args(kind.annotation):
            return cls
    raise AssertionError(f"{where}: no SDK class among {candidates} for type {value.get('type')!r}")


def key_problems(value: Any, cls: type[BaseModel], where: str = "$", extra_nullable: dict | None = None) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object for {cls.__name__}, got {type(value).__name__}"]
    fields = {(f.alias or name): f for name, f in cls.model_fields.items()}
    required = {name for name, f in fields.items() if f.is_required()}
    nullable = DOCUMENTED_NULLABLE.get(cls, frozenset()) | (extra_nullable or {}).get(cls, frozenset())
    problems = [f"{where}: unknown key {k!r} ({cls.__name__})" for k in sorted(set(value) - set(fields))]
    problems += [f"{where}: missing required key {k!r} ({cls.__name__})" for k in sorted(required - set(value))]
    problems += [f"{where}: missing documented null {k!r} ({cls.__name__})" for k in sorted(nullable - set(value))]
    problems += [f"{where}: undocumented null {k!r} ({cls.__name__})" for k, v in sorted(value.items())
                 if v is None and k in fields and k not in nullable and k not in required]
    for key, item in value.items():
        if key not in fields or item is None:
            continue
        candidates = _models_in(fields[key].annotation)
        if not candidates:
            continue
        for index, element in enumerate(item if isinstance(item, list) else [item]):
            here = f"{where}.{key}[{index}]" if isinstance(item, list) else f"{where}.{key}"
            problems += key_problems(element, _pick(candidates, element, here), here, extra_nullable)
    return problems


def assert_shape(value: Any, cls: type[BaseModel], extra_nullable: dict | None = None) -> None:
    problems = key_problems(value, cls, extra_nullable=extra_nullable)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(value)[:2000]


def _body(raw) -> Any:
    return raw.http_response.json()


def _sse(response) -> list[tuple[str | None, dict[str, Any]]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: ") and line != "data: [DONE]":
            events.append((name, json.loads(line[len("data: "):])))
    return events


# ---------------------------------------------------------------- the mesh
@pytest.fixture(scope="module")
def mesh():
    with start_fake_openai() as fake, start_fake_anthropic(api_key="ant") as ant:
        config = {
            "providers": {"echo": {"kind": "echo"},
                          "fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}},
                          "ant": {"kind": "anthropic", "base_url": ant.base_url, "api_key": {"env": "ANT_KEY"}}},
            "routes": {"echo": {"provider": "echo", "model": "echo-1"}, "gpt": {"provider": "fake", "model": "gpt-4o-mini"},
                       "claude": {"provider": "ant", "model": "claude-sonnet-4-20250514"}},
        }
        with serve_mesh(config, env={"FAKE_KEY": "k", "ANT_KEY": "ant"}) as running:
            yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


@pytest.fixture(scope="module")
def claude(mesh):
    return anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0)


@pytest.mark.parametrize("route", ["echo", "gpt", "claude"])
def test_chat_completion_plain_and_tool_call(client, route):
    # stop: the Anthropic upstream reports the sequence it hit; that stays out of the OpenAI answer.
    plain = _body(client.chat.completions.with_raw_response.create(model=route, messages=HELLO, stop=["there"]))
    assert_shape(plain, cc.ChatCompletion)
    assert "usage" in plain
    if route != "echo":  # the upstream stopped at the sequence
        assert plain["choices"][0]["message"]["content"] == "Echo: hello "
    called = _body(client.chat.completions.with_raw_response.create(
        model=route, messages=HELLO, tools=[TOOL], tool_choice={"type": "function", "function": {"name": "lookup"}}))
    assert_shape(called, cc.ChatCompletion)
    assert called["choices"][0]["message"]["tool_calls"][0]["type"] == "function"


@pytest.mark.parametrize("route", ["echo", "gpt", "claude"])
@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_stream_chunks(client, route, include_usage):
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    with client.chat.completions.with_streaming_response.create(model=route, messages=HELLO, stream=True, stop=["there"],
                                                                **options) as response:
        chunks = [body for _, body in _sse(response)]
    assert len(chunks) >= 3
    for chunk in chunks:
        assert_shape(chunk, ck.ChatCompletionChunk, WITH_USAGE if include_usage else None)
    assert ("usage" in chunks[-1]) is include_usage


def test_embeddings_and_models(client):
    assert_shape(_body(client.embeddings.with_raw_response.create(model="echo", input=["a", "b"])),
                 O.CreateEmbeddingResponse)
    assert_shape(_body(client.models.with_raw_response.list()), openai.pagination.SyncPage[O.Model])
    assert_shape(_body(client.models.with_raw_response.retrieve("echo")), O.Model)


def test_text_completions(client):
    assert_shape(_body(client.completions.with_raw_response.create(model="gpt", prompt="hi", n=2)), O.Completion)
    with client.completions.with_streaming_response.create(model="gpt", prompt="hi there", stream=True,
                                                           stream_options={"include_usage": True}) as response:
        for _, chunk in _sse(response):
            assert_shape(chunk, O.Completion, WITH_USAGE)


def test_anthropic_messages_plain_and_tool_use(claude):
    plain = _body(claude.messages.with_raw_response.create(model="echo", max_tokens=50, messages=HELLO))
    assert_shape(plain, A.Message)
    used = _body(claude.messages.with_raw_response.create(
        model="echo", max_tokens=50, messages=HELLO, tools=[CLAUDE_TOOL], tool_choice={"type": "any"}))
    assert_shape(used, A.Message)
    assert used["content"][0]["type"] == "tool_use"


@pytest.mark.parametrize("tools", [False, True])
def test_anthropic_stream_events(claude, tools):
    extra = {"tools": [CLAUDE_TOOL], "tool_choice": {"type": "any"}} if tools else {}
    with claude.messages.with_streaming_response.create(model="echo", max_tokens=50, messages=HELLO, stream=True,
                                                        **extra) as response:
        events = _sse(response)
    union = _models_in(A.RawMessageStreamEvent)
    seen = []
    for name, body in events:
        assert body["type"] == name
        seen.append(name)
        if name == "ping":
            assert body == {"type": "ping"}
            continue
        assert_shape(body, _pick(union, body, name))
    assert seen[0] == "message_start" and seen[-2:] == ["message_delta", "message_stop"]


def test_anthropic_models_and_count_tokens(claude):
    page = _body(claude.models.with_raw_response.list())
    assert_shape(page, anthropic.pagination.SyncPage[A.ModelInfo])
    assert_shape(_body(claude.models.with_raw_response.retrieve("echo")), A.ModelInfo)
    counted = claude.messages.with_raw_response.count_tokens(model="echo", messages=HELLO)
    assert_shape(_body(counted), A.MessageTokensCount)
