"""The Node ``openai`` package and the Vercel AI SDK (``ai`` + ``@ai-sdk/openai``, whose default
provider model speaks the Responses API), unchanged, against a running mesh: one ``node`` process
(tests/clients/node/clients.mjs) runs every case and prints its results as JSON; each case also
reports the method + path of every request it made. The packages are pinned by
tests/clients/node/package-lock.json and installed by scripts/install-test-deps.sh (``npm ci``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import logged_calls

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def results(mesh):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the Node client tests need Node.js 18+ (scripts/install-test-deps.sh)")
    if not (NODE_DIR / "node_modules" / "ai").is_dir():
        pytest.fail(f"the Node clients are not installed: run scripts/install-test-deps.sh (npm ci in {NODE_DIR})")
    env = {**os.environ, "MESH_BASE_URL": mesh.base_url, "MESH_API_KEY": mesh.key_for("node")}
    done = subprocess.run([node, str(NODE_DIR / "clients.mjs")], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    failed = {name: case["error"] for name, case in out.items() if "error" in case}
    assert not failed, failed
    return out


def echoed(text: str) -> dict:
    return json.loads(text)  # the echo double answers with the chat body the mesh sent upstream


def test_openai_node_create_and_stream(results):
    create, stream = results["openai_create"], results["openai_stream"]
    assert create["status"] == "completed" and create["id"].startswith("resp_")
    assert echoed(create["text"])["messages"] == [{"role": "system", "content": "be brief"},
                                                  {"role": "user", "content": "hello there"}]
    assert create["usage"]["input_tokens"] > 0 and create["usage"]["output_tokens"] > 0
    assert stream["kinds"][:4] == ["response.created", "response.in_progress", "response.output_item.added",
                                   "response.content_part.added"]
    assert stream["kinds"][-4:] == ["response.output_text.done", "response.content_part.done",
                                    "response.output_item.done", "response.completed"]
    assert stream["deltas"] == stream["text"] and echoed(stream["text"])["stream"] is True
    assert stream["status"] == "completed" and stream["usage"]["output_tokens"] > 0
    assert create["paths"] == stream["paths"] == ["POST /v1/responses"]


def test_openai_node_function_call_round_trip(results):
    case = results["openai_tool_call"]
    assert case["call"]["name"] == "get_order" and set(case["call"]["arguments"]) == {"number"}
    assert case["final"] == {"types": ["message"], "text": "Echo: where is order 42?"}
    assert case["paths"] == ["POST /v1/responses"] * 2


def test_ai_sdk_generate_text_and_stream_text(results):
    generated, streamed = results["ai_generate_text"], results["ai_stream_text"]
    sent = echoed(generated["text"])
    assert sent["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": [{"type": "text", "text": "hello there"}]}]
    assert generated["finishReason"] == "stop" and generated["responseId"].startswith("resp_")
    assert generated["usage"]["inputTokens"] > 0 and generated["usage"]["outputTokens"] > 0
    assert len(streamed["parts"]) > 1 and "".join(streamed["parts"]) == streamed["text"]
    assert echoed(streamed["text"])["stream"] is True and streamed["finishReason"] == "stop"
    assert streamed["usage"]["outputTokens"] > 0
    assert generated["paths"] == streamed["paths"] == ["POST /v1/responses"]  # the provider's default: Responses


def test_ai_sdk_tool_call_executed_and_answered(results, fake):
    generated, streamed = results["ai_tool_call"], results["ai_stream_tool_call"]
    first, second = generated["steps"]
    assert first["finishReason"] == "tool-calls" and [c["toolName"] for c in first["toolCalls"]] == ["get_order"]
    assert first["toolResults"] == [{"toolName": "get_order", "output": "order where is order 42? shipped yesterday"}]
    assert second["finishReason"] == "stop" and generated["text"] == "Echo: where is order 42?"
    assert streamed["stepCount"] == 2 and streamed["toolNames"] == ["get_order"]
    assert {"tool-input-delta", "tool-call", "tool-result", "text-delta"} <= set(streamed["kinds"])
    assert streamed["text"] == "Echo: where is order 7?"
    assert generated["paths"] == streamed["paths"] == ["POST /v1/responses"] * 2
    tool_turns = [m for r in fake.requests if r.path.endswith("/chat/completions")
                  for m in r.json["messages"] if m.get("role") == "tool"]  # what the model was told the tool said
    assert {m["content"] for m in tool_turns} >= {"order where is order 42? shipped yesterday",
                                                  "order where is order 7? shipped yesterday"}


def test_structured_output_openai_parse_and_ai_sdk_objects(results):
    # text.format json_schema -> the fake fills the schema: strings with the ask, integers with its word count
    assert results["openai_parse"]["parsed"] == {"number": "order 42, three units", "quantity": 4}
    structured = results["ai_structured_output"]
    assert structured["object"] == {"number": "order 42, three units", "quantity": 4}  # generateObject
    assert structured["output"] == {"number": "order 7, two units", "quantity": 4}  # generateText + Output.object
    assert results["openai_parse"]["paths"] + structured["paths"] == ["POST /v1/responses"] * 3


def test_an_unknown_route_is_the_ai_sdks_api_call_error_with_the_mesh_message(results):
    error = results["ai_unknown_route"]
    assert error["thrown"] and error["name"] == "AI_APICallError" and error["statusCode"] == 404
    assert "no-such-route" in error["message"]  # the mesh's OpenAI-shaped error.message, as the SDK reads it


def test_the_mesh_logged_every_node_request_as_responses(results, mesh):
    calls = logged_calls(mesh, "node", at_least=14)
    assert len(calls) == 14 and [status for *_, status in calls].count(404) == 1
    assert {(endpoint, status) for endpoint, _, _, status in calls} == {("responses", 200), ("responses", 404)}
    assert sum(stream for _, _, stream, _ in calls) == 4  # openai stream, streamText, 2 streamText tool steps
