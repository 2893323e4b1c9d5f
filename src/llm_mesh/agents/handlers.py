r"""The agent task handlers: ``route``, ``redact``, ``invoke_model``, ``run_tool``, ``decide``.

Each is ``async handler(env, state) -> state`` over a JSON-serializable dict, so the
same code runs under the embedded runner (in-process) and as Lambda tasks joined by
Step Functions. The loop they implement::

    route -> redact -> invoke_model -> decide --next=tools--> Map(run_tool) -> decide
                ^                        |  \--next=model--> redact ...
                |________________________|   \--next=end---> done

The state they pass carries ids, counters and small fields only: the conversation
(instructions, input, model turns, tool results) is in the runs store by index
(``history`` messages so far), because Step Functions caps a state at 256 KiB and
one tool result can be larger. A tool call writes its result at its own index,
so parallel tools never conflict and the Map's output stays small.

Handlers never raise for expected failures: a model error, a policy block or a
limit ends the run with a clear status; a failing tool becomes a step error the
model sees. An unexpected crash is caught by the orchestrator (a Step Functions
Catch, or the runner) into ``state["error"]``, and ``decide`` ends the run.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llm_mesh.agents.store import step_key
from llm_mesh.agents.tools import ToolFailure, execute_tool, parse_arguments, tool_schema
from llm_mesh.cost.settle import settled_cost
from llm_mesh.errors import MeshError, NotFound, PermissionDenied
from llm_mesh.gateway.context import RequestContext
from llm_mesh.identity import Caller
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionRequest, Usage

if TYPE_CHECKING:
    from llm_mesh.agents.env import AgentEnv

TASKS = ("route", "redact", "invoke_model", "run_tool", "decide")


def new_run_id() -> str:
    return f"run_{uuid.uuid4().hex}"


def _now() -> float:
    return time.time()


def _agent(env: "AgentEnv", name: str) -> Any:
    agent = env.section.definitions.get(name)
    if agent is None:
        raise NotFound(f"no agent named {name!r}")
    return agent


def authorise_agent(env: "AgentEnv", caller: Caller, name: str) -> Any:
    """The agent definition, if ``caller``'s app may run it (else NotFound/PermissionDenied)."""
    agent = _agent(env, name)
    app = env.config.apps.get(caller.app)
    if app is None or not agent.may_run(caller.app, app.may_use(agent.route)):
        raise PermissionDenied(f"app {caller.app!r} may not run the agent {name!r}")
    return agent


def _error(code: str, message: str) -> dict[str, str]:
    return {"Error": code, "Cause": message}


# ---------------------------------------------------------------- route
def new_run_record(env: "AgentEnv", event: dict[str, Any]) -> dict[str, Any]:
    """The run record as it starts (status running), from a start event."""
    agent = _agent(env, event["agent"])
    now = _now()
    return {
        "run_id": event["run_id"], "agent": event["agent"], "app": event["app"], "principal": event.get("principal", ""),
        "status": "running", "input": env.record_text(str(event.get("input", "")), event["app"], agent.route),
        "answer": None, "error": None, "stop_reason": None, "created_at": now, "updated_at": now, "ended_at": None,
        "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": "0", "steps": 0, "parent": event.get("parent"),
        "mode": event.get("mode", "async"),
    }


async def route(env: "AgentEnv", event: dict[str, Any]) -> dict[str, Any]:
    """Start a run: check the agent and the caller, create the run record, build the first messages."""
    run = {
        "run_id": event.get("run_id") or new_run_id(),
        "agent": event["agent"],
        "app": event["app"],
        "principal": event.get("principal", ""),
        "depth": int(event.get("depth", 0)),
        "parent": event.get("parent"),
    }
    agent = authorise_agent(env, Caller(run["app"], run["principal"]), run["agent"])
    text = str(event.get("input", ""))
    now = _now()
    env.store.create_run(new_run_record(env, {**event, **run}))  # a no-op when the API created it already
    messages: list[dict[str, Any]] = []
    if agent.instructions:
        messages.append({"role": "system", "content": agent.instructions})
    messages.append({"role": "user", "content": text})
    env.store.put_messages(run["run_id"], 0, messages)
    return {
        "run": run, "route": agent.route, "history": len(messages), "screened": 0, "recorded": 0, "turn": 0,
        "pending": [], "calls_at": None, "usage": {"prompt_tokens": 0, "completion_tokens": 0}, "cost_usd": "0",
        "deadline": now + agent.timeout, "next": "model", "status": "running", "answer": None, "error": None,
    }


# ---------------------------------------------------------------- redact
async def redact(env: "AgentEnv", state: dict[str, Any]) -> dict[str, Any]:
    """Screen what is new since the last model call (the input, tool results) with the policy
    bound to the app/route: a block rule ends the run before anything leaves the mesh.
    (The model call itself passes the gateway's policy hook, which redacts and restores.)"""
    run = state["run"]
    assert env.redactor is not None
    for message in env.store.messages(run["run_id"], state["screened"], state["history"]):
        content = message.get("content")
        if isinstance(content, str) and content:
            try:
                env.redactor.screen(content, run["app"], state["route"])
            except MeshError as exc:
                return {**state, "error": _error(exc.code or exc.type, exc.message)}
            except Exception as exc:
                return {**state, "error": _error("policy_blocked", f"{type(exc).__name__}: {exc}"[:300])}
    return {**state, "screened": state["history"]}


# ---------------------------------------------------------------- model calls
def _cost(env: "AgentEnv", ctx: RequestContext, usage: Usage | None) -> Decimal:
    """The step's settled price: the same one the gateway's ledger records."""
    return settled_cost(env.service.prices, env.config, ctx, usage)


async def call_model(
    env: "AgentEnv", run: dict[str, Any], route_name: str, messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None, temperature: float | None = None,
) -> tuple[ChatCompletion, RequestContext, Decimal]:
    """One chat call through MeshService (auth of the route, hooks, failover, accounting)."""
    ctx = RequestContext(endpoint="agents.chat")
    ctx.caller = Caller(run["app"], run["principal"])
    ctx.tags.update({"agent": run["agent"], "agent_run": run["run_id"]})
    body: dict[str, Any] = {"model": route_name, "messages": messages}
    if tools:
        body["tools"] = tools
    if temperature is not None:
        body["temperature"] = temperature
    request = ChatCompletionRequest.model_validate(body)
    completion = await env.service.chat(ctx, request)  # recorded by the service (ledger, log, audit)
    return completion, ctx, _cost(env, ctx, completion.usage)


async def chat_once(env: "AgentEnv", run: dict[str, Any], route_name: str, messages: list[dict[str, Any]]) -> str:
    try:
        completion, _, _ = await call_model(env, run, route_name, messages)
    except MeshError as error:
        raise ToolFailure("delegate_failed", f"the {route_name} route failed: {error.message}") from None
    return completion.choices[0].message.content or "" if completion.choices else ""


async def invoke_model(env: "AgentEnv", state: dict[str, Any]) -> dict[str, Any]:
    if state.get("error"):
        return state
    run = state["run"]
    agent = _agent(env, run["agent"])
    tools = [tool_schema(name, env.section.tools[name]) for name in agent.tools]
    turn = state["turn"] + 1
    started = _now()
    history = state["history"]
    messages = env.store.messages(run["run_id"], 0, history)
    new_messages = messages[state["recorded"]:]
    try:
        completion, ctx, cost = await call_model(env, run, state["route"], messages, tools, agent.temperature)
    except MeshError as error:
        env.store.put_step(run["run_id"], step_key(turn, 0), {
            "kind": "model", "turn": turn, "started_at": started, "ended_at": _now(), "ok": False,
            "error": {"code": error.code or error.type, "message": error.message},
        })
        return {**state, "turn": turn, "error": _error(error.code or error.type, error.message)}
    message = completion.choices[0].message if completion.choices else None
    calls = [c.model_dump(exclude_none=True) for c in (message.tool_calls or [])] if message else []
    assistant: dict[str, Any] = {"role": "assistant", "content": message.content if message else None}
    if calls:
        assistant["tool_calls"] = calls
    usage = completion.usage or Usage()
    total_cost = Decimal(state["cost_usd"]) + cost
    totals = {
        "prompt_tokens": state["usage"]["prompt_tokens"] + usage.prompt_tokens,
        "completion_tokens": state["usage"]["completion_tokens"] + usage.completion_tokens,
    }
    app, route_name = run["app"], state["route"]
    env.store.put_step(run["run_id"], step_key(turn, 0), {
        "kind": "model", "turn": turn, "started_at": started, "ended_at": _now(), "ok": True,
        "request_id": ctx.request_id, "route": route_name, "provider": ctx.provider, "model": ctx.model,
        "input": [_record_message(env, m, app, route_name) for m in new_messages],
        "output": _record_message(env, assistant, app, route_name),
        "finish_reason": completion.choices[0].finish_reason if completion.choices else None,
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "cost_usd": str(cost),
    })
    env.store.put_messages(run["run_id"], history, [assistant])
    env.store.update_run(run["run_id"], {
        "updated_at": _now(), "steps": turn, "cost_usd": str(total_cost), **totals,
    })
    return {
        **state, "turn": turn, "history": history + 1, "recorded": history + 1, "calls_at": history if calls else None,
        "pending": [{"id": c.get("id"), "name": (c.get("function") or {}).get("name", "")} for c in calls],
        "usage": totals, "cost_usd": str(total_cost),
    }


def _record_message(env: "AgentEnv", message: dict[str, Any], app: str, route_name: str) -> dict[str, Any]:
    out = dict(message)
    if isinstance(out.get("content"), str):
        out["content"] = env.record_text(out["content"], app, route_name)
    if out.get("tool_calls"):
        out["tool_calls"] = [
            {**c, "function": {**c["function"], "arguments": env.record_text(c["function"].get("arguments", ""), app, route_name)}}
            for c in out["tool_calls"]
        ]
    return out


# ---------------------------------------------------------------- tools
def tool_items(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The Map's items, exactly as the state machine's ItemSelector builds them."""
    return [
        {"run": state["run"], "route": state["route"], "turn": state["turn"], "calls_at": state["calls_at"],
         "index": index, "call": call}
        for index, call in enumerate(state["pending"])
    ]


def _tool_call(env: "AgentEnv", item: dict[str, Any]) -> dict[str, Any]:
    """The item's tool call, from the assistant message that made it (the state carries only its id)."""
    at = item["calls_at"]
    (assistant,) = env.store.messages(item["run"]["run_id"], at, at + 1)
    call = assistant["tool_calls"][item["index"]]
    if call.get("id") != item["call"].get("id"):
        raise ValueError(f"tool call {item['index']} of message {at} is not {item['call'].get('id')!r}")
    return call


async def run_tool(env: "AgentEnv", item: dict[str, Any]) -> dict[str, Any]:
    """Run one tool call; every failure is a step error fed back to the model, never a crash.
    The result goes into the conversation at its own index; the return value is its summary."""
    run = item["run"]
    call = _tool_call(env, item)
    function = call.get("function") or {}
    name = function.get("name", "")
    agent = _agent(env, run["agent"])
    started = _now()
    arguments: dict[str, Any] = {}
    try:
        if name not in agent.tools or name not in env.section.tools:
            raise ToolFailure("tool_not_allowed", f"the tool {name!r} is not available to this agent; "
                                                  f"available tools: {', '.join(agent.tools) or 'none'}")
        arguments = parse_arguments(function.get("arguments"))
        content = await execute_tool(env, run, name, env.section.tools[name], arguments)
        ok, error = True, None
    except ToolFailure as failure:
        ok, error = False, {"code": failure.code, "message": failure.message}
        content = json.dumps({"error": error}, ensure_ascii=False)
    except Exception as exc:  # a bug in a tool must not crash the run either
        ok, error = False, {"code": "tool_error", "message": f"the tool failed ({type(exc).__name__})"}
        content = json.dumps({"error": error}, ensure_ascii=False)
    app, route_name = run["app"], item["route"]
    step: dict[str, Any] = {
        "kind": "tool", "turn": item["turn"], "index": item["index"], "tool": name, "tool_call_id": call.get("id"),
        "started_at": started, "ended_at": _now(), "ok": ok,
        "input": env.record_text(function.get("arguments", ""), app, route_name),
        "output": env.record_text(content, app, route_name),
    }
    if error:
        step["error"] = error
    env.store.put_step(run["run_id"], step_key(item["turn"], item["index"] + 1), step)
    env.store.put_messages(run["run_id"], item["calls_at"] + 1 + item["index"],
                           [{"role": "tool", "tool_call_id": call.get("id"), "content": content}])
    return {"tool_call_id": call.get("id"), "name": name, "index": item["index"], "ok": ok}


# ---------------------------------------------------------------- decide
def _limit(env: "AgentEnv", state: dict[str, Any]) -> str | None:
    agent = _agent(env, state["run"]["agent"])
    if Decimal(state["cost_usd"]) >= Decimal(agent.max_cost_usd):
        return "max_cost"
    if state["turn"] >= agent.max_steps:
        return "max_steps"
    if _now() >= state["deadline"]:
        return "timeout"
    return None


# The execution's output carries the answer only up to this size; the run record always has it.
INLINE_ANSWER_CHARS = 16_000


def _final_answer(env: "AgentEnv", state: dict[str, Any]) -> str:
    """The last assistant message's text (the model's answer), from the stored conversation."""
    last = env.store.messages(state["run"]["run_id"], state["history"] - 1, state["history"])
    return (last[0].get("content") or "") if last and last[0].get("role") == "assistant" else ""


def _finish(env: "AgentEnv", state: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    run_id, now = state["run"]["run_id"], _now()
    final = {**state, "status": status, "next": "end", "pending": [], "calls_at": None, **fields}
    final.pop("tool_results", None)
    recorded = env.store.get_run(run_id) or {}
    if recorded.get("status", "running") != "running":  # a retried Decide: the run ended already
        return {**final, "status": recorded["status"], "answer": _inline(recorded.get("answer"))}
    answer = _final_answer(env, state) if status == "succeeded" else None
    env.store.update_run(run_id, {
        "status": status, "updated_at": now, "ended_at": now, "steps": state["turn"], "cost_usd": state["cost_usd"],
        "prompt_tokens": state["usage"]["prompt_tokens"], "completion_tokens": state["usage"]["completion_tokens"],
        "answer": env.record_text(answer or "", state["run"]["app"], state["route"]) if status == "succeeded" else None,
        "error": final.get("error"), "stop_reason": final.get("stop_reason"),
    })
    env.store.drop_messages(run_id)  # working state only: the steps keep the (redacted) record
    return {**final, "answer": _inline(answer)}


def _inline(answer: str | None) -> str | None:
    return answer if answer is None or len(answer) <= INLINE_ANSWER_CHARS else None


async def decide(env: "AgentEnv", state: dict[str, Any]) -> dict[str, Any]:
    if state.get("error"):
        error = state["error"]
        if isinstance(error.get("Cause"), str) and len(error["Cause"]) > 500:
            error = {**error, "Cause": error["Cause"][:500]}
        return _finish(env, state, "failed", error=error, answer=None)
    if "tool_results" in state:
        # Each tool wrote its result at calls_at + 1 + index: the conversation now ends after the last.
        state = {**state, "history": state["calls_at"] + 1 + len(state["tool_results"]), "pending": [], "calls_at": None}
        state.pop("tool_results")
        limit = _limit(env, state)
        if limit:
            return _finish(env, state, "stopped", stop_reason=limit, answer=None,
                           error=_error(limit, _LIMIT_MESSAGES[limit]))
        return {**state, "next": "model"}
    if state["pending"]:
        limit = _limit(env, state)
        if limit:  # no further model call is allowed: running the tools would be wasted
            return _finish(env, state, "stopped", stop_reason=limit, answer=None,
                           error=_error(limit, _LIMIT_MESSAGES[limit]))
        return {**state, "next": "tools"}
    return _finish(env, state, "succeeded")


_LIMIT_MESSAGES = {
    "max_steps": "the agent reached its max_steps before a final answer",
    "max_cost": "the agent reached its max_cost_usd before a final answer",
    "timeout": "the agent reached its timeout before a final answer",
}

HANDLERS = {"route": route, "redact": redact, "invoke_model": invoke_model, "run_tool": run_tool, "decide": decide}
