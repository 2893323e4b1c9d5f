"""The openai and anthropic SDKs both work through the mesh against every provider fake.

One real mesh per provider kind (module-scoped, parametrized), each in front of that
provider's loopback fake (the same fakes the per-provider tests use). Through it, the
official openai SDK (/v1/chat/completions) and the official anthropic SDK (/v1/messages)
each do a chat, a stream and a tool call.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import anthropic
import openai
import pytest

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.fakes.azure_openai_upstream import FakeAzureOpenAI, ScriptedUpstream, openai_like_chat
from tests.fakes.bedrock_upstream import start_fake_bedrock
from tests.fakes.cohere_upstream import CohereUpstream
from tests.fakes.gemini_upstream import GeminiUpstream
from tests.fakes.huggingface_upstream import FakeTGI
from tests.fakes.openai_upstream import start_fake_openai
from tests.fakes.sagemaker_upstream import start_fake_sagemaker
from tests.fakes.snowflake_upstream import FakeCortex
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import (
    fake_aws_credentials,
    finish_reasons,
    openai_client,
    stream_text,
    streamed_arguments,
    tool_call_deltas,
)

KEY = "upstream-secret-matrix-1"
TOOL = {"id": "call_matrix", "name": "get_weather", "arguments": '{"city":"Paris"}'}
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                  "parameters": PARAMETERS}}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather for a city", "input_schema": PARAMETERS}]
# "[tool]" asks the fakes that need it (Anthropic's) to call a tool under tool_choice auto; AI21
# rejects forced tool choices, so every kind is asked the same way.
TOOL_PROMPT = "What is the weather in Paris? [tool]"


# ------------------------------------------------------- OpenAI-shaped scripted replies


def _completion(content: str | None = "Hello from the fake", tool_calls: list[dict[str, Any]] | None = None,
                finish_reason: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "cmpl-matrix", "object": "chat.completion", "created": 1732000000, "model": "served-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}


def _chunks(tool_call: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    head = {"id": "cmpl-matrix", "object": "chat.completion.chunk", "created": 1732000001, "model": "served-model"}

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        out = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        if usage:
            out["usage"] = usage
        return out

    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    if tool_call is not None:
        return [chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": tool_call["id"], "type": "function",
                                                            "function": {"name": tool_call["name"], "arguments": ""}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": tool_call["arguments"]}}]}),
                chunk({}, "tool_calls", usage)]
    return [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
            chunk({}, "stop", usage)]


def _scripted(path: str) -> ScriptedUpstream:
    fake = ScriptedUpstream()
    fake.on(path, openai_like_chat(_completion, _chunks, TOOL))
    return fake


# ------------------------------------------------------- one case per provider kind


@dataclass
class Case:
    """Starts the kind's fake (inside ``stack``) and returns the provider config and model to route to."""

    kind: str
    start: Callable[[contextlib.ExitStack], tuple[dict[str, Any], str]]
    env: dict[str, str] = field(default_factory=dict)


def _openai(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(start_fake_openai(api_key=KEY))
    return {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "MATRIX_KEY"}}, "gpt-4o-mini"


def _azure(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(FakeAzureOpenAI())
    fake.serve_deployment("prod-gpt4o", tool_call=TOOL)
    return {"kind": "azure_openai", "base_url": fake.url, "api_key": {"env": "MATRIX_KEY"},
            "options": {"deployments": {"gpt-4o": "prod-gpt4o"}}}, "gpt-4o"


def _anthropic(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(start_fake_anthropic(api_key=KEY))
    return {"kind": "anthropic", "base_url": fake.base_url, "api_key": {"env": "MATRIX_KEY"}}, "claude-sonnet-4-20250514"


def _bedrock(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(start_fake_bedrock())
    return ({"kind": "bedrock", "options": {"region": "us-east-1", "endpoint_url": fake.url, "read_timeout": 10}},
            "us.anthropic.claude-3-5-sonnet-20240620-v1:0")


def _sagemaker(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(start_fake_sagemaker())
    return ({"kind": "sagemaker", "options": {"region": "us-east-1", "endpoint_url": fake.url, "endpoint_name": "vllm-qwen",
                                               "payload_format": "vllm_openai", "read_timeout": 10}}, "qwen-7b")


def _gemini(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(GeminiUpstream(api_key=KEY))
    return {"kind": "gemini", "base_url": fake.base_url, "api_key": {"env": "MATRIX_KEY"}}, "gemini-2.5-flash"


def _cohere(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(CohereUpstream(api_key=KEY))
    return {"kind": "cohere", "base_url": fake.base_url, "api_key": {"env": "MATRIX_KEY"}}, "command-a-03-2025"


def _huggingface(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(FakeTGI())
    fake.serve(tool_call=TOOL)
    return {"kind": "huggingface", "base_url": fake.url, "api_key": {"env": "MATRIX_KEY"}}, "tgi"


def _snowflake(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(FakeCortex())
    fake.serve(tool_call=TOOL)
    return {"kind": "snowflake", "base_url": fake.url, "api_key": {"env": "MATRIX_KEY"}}, "claude-sonnet-4-5"


def _mistral(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(_scripted("/v1/chat/completions"))
    return {"kind": "mistral", "base_url": fake.url + "/v1", "api_key": {"env": "MATRIX_KEY"}}, "mistral-small-latest"


def _ai21(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    fake = stack.enter_context(_scripted("/studio/v1/chat/completions"))
    return {"kind": "ai21", "base_url": fake.url + "/studio/v1", "api_key": {"env": "MATRIX_KEY"}}, "jamba-mini"


def _databricks(stack: contextlib.ExitStack) -> tuple[dict[str, Any], str]:
    model = "databricks-meta-llama-3-3-70b-instruct"
    fake = stack.enter_context(_scripted(f"/serving-endpoints/{model}/invocations"))
    return {"kind": "databricks", "base_url": fake.url, "api_key": {"env": "MATRIX_KEY"}}, model


CASES = {case.kind: case for case in (
    Case("openai", _openai), Case("azure_openai", _azure), Case("anthropic", _anthropic), Case("bedrock", _bedrock),
    Case("sagemaker", _sagemaker), Case("gemini", _gemini), Case("cohere", _cohere),
    Case("huggingface", _huggingface), Case("snowflake", _snowflake), Case("mistral", _mistral),
    Case("ai21", _ai21), Case("databricks", _databricks),
)}


def test_every_provider_kind_is_in_the_matrix() -> None:
    from llm_mesh.providers.catalog import PROVIDER_KINDS

    assert set(PROVIDER_KINDS) - {"echo"} == set(CASES)  # echo has no upstream to fake


@pytest.fixture(scope="module", autouse=True)
def aws_env() -> Iterator[None]:
    with fake_aws_credentials("AKIDMESHMATRIX", "mesh-matrix-secret"):
        yield


@pytest.fixture(scope="module", params=sorted(CASES))
def mesh(request: pytest.FixtureRequest, aws_env: None) -> Iterator[Any]:
    case = CASES[request.param]
    with contextlib.ExitStack() as stack:
        provider, model = case.start(stack)
        config = {"providers": {"upstream": provider}, "routes": {"chat": {"provider": "upstream", "model": model}}}
        running = stack.enter_context(serve_mesh(config, env={"MATRIX_KEY": KEY}))
        yield running


@pytest.fixture()
def oai(mesh: Any) -> openai.OpenAI:
    return openai_client(mesh, timeout=20)


@pytest.fixture()
def ant(mesh: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0, timeout=20)


# ------------------------------------------------------- openai SDK


def test_openai_chat(oai: openai.OpenAI) -> None:
    out = oai.chat.completions.create(model="chat", messages=[{"role": "system", "content": "Be brief."},
                                                              {"role": "user", "content": "hi mesh"}], max_tokens=64)
    assert out.choices[0].message.content
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.completion_tokens > 0


def test_openai_stream(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model="chat", messages=[{"role": "user", "content": "stream me"}],
                                              stream=True, stream_options={"include_usage": True}, max_tokens=64))
    assert stream_text(chunks)
    assert finish_reasons(chunks) == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_tool_call(oai: openai.OpenAI) -> None:
    out = oai.chat.completions.create(model="chat", messages=[{"role": "user", "content": TOOL_PROMPT}],
                                      tools=OPENAI_TOOLS, max_tokens=64)
    assert out.choices[0].finish_reason == "tool_calls"
    call = out.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id
    assert isinstance(json.loads(call.function.arguments), dict)
    streamed = tool_call_deltas(oai.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": TOOL_PROMPT}], tools=OPENAI_TOOLS, stream=True, max_tokens=64))
    assert streamed and streamed[0].function.name == "get_weather"
    assert isinstance(streamed_arguments(streamed), dict)


# ------------------------------------------------------- anthropic SDK (/v1/messages)


def test_anthropic_chat(ant: anthropic.Anthropic) -> None:
    message = ant.messages.create(model="chat", max_tokens=64, system="Be brief.",
                                  messages=[{"role": "user", "content": "hi mesh"}])
    assert message.stop_reason == "end_turn" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.usage.output_tokens > 0


def test_anthropic_stream(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(model="chat", max_tokens=64, messages=[{"role": "user", "content": "stream me"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn"


def test_anthropic_tool_call(ant: anthropic.Anthropic) -> None:
    message = ant.messages.create(model="chat", max_tokens=64, tools=ANTHROPIC_TOOLS,
                                  messages=[{"role": "user", "content": TOOL_PROMPT}])
    assert message.stop_reason == "tool_use"
    (tool_use,) = [block for block in message.content if block.type == "tool_use"]
    assert tool_use.name == "get_weather" and isinstance(tool_use.input, dict) and tool_use.id
    with ant.messages.stream(model="chat", max_tokens=64, tools=ANTHROPIC_TOOLS,
                             messages=[{"role": "user", "content": TOOL_PROMPT}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [b.name for b in final.content if b.type == "tool_use"] == ["get_weather"]
