"""Agent runs over HTTP.

- ``POST /v1/mesh/agents/{name}/runs`` ``{"input": "...", "mode": "async"|"sync"}`` (or ``?wait=true``):
  async answers 202 with the run id at once (locally the embedded runner works in the
  background; on AWS a Step Functions execution starts when ``MESH_AGENT_STATE_MACHINE``
  is set); sync runs to the end and answers 200 with the whole run, unless it is still running
  after ``agents.sync_wait_seconds`` (25 s, under API Gateway's 29 s): then 202 with ``poll_url``
  (and ``Location``) while it carries on (``llm_mesh.agents.sync_wait``).
- ``GET /v1/mesh/agents/{name}/runs/{id}``: status, every step (inputs and outputs under the
  redaction policy), tokens and cost.
- ``GET /v1/mesh/agents/{name}/runs``: the caller's recent runs.

An app sees only its own runs: another app's run id is a 404, like an unknown one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from llm_mesh.agents.env import AgentEnv, env_from_runtime
from llm_mesh.agents.handlers import authorise_agent, new_run_id, new_run_record
from llm_mesh.agents.runner import execute, run_agent
from llm_mesh.agents.sync_wait import poll_url, wait_for_run
from llm_mesh.errors import MeshError, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.body import read_json, validate
from llm_mesh.http.identity import inbound_identity
from llm_mesh.runtime import MeshRuntime

logger = logging.getLogger("llm_mesh.agents.http")


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str = Field(min_length=1, max_length=200_000)
    mode: Literal["async", "sync"] = "async"


def public_run(run: dict[str, Any], steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = {"object": "agent.run", "id": run["run_id"], **{k: v for k, v in run.items() if k not in ("run_id", "principal")}}
    body["usage"] = {"prompt_tokens": run.get("prompt_tokens", 0), "completion_tokens": run.get("completion_tokens", 0),
                     "total_tokens": run.get("prompt_tokens", 0) + run.get("completion_tokens", 0)}
    if steps is not None:
        body["steps_detail"] = steps
    return body


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    if not runtime.config.agents.definitions:
        return
    env: AgentEnv = env_from_runtime(runtime)
    background: set[asyncio.Task[Any]] = set()
    limit = runtime.config.server.max_body_bytes
    app.state.agent_env = env

    def _caller(ctx: RequestContext, request: Request) -> Any:
        return runtime.service.authenticate(ctx, inbound_identity(request, runtime.home))

    @app.post("/v1/mesh/agents/{name}/runs")
    async def start_run(name: str, request: Request) -> Response:
        ctx = RequestContext(endpoint="agents.runs")
        try:
            caller = _caller(ctx, request)
            authorise_agent(env, caller, name)
            body = validate(RunRequest, await read_json(request, limit))
        except MeshError as error:
            return error_response(error, ctx)
        wait = request.query_params.get("wait", "").lower() in ("1", "true", "yes") or body.mode == "sync"
        event = {"agent": name, "input": body.input, "app": caller.app, "principal": caller.principal,
                 "run_id": new_run_id(), "depth": 0, "parent": None, "mode": "sync" if wait else "async"}
        done = await _start(env, runtime.home, event, background)
        if done is not None:  # a sync run that finished within the wait
            steps = done.pop("steps_detail", [])
            return JSONResponse(public_run(done, steps), headers=ctx.response_headers())
        run = env.store.get_run(event["run_id"]) or {"run_id": event["run_id"], "agent": name, "status": "running"}
        url = poll_url(name, event["run_id"])
        return JSONResponse({**public_run(run), "poll_url": url}, status_code=202,
                            headers={**ctx.response_headers(), "location": url})

    @app.get("/v1/mesh/agents/{name}/runs/{run_id}")
    async def get_run(name: str, run_id: str, request: Request) -> Response:
        ctx = RequestContext(endpoint="agents.runs")
        try:
            caller = _caller(ctx, request)
            run = env.store.get_run(run_id)
            if run is None or run.get("app") != caller.app or run.get("agent") != name:
                raise NotFound(f"no run {run_id!r} of the agent {name!r}")
        except MeshError as error:
            return error_response(error, ctx)
        return JSONResponse(public_run(run, env.store.steps(run_id)), headers=ctx.response_headers())

    @app.get("/v1/mesh/agents/{name}/runs")
    async def list_runs(name: str, request: Request) -> Response:
        ctx = RequestContext(endpoint="agents.runs")
        try:
            caller = _caller(ctx, request)
        except MeshError as error:
            return error_response(error, ctx)
        runs = [public_run(r) for r in env.store.list_runs(caller.app, name, limit=50)]
        return JSONResponse({"object": "list", "data": runs}, headers=ctx.response_headers())


async def _start(env: AgentEnv, home: str, event: dict[str, Any], background: set[Any]) -> dict[str, Any] | None:
    """Start the run; a sync one is waited for, at most ``sync_wait_seconds``: its finished record, else None."""
    machine = os.environ.get("MESH_AGENT_STATE_MACHINE") if home == "aws" else None
    wait = event["mode"] == "sync"
    task: asyncio.Task[Any] | None = None
    if wait and not machine:  # in this process, under the run's own timeout
        run_sync = run_agent(env, event["agent"], event["input"], app=event["app"], principal=event["principal"],
                             run_id=event["run_id"], mode="sync")
        if home == "aws":  # a Lambda cannot keep a run going once it has answered
            return await run_sync
        task = asyncio.create_task(run_sync)
    else:
        env.store.create_run(new_run_record(env, event))
        if machine:
            await asyncio.to_thread(_start_execution, machine, event)
        else:
            task = asyncio.create_task(_run_in_background(env, event))
    if task is not None:
        background.add(task)
        task.add_done_callback(background.discard)
    if not wait:
        return None
    return await wait_for_run(env.store, event["run_id"], env.section.sync_wait_seconds, task=task)


async def _run_in_background(env: AgentEnv, event: dict[str, Any]) -> None:
    try:
        await execute(env, event)
    except Exception as exc:
        logger.exception("agent run %s failed to start", event["run_id"])
        env.store.update_run(event["run_id"], {"status": "failed", "error": {"Error": type(exc).__name__, "Cause": str(exc)[:300]}})


def _start_execution(machine_arn: str, event: dict[str, Any]) -> None:
    import boto3

    boto3.client("stepfunctions").start_execution(stateMachineArn=machine_arn, name=event["run_id"], input=json.dumps(event))
