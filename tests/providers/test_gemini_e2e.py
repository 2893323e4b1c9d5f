"""End to end: the official openai SDK -> a real mesh server -> the gemini provider -> the Gemini/Vertex fake."""

from __future__ import annotations

import json

import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.gemini_upstream import GeminiUpstream
from tests.harness import serve_mesh

KEY = "AIza-e2e-secret-0011"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}]


@pytest.fixture(scope="module")
def rsa_key():  # type: ignore[no-untyped-def]
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def upstream(rsa_key):  # type: ignore[no-untyped-def]
    with GeminiUpstream(api_key=KEY, public_key=rsa_key.public_key()) as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream, rsa_key):  # type: ignore[no-untyped-def]
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    service_account = json.dumps({
        "type": "service_account", "project_id": "e2e-project-1", "private_key_id": "k1", "private_key": pem,
        "client_email": "mesh@e2e-project-1.iam.gserviceaccount.com", "token_uri": upstream.token_uri,
    })
    config = {
        "providers": {
            "gemini": {"kind": "gemini", "base_url": upstream.base_url, "api_key": {"env": "GEMINI_API_KEY"}},
            "vertex": {"kind": "gemini", "base_url": upstream.base_url, "api_key": {"env": "VERTEX_SA_JSON"},
                       "options": {"platform": "vertex", "location": "us-east5"}},
        },
        "routes": {
            "chat": {"provider": "gemini", "model": "gemini-2.5-flash"},
            "vertex-chat": {"provider": "vertex", "model": "gemini-2.5-pro"},
            "embed": {"provider": "gemini", "model": "text-embedding-004"},
            "vertex-embed": {"provider": "vertex", "model": "text-embedding-005"},
            "limited": {"provider": "gemini", "model": "gemini-rate-limit"},
            "too-long": {"provider": "gemini", "model": "gemini-too-long"},
            "blocked": {"provider": "gemini", "model": "gemini-blocked"},
            "cut": {"provider": "gemini", "model": "gemini-2.5-flash-cut"},
        },
    }
    env = {"GEMINI_API_KEY": KEY, "VERTEX_SA_JSON": service_account}
    with serve_mesh(config, env=env) as running:
        yield running


@pytest.fixture()
def client(mesh):  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def test_chat(client, upstream) -> None:  # type: ignore[no-untyped-def]
    out = client.chat.completions.create(model="chat", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi mesh"}], max_tokens=50)
    assert out.choices[0].message.content == "Hello from gemini-2.5-flash! You said: hi mesh"
    assert out.choices[0].finish_reason == "stop"
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens > 0
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["generationConfig"]["maxOutputTokens"] == 50


def test_stream_with_usage(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "stream please"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gemini-2.5-flash! You said: stream please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_tools_round_trip(client, upstream) -> None:  # type: ignore[no-untyped-def]
    first = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "weather in Paris?"}],
                                           tools=TOOLS, tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    declaration = upstream.requests[-1].body["tools"][0]["functionDeclarations"][0]
    assert "additionalProperties" not in json.dumps(declaration)
    second = client.chat.completions.create(model="chat", tools=TOOLS, messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 19}'},
    ])
    assert second.choices[0].message.content == 'Tool results: get_weather={"temp_c": 19}'


def test_streamed_tool_call(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].function.name == "get_weather" and calls[0].id
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_vertex_chat_and_stream(client, upstream) -> None:  # type: ignore[no-untyped-def]
    out = client.chat.completions.create(model="vertex-chat", messages=[{"role": "user", "content": "via vertex"}])
    assert out.choices[0].message.content == "Hello from gemini-2.5-pro! You said: via vertex"
    chunks = list(client.chat.completions.create(
        model="vertex-chat", messages=[{"role": "user", "content": "via vertex"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("via vertex")
    vertex_calls = [r for r in upstream.requests if r.path.startswith("/v1/projects/")]
    assert vertex_calls[0].path == ("/v1/projects/e2e-project-1/locations/us-east5/publishers/google/models/"
                                    "gemini-2.5-pro:generateContent")
    assert all(r.headers["authorization"].startswith("Bearer ya29.fake-") for r in vertex_calls)


def test_embeddings(client) -> None:  # type: ignore[no-untyped-def]
    floats = client.embeddings.create(model="embed", input=["one", "two"], encoding_format="float", dimensions=16)
    assert [len(d.embedding) for d in floats.data] == [16, 16]
    default = client.embeddings.create(model="embed", input="one", dimensions=16)  # base64 on the wire
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    vertex = client.embeddings.create(model="vertex-embed", input=["three"], encoding_format="float", dimensions=12)
    assert len(vertex.data[0].embedding) == 12 and vertex.usage.prompt_tokens == 1


def test_errors_keep_their_meaning(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="too-long", messages=[{"role": "user", "content": "x"}])
    assert too_long.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as blocked:
        client.chat.completions.create(model="blocked", messages=[{"role": "user", "content": "x"}])
    assert blocked.value.body["code"] == "content_policy_violation"
    for error in (limited, too_long, blocked):
        assert KEY not in error.value.response.text


def test_cut_stream_is_an_explicit_error(client) -> None:  # type: ignore[no-untyped-def]
    stream = client.chat.completions.create(model="cut", messages=[{"role": "user", "content": "a b c d e f g h"}],
                                            stream=True)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
