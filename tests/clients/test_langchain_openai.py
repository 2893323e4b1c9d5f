"""langchain-openai's ``ChatOpenAI(use_responses_api=True)``, unchanged, against the mesh:
invoke, stream, and a bound tool called and answered (the Responses API function-call round trip)."""

from __future__ import annotations

import json

import langchain_openai
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool

from tests.clients.conftest import last_upstream_messages, logged_calls


@tool
def get_order(number: str) -> str:
    """Look an order up by its number."""
    return f"order {number} shipped yesterday"


def chat(mesh, route: str, app: str = "langchain"):
    return langchain_openai.ChatOpenAI(model=route, base_url=mesh.base_url, api_key=mesh.key_for(app),
                                       use_responses_api=True, max_retries=0)


def test_invoke_stream_and_tool_call_go_through_v1_responses(mesh, fake):
    answer = chat(mesh, "echo").invoke([("system", "be brief"), ("human", "hello there")])
    sent = json.loads(answer.text)  # the echo double answers with the chat body the mesh sent upstream
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    assert answer.response_metadata["status"] == "completed" and answer.id.startswith("resp_")
    assert answer.usage_metadata["input_tokens"] > 0 and answer.usage_metadata["output_tokens"] > 0

    chunks = list(chat(mesh, "echo").stream("count to three"))
    streamed = json.loads("".join(chunk.text for chunk in chunks))
    assert len(chunks) > 2 and streamed["stream"] is True
    assert streamed["messages"] == [{"role": "user", "content": "count to three"}]
    assert sum(chunk.usage_metadata["output_tokens"] for chunk in chunks if chunk.usage_metadata) > 0

    model = chat(mesh, "gpt").bind_tools([get_order])
    question = HumanMessage("where is order 42?")
    first = model.invoke([question])
    [call] = first.tool_calls
    assert call["name"] == "get_order" and set(call["args"]) == {"number"} and call["id"].startswith("call_")
    final = model.invoke([question, first, ToolMessage(get_order.invoke(call["args"]), tool_call_id=call["id"])])
    assert final.tool_calls == [] and final.text.startswith("Echo: ")
    *_, assistant, tool_result = last_upstream_messages(fake)  # the call and its output reached the model
    [sent_call] = assistant["tool_calls"]
    assert sent_call["id"] == call["id"] and sent_call["function"]["name"] == "get_order"
    assert tool_result == {"role": "tool", "tool_call_id": call["id"],
                           "content": "order where is order 42? shipped yesterday"}

    calls = logged_calls(mesh, "langchain", at_least=4)
    assert calls == [("responses", "echo", False, 200), ("responses", "echo", True, 200),
                     ("responses", "gpt", False, 200), ("responses", "gpt", False, 200)]


def test_structured_output_by_json_schema_and_by_function_calling(mesh, fake):
    from pydantic import BaseModel

    class Order(BaseModel):
        number: str
        quantity: int

    for method in ("json_schema", "function_calling"):
        model = chat(mesh, "gpt", app="langchain-structured").with_structured_output(Order, method=method)
        order = model.invoke("order 42, three units")
        assert order == Order(number="order 42, three units", quantity=4)  # the fake fills the schema from the ask
    by_schema, by_tool = [r.json for r in fake.requests if r.path.endswith("/chat/completions")][-2:]
    assert by_schema["response_format"]["type"] == "json_schema" and "tools" not in by_schema
    assert by_schema["response_format"]["json_schema"]["schema"]["required"] == ["number", "quantity"]
    assert by_tool["tools"][0]["function"]["name"] == "Order"
    assert logged_calls(mesh, "langchain-structured", at_least=2) == [("responses", "gpt", False, 200)] * 2
