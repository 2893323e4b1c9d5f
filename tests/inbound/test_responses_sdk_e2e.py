"""The Responses API end to end: the official openai SDK's ``client.responses`` -> the mesh
(real HTTP) -> the echo double or the fake OpenAI upstream, non-streamed and streamed."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

EMAIL = "lena.fischer@contoso-mail.example"
TOOL = {"type": "function", "name": "get_order", "description": "Look an order up by its number.",
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]}}


@pytest.fixture(scope="module")
def mesh():
    with start_fake_openai() as fake:
        config = {
            "providers": {"echo": {"kind": "echo"},
                          "fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}}},
            "routes": {"echo": {"provider": "echo", "model": "echo-1"},
                       "gpt": {"provider": "fake", "model": "gpt-4o-mini"}},
            "policies": {"pii": {"actions": {"EMAIL": "redact"}, "restore_output": False}},
            "governance": {"bindings": {"routes": {"echo": "pii"}}},
            "apps": {"test": {"routes": "*", "admin": True}},
        }
        with serve_mesh(config, env={"FAKE_KEY": "k"}) as running:
            yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def test_string_input_with_instructions(client):
    response = client.responses.create(model="echo", input="hello there", instructions="be brief", max_output_tokens=50)
    assert response.status == "completed" and response.object == "response"
    sent = json.loads(response.output_text)  # the echo double answers with what went upstream
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    assert sent["max_completion_tokens"] == 50
    assert response.usage.input_tokens > 0 and response.usage.total_tokens >= response.usage.input_tokens


def test_items_json_schema_and_governance_apply(client):
    response = client.responses.create(
        model="echo",
        input=[{"role": "user", "content": [{"type": "input_text", "text": f"my email is {EMAIL}"}]}],
        text={"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object", "properties": {}}}})
    sent = json.loads(response.output_text)
    assert EMAIL not in response.output_text and "[EMAIL_1]" in sent["messages"][0]["content"][0]["text"]
    assert sent["response_format"]["type"] == "json_schema" and sent["response_format"]["json_schema"]["name"] == "answer"


def test_function_call_round_trip(client):
    first = client.responses.create(model="gpt", input="where is order 42?", tools=[TOOL])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_order" and json.loads(call.arguments) is not None
    second = client.responses.create(model="gpt", tools=[TOOL], input=[
        {"role": "user", "content": "where is order 42?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "shipped yesterday"},
    ])
    assert second.status == "completed" and second.output_text


def test_stream_events_arrive_in_the_documented_order(client):
    with client.responses.stream(model="echo", input="count to three") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert "response.output_text.delta" in kinds
    tail = [k for k in kinds if k != "response.output_text.delta"][-4:]
    assert tail == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                    "response.completed"]
    assert json.loads(final.output_text)["messages"][-1]["content"] == "count to three"
    assert final.usage is not None and final.usage.output_tokens > 0


def test_streamed_function_call(client):
    events = list(client.responses.create(model="gpt", input="where is order 7?", tools=[TOOL], stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    done = [e for e in events if e.type == "response.completed"][0]
    assert [item.type for item in done.response.output] == ["function_call"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_bad_input_is_a_400_in_openai_shape(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="echo", input="hi", tools=[{"type": "web_search"}])
    assert info.value.param == "tools[0].type"
    with pytest.raises(openai.NotFoundError) as info:  # conversation state: tests/inbound/test_responses_state_e2e.py
        client.responses.create(model="echo", input="hi", previous_response_id="resp_123")
    assert info.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nope", input="hi")


def test_openai_agents_default_agent_and_runner(mesh):
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # the SDK would export traces to api.openai.com
    seen: list[str] = []

    @agents.function_tool
    def get_order(number: str) -> str:
        """Look an order up by its number."""
        seen.append(number)
        return f"order {number} shipped yesterday"

    client = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    model = agents.OpenAIResponsesModel(model="gpt", openai_client=client)  # the SDK's default model class
    agent = agents.Agent(name="support", instructions="Answer about orders.", tools=[get_order], model=model)
    result = agents.Runner.run_sync(agent, "where is order 42?")
    assert seen and result.final_output
