"""The Responses API in front of non-OpenAI providers, under a redact policy: the openai SDK's
``client.responses`` -> the mesh -> the anthropic, bedrock and gemini loopback fakes. For a plain
answer, a stream and a function call round trip, every byte the fake receives carries the
placeholder instead of the e-mail address, and the client gets the address back (restored) in the
text, the streamed deltas and the function call's arguments."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.fakes.bedrock_upstream import start_fake_bedrock
from tests.fakes.gemini_upstream import GeminiUpstream
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import fake_aws_credentials

KEY = "upstream-secret-clients-1"
EMAIL = "lena.fischer@contoso-mail.example"
PLACEHOLDER = "[EMAIL_1]"
TOOL = {"type": "function", "name": "get_order", "description": "Look an order up by its number.",
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]}}


def _anthropic(stack: contextlib.ExitStack) -> tuple[Any, dict[str, Any], str]:
    fake = stack.enter_context(start_fake_anthropic(api_key=KEY))
    return fake, {"kind": "anthropic", "base_url": fake.base_url, "api_key": {"env": "UP_KEY"}}, "claude-sonnet-4-5"


def _bedrock(stack: contextlib.ExitStack) -> tuple[Any, dict[str, Any], str]:
    stack.enter_context(fake_aws_credentials())
    fake = stack.enter_context(start_fake_bedrock())
    provider = {"kind": "bedrock", "options": {"region": "us-east-1", "endpoint_url": fake.url, "read_timeout": 10}}
    return fake, provider, "us.anthropic.claude-3-5-sonnet-20240620-v1:0"


def _gemini(stack: contextlib.ExitStack) -> tuple[Any, dict[str, Any], str]:
    fake = stack.enter_context(GeminiUpstream(api_key=KEY))
    return fake, {"kind": "gemini", "base_url": fake.base_url, "api_key": {"env": "UP_KEY"}}, "gemini-2.5-flash"


STARTS: dict[str, Callable[[contextlib.ExitStack], tuple[Any, dict[str, Any], str]]] = {
    "anthropic": _anthropic, "bedrock": _bedrock, "gemini": _gemini}


@pytest.fixture(params=sorted(STARTS))
def upstream(request: pytest.FixtureRequest) -> Iterator[tuple[openai.OpenAI, Any]]:
    with contextlib.ExitStack() as stack:
        fake, provider, model = STARTS[request.param](stack)
        config = {"providers": {"up": provider}, "routes": {"chat": {"provider": "up", "model": model}},
                  "policies": {"pii": {"actions": {"EMAIL": "redact"}, "restore_output": True}},
                  "governance": {"bindings": {"default": "pii"}}}
        mesh = stack.enter_context(serve_mesh(config, env={"UP_KEY": KEY}))
        yield openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0, timeout=20), fake


def sent_bodies(fake: Any) -> list[str]:
    """Every request body the fake received, as text."""
    out = []
    for record in fake.requests:
        body = getattr(record, "body", None)
        body = record.json if body is None else body
        out.append(body.decode() if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False))
    return out


def test_redacted_upstream_restored_to_the_client(upstream):
    client, fake = upstream
    answer = client.responses.create(model="chat", instructions="be brief", input=f"my email is {EMAIL}",
                                     max_output_tokens=64)
    assert answer.status == "completed" and f"my email is {EMAIL}" in answer.output_text

    with client.responses.stream(model="chat", input=f"write to {EMAIL} please", max_output_tokens=64) as stream:
        deltas = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert f"write to {EMAIL} please" in deltas and final.output_text == deltas

    ask = f"find the order for {EMAIL} [tool]"  # "[tool]": the anthropic fake calls a tool under tool_choice auto
    first = client.responses.create(model="chat", input=ask, tools=[TOOL], max_output_tokens=64)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_order" and isinstance(json.loads(call.arguments), dict)
    if "find the order" in call.arguments:  # the anthropic and bedrock fakes echo the ask (gemini's: a sample)
        assert EMAIL in call.arguments and PLACEHOLDER not in call.arguments
    second = client.responses.create(model="chat", tools=[TOOL], max_output_tokens=64, input=[
        {"role": "user", "content": ask},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": f"order 42 of {EMAIL}: shipped"}])
    # each fake quotes the tool's output back ("Tool said: ..."): the client reads the address again
    assert second.status == "completed" and f"order 42 of {EMAIL}: shipped" in second.output_text

    bodies = sent_bodies(fake)
    assert len(bodies) == 4 and all(EMAIL not in body and PLACEHOLDER in body for body in bodies)
    assert f"order 42 of {PLACEHOLDER}: shipped" in bodies[-1]  # the tool output was redacted too
