"""End to end: the official openai SDK -> the mesh -> Azure OpenAI and Hugging Face TGI fakes."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.azure_openai_upstream import FakeAzureOpenAI
from tests.fakes.huggingface_upstream import FakeTGI

from tests.providers.e2e_helpers import openai_client, stream_text, tool_call_deltas

harness = pytest.importorskip("tests.harness")

TOOL = {"id": "call_e2e", "name": "get_weather", "arguments": '{"city":"Paris"}'}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def azure():
    with FakeAzureOpenAI() as fake:
        fake.serve_deployment("prod-gpt4o", tool_call=TOOL)
        fake.serve_deployment("embed-small")
        yield fake


@pytest.fixture(scope="module")
def tgi():
    with FakeTGI() as fake:
        fake.serve(tool_call=TOOL)
        yield fake


@pytest.fixture(scope="module")
def mesh(azure, tgi):
    config = {
        "providers": {
            "azure": {"kind": "azure_openai", "base_url": azure.url, "api_key": {"env": "E2E_AZURE_KEY"},
                      "options": {"deployments": {"gpt-4o": "prod-gpt4o", "text-embedding-3-small": "embed-small"}}},
            "tgi": {"kind": "huggingface", "base_url": tgi.url, "options": {"embeddings_api": "tei"}},
        },
        "routes": {
            "support-chat": {"provider": "azure", "model": "gpt-4o"},
            "azure-embed": {"provider": "azure", "model": "text-embedding-3-small"},
            "open-chat": {"provider": "tgi", "model": "tgi"},
            "open-embed": {"provider": "tgi", "model": "bge-small"},
        },
    }
    with harness.serve_mesh(config, env={"E2E_AZURE_KEY": "az-secret-e2e"}) as running:
        yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai_client(mesh)


@pytest.mark.parametrize("route, text", [("support-chat", "Hello from Azure"), ("open-chat", "Hello from TGI")])
def test_chat(client, route, text):
    result = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "hi"}])
    assert result.choices[0].message.content == text
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.total_tokens > 0


def test_azure_request_reached_the_deployment(client, azure):
    client.chat.completions.create(model="support-chat", messages=[{"role": "user", "content": "hi"}])
    sent = azure.requests_to("/openai/deployments/prod-gpt4o/chat/completions")[-1]
    assert sent.headers["api-key"] == "az-secret-e2e" and sent.query == {"api-version": ["2024-10-21"]}


@pytest.mark.parametrize("route, text", [("support-chat", "Hello"), ("open-chat", "Hello")])
def test_stream_with_usage(client, route, text):
    stream = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "hi"}], stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert stream_text(chunks) == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


@pytest.mark.parametrize("route", ["support-chat", "open-chat"])
def test_tools(client, route):
    result = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "weather?"}],
                                            tools=TOOLS)
    call = result.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    stream = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "weather?"}],
                                            tools=TOOLS, stream=True)
    deltas = tool_call_deltas(stream)
    assert deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas) == TOOL["arguments"]


@pytest.mark.parametrize("route, dims", [("azure-embed", 3), ("open-embed", 3)])
def test_embeddings(client, route, dims):
    result = client.embeddings.create(model=route, input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == dims


def test_azure_content_filter_reaches_the_client_as_400(client, azure):
    from tests.fakes.azure_openai_upstream import content_filter_error, json_reply

    azure.on("/openai/deployments/prod-gpt4o/chat/completions", json_reply(content_filter_error(), 400))
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="support-chat", messages=[{"role": "user", "content": "bad"}])
        assert caught.value.body["code"] == "content_policy_violation"
    finally:
        azure.serve_deployment("prod-gpt4o", tool_call=TOOL)
