"""``mesh agents``: list the agents of a config and run one locally with the embedded runner.

``mesh agents run NAME --input "..." [--app APP]`` runs under the same routing, policy,
budgets and audit as the server (the embedded store in --data-dir), prints every
step and the answer (``--json`` for the whole run record).
"""

from __future__ import annotations

import asyncio
import json
import sys

import click

from llm_mesh.cli.paths import data_option


@click.group("agents")
def agents() -> None:
    """Agent definitions and local runs."""


@agents.command("list")
@click.option("--config", "config_file", default=None, help="mesh.yaml (default: $MESH_CONFIG, else the nearest mesh.yaml)")
def list_agents(config_file: str | None) -> None:
    from llm_mesh.cli.common import _load

    config, _ = _load(config_file)
    for name, agent in config.agents.definitions.items():
        click.echo(f"{name}\troute={agent.route}\ttools={','.join(agent.tools) or '-'}\t"
                   f"max_steps={agent.max_steps}\tmax_cost_usd={agent.max_cost_usd}")


@agents.command("run")
@click.argument("name")
@click.option("--input", "text", required=True, help="the task for the agent")
@click.option("--app", default=None, help="run as this app (default: the first app allowed to run the agent)")
@click.option("--config", "config_file", default=None, help="mesh.yaml (default: $MESH_CONFIG, else the nearest mesh.yaml)")
@data_option
@click.option("--json", "as_json", is_flag=True, help="print the whole run record as JSON")
def run(name: str, text: str, app: str | None, config_file: str | None, data_dir: str, as_json: bool) -> None:
    from llm_mesh.agents.env import env_from_runtime
    from llm_mesh.agents.runner import run_agent
    from llm_mesh.cli.common import _load, _stores
    from llm_mesh.identity import ApiKeyAuthenticator
    from llm_mesh.runtime import build_runtime
    from llm_mesh.secrets import EnvSecretResolver

    config, _ = _load(config_file)
    agent = config.agents.definitions.get(name)
    if agent is None:
        click.echo(f"no agent named {name!r}; known: {', '.join(config.agents.definitions) or 'none'}", err=True)
        sys.exit(2)
    if app is None:
        app = next((n for n, a in config.apps.items() if agent.may_run(n, a.may_use(agent.route))), None)
        if app is None:
            click.echo(f"no app may run the agent {name!r}; pass --app", err=True)
            sys.exit(2)
    stores = _stores(data_dir)

    async def main() -> dict:
        runtime = build_runtime(config, stores, EnvSecretResolver(), ApiKeyAuthenticator(config, stores.keys),
                                home="local", background_log=False)
        try:
            return await run_agent(env_from_runtime(runtime), name, text, app=app, principal="cli")
        finally:
            await runtime.aclose()

    try:
        result = asyncio.run(main())
    finally:
        stores.close()
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        for step in result.get("steps_detail", []):
            if step["kind"] == "model":
                calls = [c["function"]["name"] for c in (step.get("output") or {}).get("tool_calls", [])]
                what = f"tool calls: {', '.join(calls)}" if calls else "answer"
                click.echo(f"[{step['key']}] model {step.get('model', '')}: {what}"
                           f" ({step.get('prompt_tokens', 0)}+{step.get('completion_tokens', 0)} tokens)")
            else:
                status = "ok" if step["ok"] else f"error {step['error']['code']}: {step['error']['message']}"
                click.echo(f"[{step['key']}] tool {step['tool']}: {status}")
        click.echo(f"status: {result.get('status')}  steps: {result.get('steps')}  cost_usd: {result.get('cost_usd')}")
        if result.get("answer"):
            click.echo(result["answer"])
        elif result.get("error"):
            click.echo(f"error: {result['error']}", err=True)
    sys.exit(0 if result.get("status") == "succeeded" else 1)
