"""Metrics: the cost hook emits one RequestMetrics per call (in-memory sink), and the EMF
sink turns it into a valid Embedded Metric Format document with bounded dimensions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from llm_mesh.aws.metrics import EmfMetricsSink
from llm_mesh.config import parse_config
from llm_mesh.cost.metrics import InMemoryMetricsSink, RequestMetrics
from llm_mesh.gateway.context import RequestContext
from llm_mesh.identity import Caller
from llm_mesh.runtime import build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.stores.sqlite import open_sqlite_stores
from llm_mesh.wire.openai_chat import ChatCompletionRequest


class _NoAuth:
    def authenticate(self, identity):  # pragma: no cover - the test sets ctx.caller itself
        raise AssertionError


def test_hook_emits_request_metrics(tmp_path: Path):
    config = parse_config({
        "providers": {"echo": {"kind": "echo"}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
        "apps": {"bot": {"routes": "*"}},
        "costs": {"budgets": [{"name": "b", "limit_usd": "1"}]},
    }, "<test>")
    sink = InMemoryMetricsSink()
    budgets: list[tuple] = []
    sink.budget = lambda *args: budgets.append(args)  # type: ignore[attr-defined]
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    runtime = build_runtime(config, stores, EnvSecretResolver({}), _NoAuth(), extras={"metrics": sink})
    service = runtime.service

    async def call() -> None:
        ctx = RequestContext(endpoint="chat.completions", caller=Caller(app="bot", principal="k"))
        answer = await service.chat(ctx, ChatCompletionRequest.model_validate(
            {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}))
        service.record(ctx, 200, answer.usage, completion=answer)

    asyncio.run(call())
    asyncio.run(runtime.aclose())
    stores.close()
    [emitted] = sink.emitted
    assert (emitted.app, emitted.route, emitted.provider, emitted.model, emitted.status) == ("bot", "echo", "echo", "echo-1", 200)
    assert emitted.latency_ms > 0 and not emitted.cache_hit and not emitted.fallback
    assert sink.total("Requests", app="bot") == 1 and sink.total("Errors") == 0
    assert budgets and budgets[0][0] == "b"


def test_emf_document(capsys):
    sink = EmfMetricsSink(namespace="LLMMeshTest")
    sink.emit(RequestMetrics(app="bot", route="chat", provider="openai", model="gpt-4o", status=502, latency_ms=12.5,
                             time_to_first_token_ms=3.0, prompt_tokens=10, completion_tokens=5, cost_usd=0.0001,
                             fallback=True))
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "LLMMeshTest"
    dimension_sets = [set(d) for d in directive["Dimensions"]]
    assert {"app", "route", "provider", "model", "service"} in dimension_sets
    assert {"provider", "service"} in dimension_sets and {"app", "service"} in dimension_sets
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"Requests", "Errors", "Latency", "TimeToFirstToken", "CostUSD", "CacheHits", "Fallbacks", "PromptTokens"} <= names
    assert document["Errors"] in (1, [1.0]) and document["Fallbacks"] in (1, [1.0]) and document["model"] == "gpt-4o"
    sink.budget("cx-monthly", 40.0, 100.0)
    budget_doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert budget_doc["budget"] == "cx-monthly" and budget_doc["BudgetUsedPercent"] in (40.0, [40.0])


def test_cost_hook_uses_emf_on_aws_and_nothing_without_a_costs_section():
    from llm_mesh.cost.hook import build_cost_hook
    from llm_mesh.gateway.hooks import HookContext
    from llm_mesh.runtime import home_extras

    base = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}}}
    without = parse_config(base, "<t>")
    assert build_cost_hook(HookContext(config=without, stores=None, secrets=None, home="aws", extras={})) is None
    with_costs = parse_config({**base, "costs": {}}, "<t>")
    # the AWS home provides the EMF sink (the composition root chooses it, not the cost hook)
    hook = build_cost_hook(HookContext(config=with_costs, stores=None, secrets=None, home="aws", extras=home_extras("aws", None)))
    assert isinstance(hook.metrics, EmfMetricsSink)
    local = build_cost_hook(HookContext(config=with_costs, stores=None, secrets=None, home="local", extras=home_extras("local", None)))
    assert not isinstance(local.metrics, EmfMetricsSink)
