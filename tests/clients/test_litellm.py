"""litellm as a client library: ``litellm.responses(model="openai/<route>", api_base=<mesh>)``,
unchanged, against the mesh: a plain answer, a native stream, and a function call round trip."""

from __future__ import annotations

import importlib
import json

import pytest

from tests.clients.conftest import last_upstream_messages, logged_calls

# litellm's own noise: pydantic on its ReadOnly TypedDicts, and the chat-style usage (with "cost") its
# stream logger writes back onto the final response (the mesh's created_at is asserted below instead).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
]

TOOL = {"type": "function", "name": "get_order", "description": "Look an order up by its number.",
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]}}


@pytest.fixture(scope="module")
def litellm():
    """Imported here, not at collection: litellm takes seconds to import, and every xdist worker collects
    every module. (tests/clients/conftest.py has set LITELLM_LOCAL_MODEL_COST_MAP: no fetch at import.)"""
    return importlib.import_module("litellm")


def test_responses_stream_and_function_call_through_the_mesh(litellm, mesh, fake):
    at = {"api_base": mesh.base_url, "api_key": mesh.key_for("litellm")}
    answer = litellm.responses(model="openai/gpt-4o", input="hello there", instructions="be brief", **at)
    assert answer.status == "completed" and answer.output[0].content[0].text == "Echo: hello there"
    assert answer.usage.input_tokens > 0 and answer.usage.output_tokens == 3
    assert last_upstream_messages(fake) == [{"role": "system", "content": "be brief"},
                                            {"role": "user", "content": "hello there"}]

    events = list(litellm.responses(model="openai/gpt-4o", input="count to three", stream=True, **at))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Echo: count to three"
    assert events[-1].response.usage.output_tokens == 4
    assert all(type(e.response.created_at) is int for e in events if hasattr(e, "response"))  # whole seconds

    first = litellm.responses(model="openai/gpt-4o", input="where is order 42?", tools=[TOOL], **at)
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_order" and "number" in json.loads(call.arguments)
    final = litellm.responses(model="openai/gpt-4o", tools=[TOOL], **at, input=[
        {"role": "user", "content": "where is order 42?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "shipped yesterday"}])
    assert final.output[0].type == "message" and final.output[0].content[0].text == "Echo: where is order 42?"
    assert last_upstream_messages(fake)[-1] == {"role": "tool", "tool_call_id": call.call_id,
                                                "content": "shipped yesterday"}

    with pytest.raises(litellm.NotFoundError, match="no-such-route"):  # the mesh's 404, mapped by litellm
        litellm.responses(model="openai/no-such-route", input="hi", **at)

    calls = logged_calls(mesh, "litellm", at_least=5)
    assert calls[:4] == [
        ("responses", "gpt-4o", False, 200), ("responses", "gpt-4o", True, 200),  # streamed natively, not faked
        ("responses", "gpt-4o", False, 200), ("responses", "gpt-4o", False, 200)]
    assert len(calls) == 5 and calls[4][0] == "responses" and calls[4][3] == 404
