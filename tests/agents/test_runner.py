"""The embedded runner end to end on the fake OpenAI upstream (tool call, then a text answer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_mesh.agents.runner import run_agent
from tests.agents.conftest import agent_config
from tests.agents.localenv import local_env
from tests.fakes.openai_upstream import Behaviour

QUESTION = "SELECT customer, total FROM orders ORDER BY total DESC"


async def test_sql_tool_then_final_answer(fake: Any, orders_db: Path, tmp_path: Path) -> None:
    async with local_env(agent_config(fake.base_url, orders_db), tmp_path) as env:
        run = await run_agent(env, "analyst", QUESTION, app="test", principal="key_1")
    assert run["status"] == "succeeded", run
    assert run["answer"] == "Echo: " + QUESTION
    steps = run["steps_detail"]
    assert [s["kind"] for s in steps] == ["model", "tool", "model"]
    tool = steps[1]
    assert tool["ok"] and tool["tool"] == "orders"
    assert json.loads(tool["output"])["rows"] == [["bob", 20.0], ["ann", 10.5], ["cy", 7.25]]
    assert run["steps"] == 2 and run["prompt_tokens"] > 0 and run["completion_tokens"] > 0
    # The model saw the tool's schema and, on the second call, the tool result.
    bodies = [r.json for r in fake.requests if r.path.endswith("/chat/completions")]
    assert bodies[0]["tools"][0]["function"]["name"] == "orders"
    assert bodies[1]["messages"][-1]["role"] == "tool"
    assert "bob" in bodies[1]["messages"][-1]["content"]


async def test_a_tool_not_given_is_a_step_error_not_an_execution(fake: Any, orders_db: Path, tmp_path: Path) -> None:
    call = {"id": "call_x", "type": "function", "function": {"name": "broken", "arguments": "{}"}}
    body = {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}
    fake.queue(Behaviour(body=json.dumps(body)))
    async with local_env(agent_config(fake.base_url, orders_db), tmp_path) as env:
        run = await run_agent(env, "analyst", "hello", app="test")
    assert run["status"] == "succeeded"
    tool = run["steps_detail"][1]
    assert tool["ok"] is False and tool["error"]["code"] == "tool_not_allowed"
    fed_back = [r.json for r in fake.requests][1]["messages"][-1]
    assert fed_back["role"] == "tool" and "not available to this agent" in fed_back["content"]


async def test_a_failing_tool_is_a_clear_step_error(fake: Any, orders_db: Path, tmp_path: Path) -> None:
    async with local_env(agent_config(fake.base_url, orders_db), tmp_path) as env:
        run = await run_agent(env, "analyst", "SELECT token FROM secrets", app="test")
    assert run["status"] == "succeeded"
    tool = run["steps_detail"][1]
    assert tool["ok"] is False and tool["error"]["code"] == "sql_refused"
    assert "not allow-listed" in tool["error"]["message"]


async def test_max_steps_stops_the_run(fake: Any, orders_db: Path, tmp_path: Path) -> None:
    # tool_choice is not forced, but the fake calls a tool whenever the last message is not a tool
    # result; a model that keeps calling tools is simulated by answering tool calls every time.
    call = {"id": "call_y", "type": "function", "function": {"name": "orders", "arguments": '{"query": "SELECT 1 FROM orders"}'}}
    body = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "tool_calls",
                                    "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}})
    fake.behaviour = Behaviour(body=body)
    async with local_env(agent_config(fake.base_url, orders_db, max_steps=3), tmp_path) as env:
        run = await run_agent(env, "analyst", "loop forever", app="test")
    assert run["status"] == "stopped" and run["stop_reason"] == "max_steps"
    assert run["steps"] == 3
    assert sum(1 for s in run["steps_detail"] if s["kind"] == "model") == 3
    assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 3


async def test_max_cost_stops_the_run(fake: Any, orders_db: Path, tmp_path: Path) -> None:
    config = agent_config(fake.base_url, orders_db, max_cost_usd="0.000001")
    config["models"] = {"mini": {"provider": "up", "model": "gpt-4o-mini", "prices": {"input": "1000", "output": "1000"}}}
    async with local_env(config, tmp_path) as env:
        run = await run_agent(env, "analyst", QUESTION, app="test")
    assert run["status"] == "stopped" and run["stop_reason"] == "max_cost"
    assert run["steps"] == 1  # the first call spent the budget: no tool ran, no second call
    assert [s["kind"] for s in run["steps_detail"]] == ["model"]
    assert float(run["cost_usd"]) > 0.000001


async def test_model_failure_fails_the_run_cleanly(fake: Any, orders_db: Path, tmp_path: Path) -> None:
    fake.behaviour = Behaviour(status=400, error_message="bad request from upstream")
    async with local_env(agent_config(fake.base_url, orders_db), tmp_path) as env:
        run = await run_agent(env, "analyst", "hi", app="test")
    assert run["status"] == "failed"
    assert run["error"]["Error"]
    assert run["steps_detail"][0]["ok"] is False
