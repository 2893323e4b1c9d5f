"""The fake upstream is only useful if the official openai SDK parses it exactly as it parses OpenAI:
drive it with the SDK directly (no mesh in between)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, parse_model_directives, start_fake_openai

USER = [{"role": "user", "content": "what is the weather in Paris"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def fake():
    with start_fake_openai() as server:
        yield server


@pytest.fixture
def client(fake):
    fake.reset()
    with openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=5) as sdk:
        yield sdk


def test_chat_completion_object(client, fake):
    result = client.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=0.2, seed=7, user="u1")
    assert result.object == "chat.completion"
    assert result.id.startswith("chatcmpl-")
    assert result.model == "gpt-4o-mini"
    choice = result.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: what is the weather in Paris"
    assert choice.finish_reason == "stop"
    assert result.usage.completion_tokens == 7
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    assert result.usage.prompt_tokens_details.cached_tokens == 0
    sent = fake.last
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json == {"model": "gpt-4o-mini", "messages": USER, "temperature": 0.2, "seed": 7, "user": "u1"}


def test_answers_are_deterministic_and_honour_limits(client, fake):
    fake.behaviour = Behaviour(cached_tokens=4)
    first = client.chat.completions.create(model="m", messages=USER)
    second = client.chat.completions.create(model="m", messages=USER)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.usage.prompt_tokens_details.cached_tokens == 4
    short = client.chat.completions.create(model="m", messages=USER, max_completion_tokens=2)
    assert short.choices[0].message.content == "Echo: what"
    assert short.choices[0].finish_reason == "length"
    stopped = client.chat.completions.create(model="m", messages=USER, stop=[" weather"])
    assert stopped.choices[0].message.content == "Echo: what is the"
    many = client.chat.completions.create(model="m", messages=USER, n=2)
    assert [c.index for c in many.choices] == [0, 1]


def test_json_response_formats(client):
    obj = client.chat.completions.create(model="m", messages=USER, response_format={"type": "json_object"})
    assert json.loads(obj.choices[0].message.content) == {"echo": "what is the weather in Paris"}
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}}}
    result = client.chat.completions.create(
        model="m", messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}},
    )
    assert json.loads(result.choices[0].message.content) == {"n": 6, "ok": True}


def test_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: what is the weather in Paris"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_tool_call(client, fake):
    result = client.chat.completions.create(model="m", messages=USER, tools=[WEATHER_TOOL])
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "what is the weather in Paris", "days": 6, "unit": "c"}
    assert fake.last.json["tools"] == [WEATHER_TOOL]

    # the tool result comes back: with tool_choice auto the model answers in text
    follow = client.chat.completions.create(
        model="m",
        tools=[WEATHER_TOOL],
        messages=USER + [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert follow.choices[0].finish_reason == "stop"
    none = client.chat.completions.create(model="m", messages=USER, tools=[WEATHER_TOOL], tool_choice="none")
    assert none.choices[0].message.tool_calls is None


def test_streamed_tool_call_accumulates(client):
    stream = client.chat.completions.create(model="m", messages=USER, tools=[WEATHER_TOOL], stream=True,
                                            tool_choice={"type": "function", "function": {"name": "get_weather"}})
    args, name, ids, finish = "", None, set(), None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or ():
            assert delta.index == 0
            if delta.id:
                ids.add(delta.id)
            if delta.function and delta.function.name:
                name = delta.function.name
            if delta.function and delta.function.arguments:
                args += delta.function.arguments
    assert name == "get_weather" and len(ids) == 1 and finish == "tool_calls"
    assert json.loads(args)["city"] == "what is the weather in Paris"


def test_embeddings(client, fake):
    result = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], dimensions=8)
    assert result.object == "list" and result.model == "text-embedding-3-small"
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in result.data)
    assert abs(sum(v * v for v in result.data[0].embedding) - 1.0) < 1e-4
    assert result.usage.prompt_tokens == 2
    again = client.embeddings.create(model="text-embedding-3-small", input="alpha", dimensions=8, encoding_format="float")
    assert again.data[0].embedding == pytest.approx(result.data[0].embedding, abs=1e-6)
    assert fake.last.json["encoding_format"] == "float"
    default = client.embeddings.create(model="text-embedding-3-large", input="x")
    assert len(default.data[0].embedding) == 3072


def test_models_and_unprefixed_paths(client, fake):
    assert "gpt-4o" in [m.id for m in client.models.list().data]
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with openai.OpenAI(base_url=fake.root_url, api_key="k", max_retries=0) as bare:
        assert bare.chat.completions.create(model="m", messages=USER).choices[0].message.content
    assert fake.last.path == "/chat/completions"


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        (400, openai.BadRequestError, None),
        (401, openai.AuthenticationError, "invalid_api_key"),
        (403, openai.PermissionDeniedError, "permission_denied"),
        (404, openai.NotFoundError, "model_not_found"),
        (429, openai.RateLimitError, "rate_limit_exceeded"),
        (500, openai.InternalServerError, None),
        (503, openai.InternalServerError, None),
    ],
)
def test_error_statuses_become_sdk_exceptions(client, fake, status, error_class, code):
    fake.behaviour = Behaviour(status=status)
    with pytest.raises(error_class) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert info.value.status_code == status
    assert info.value.code == code
    assert set(info.value.body) == {"message", "type", "param", "code"}


def test_rate_limit_retry_after_and_sdk_retry(fake):
    fake.reset()
    fake.queue(Behaviour(status=429, retry_after=0.05))
    with openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=1) as sdk:
        result = sdk.chat.completions.create(model="m", messages=USER)  # retried after Retry-After
    assert result.choices[0].finish_reason == "stop"
    assert len(fake.requests) == 2
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"
    raw = httpx.post(fake.base_url + "/chat/completions", json={"model": "m;status=429;retry_after=3", "messages": USER})
    assert raw.status_code == 429 and raw.headers["retry-after"] == "3"
    assert raw.json()["error"]["type"] == "requests"


def test_model_name_directives(client):
    assert parse_model_directives("gpt;status=503;retry_after=1.5;malformed_json") == (
        "gpt", {"status": 503, "retry_after": 1.5, "malformed_json": True}
    )
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt;status=503", messages=USER)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt;nonsense=1", messages=USER)
    assert client.chat.completions.create(model="gpt", messages=USER).model == "gpt"


def test_latency(client, fake):
    fake.behaviour = Behaviour(latency_ms=80)
    started = time.perf_counter()
    client.chat.completions.create(model="m", messages=USER)
    assert time.perf_counter() - started >= 0.075


def test_slow_stream(client, fake):
    fake.behaviour = Behaviour(chunk_delay_ms=20)
    started = time.perf_counter()
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert time.perf_counter() - started >= 0.02 * (len(chunks) - 1) * 0.9


@pytest.mark.parametrize("style", ["close", "reset"])
def test_cut_stream_raises_in_sdk(client, fake, style):
    fake.behaviour = Behaviour(cut_stream_after=3, cut_style=style)
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="m", messages=USER, stream=True):
            received.append(chunk)
    assert 1 <= len(received) <= 3


def test_clean_cut_ends_without_done(fake):
    """A truncated stream that is well-formed HTTP: only a missing [DONE] and finish_reason show it."""
    fake.reset()
    fake.behaviour = Behaviour(cut_stream_after=2, cut_style="clean")
    body = httpx.post(fake.base_url + "/chat/completions", json={"model": "m", "messages": USER, "stream": True}).text
    assert body.count("data: ") == 2 and "[DONE]" not in body


def test_in_band_stream_error_raises_api_error(client, fake):
    fake.behaviour = Behaviour(stream_error_after=2, error_message="overloaded mid-stream")
    with pytest.raises(openai.APIError, match="overloaded mid-stream"):
        for _ in client.chat.completions.create(model="m", messages=USER, stream=True):
            pass


def test_malformed_json(client, fake):
    fake.behaviour = Behaviour(malformed_json=True)
    with pytest.raises(Exception):  # the SDK fails to decode the body
        client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(Exception):
        for _ in client.chat.completions.create(model="m", messages=USER, stream=True):
            pass


def test_reset_connection(client, fake):
    fake.behaviour = Behaviour(reset_connection=True)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER)
    fake.behaviour = Behaviour()
    assert client.chat.completions.create(model="m", messages=USER).choices  # the server survives


def test_queued_behaviours_then_default(client, fake):
    fake.queue(Behaviour(status=502), Behaviour(status=503))
    for status in (502, 503):
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="m", messages=USER)
        assert info.value.status_code == status
    assert client.chat.completions.create(model="m", messages=USER).choices


def test_required_api_key():
    with start_fake_openai(api_key="right") as fake:
        with openai.OpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0) as sdk:
            with pytest.raises(openai.AuthenticationError):
                sdk.models.list()
        with openai.OpenAI(base_url=fake.base_url, api_key="right", max_retries=0) as sdk:
            assert sdk.models.list().data


def test_bad_requests_get_openai_errors(fake):
    fake.reset()
    with httpx.Client(base_url=fake.base_url) as http:
        bad = http.post("/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
        assert http.post("/chat/completions", json={"model": "m", "messages": []}).json()["error"]["param"] == "messages"
        assert http.post("/embeddings", json={"model": "e", "input": "x", "dimensions": 0}).status_code == 400
        assert http.post("/nope", json={}).status_code == 404
        assert http.get("/chat/completions").status_code == 405


def test_keep_alive_pipelining_and_async(fake):
    """Several requests on one connection, sent back to back before reading any answer."""
    fake.reset()
    body = json.dumps({"model": "m", "messages": USER}).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%b" % (len(body), body))
    with socket.create_connection((fake.host, fake.port), timeout=5) as sock:
        sock.sendall(request * 3)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(b"}"):
            data += sock.recv(65536)
    assert data.count(b"Echo: what is the weather in Paris") == 3


async def test_async_sdk_concurrency(fake):
    import asyncio

    fake.reset()
    fake.behaviour = Behaviour(latency_ms=50)
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as sdk:
        started = time.perf_counter()
        results = await asyncio.gather(*(sdk.chat.completions.create(model="m", messages=USER) for _ in range(20)))
        elapsed = time.perf_counter() - started
    assert len(results) == 20 and elapsed < 0.9  # served concurrently, not one after another
