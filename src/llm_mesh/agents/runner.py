"""The embedded runner: the agent state machine, in-process and async.

It walks exactly the transitions of the Step Functions definition
(``llm_mesh.agents.machine``) over the same task handlers, with the same error
handling: a handler that raises is caught into ``state["error"]`` and ``decide``
ends the run, as the state machine's Catch clauses do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from llm_mesh.agents import handlers as h
from llm_mesh.agents.config import DelegateTool
from llm_mesh.agents.tools import ToolFailure

if TYPE_CHECKING:
    from llm_mesh.agents.env import AgentEnv

Handler = Callable[["AgentEnv", dict[str, Any]], Awaitable[dict[str, Any]]]


async def _caught(handler: Handler, env: "AgentEnv", state: dict[str, Any]) -> dict[str, Any]:
    try:
        return await handler(env, state)
    except Exception as exc:  # the state machine's Catch: States.ALL -> $.error
        return {**state, "error": {"Error": type(exc).__name__, "Cause": str(exc)[:500]}}


async def execute(env: "AgentEnv", event: dict[str, Any]) -> dict[str, Any]:
    """Run from a start event (agent, input, app, principal[, run_id, depth, parent]) to the end."""
    state = await h.route(env, event)  # a rejected start raises: there is no run to record
    agent = env.section.definitions[state["run"]["agent"]]
    while state["next"] != "end":
        if state["next"] == "model":
            state = await _caught(h.redact, env, state)
            state = await _caught(h.invoke_model, env, state)
        elif state["next"] == "tools":
            state = await _caught(lambda e, s: _map_tools(e, s, agent.max_parallel_tools), env, state)
        else:
            raise ValueError(f"unknown next step {state['next']!r}")
        state = await h.decide(env, state)
    return state


async def _map_tools(env: "AgentEnv", state: dict[str, Any], parallel: int) -> dict[str, Any]:
    gate = asyncio.Semaphore(parallel)

    async def one(item: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            return await h.run_tool(env, item)

    results = await asyncio.gather(*(one(item) for item in h.tool_items(state)))
    return {**state, "tool_results": list(results)}


async def run_agent(
    env: "AgentEnv",
    agent: str,
    text: str,
    *,
    app: str,
    principal: str = "",
    run_id: str | None = None,
    depth: int = 0,
    parent: str | None = None,
    mode: str = "sync",
) -> dict[str, Any]:
    """Run an agent to the end; returns its run record (with ``steps``)."""
    event = {"agent": agent, "input": text, "app": app, "principal": principal, "run_id": run_id or h.new_run_id(),
             "depth": depth, "parent": parent, "mode": mode}
    definition = env.section.definitions.get(agent)
    limit = (definition.timeout if definition else 60) + 5
    try:
        await asyncio.wait_for(execute(env, event), limit)
    except asyncio.TimeoutError:
        env.store.update_run(event["run_id"], {"status": "stopped", "stop_reason": "timeout",
                                               "error": {"Error": "timeout", "Cause": "the run exceeded its timeout"}})
        env.store.drop_messages(event["run_id"])
    run = env.store.get_run(event["run_id"]) or {}
    run["steps_detail"] = env.store.steps(event["run_id"])
    return run


async def delegate(env: "AgentEnv", run: dict[str, Any], tool: DelegateTool, task: str, depth: int) -> str:
    """The delegation port (``AgentEnv.delegate``): a delegate tool asks a route once, or runs
    another agent to the end as a child run."""
    if tool.route is not None:
        return await h.chat_once(env, run, tool.route, [{"role": "user", "content": task}])
    result = await run_agent(env, tool.agent or "", task, app=run["app"], principal=run["principal"], depth=depth,
                             parent=run["run_id"])
    if result["status"] != "succeeded":
        raise ToolFailure("delegate_failed", f"the {tool.agent} agent ended {result['status']}: {result.get('error') or ''}")
    return result.get("answer") or ""
