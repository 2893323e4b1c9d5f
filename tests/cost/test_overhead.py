"""What the cost hook adds: a cache hit answered inside the mesh (target <= 2 ms median,
in-process, SQLite store), and a budget reservation + settlement + ledger write."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from llm_mesh.config import parse_config
from llm_mesh.gateway.context import RequestContext
from llm_mesh.identity import Caller
from llm_mesh.runtime import build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.stores.sqlite import open_sqlite_stores
from llm_mesh.wire.openai_chat import ChatCompletionRequest

N = 400


class _NoAuth:
    def authenticate(self, identity):  # pragma: no cover
        raise AssertionError


def _runtime(tmp_path: Path, costs: dict):
    config = parse_config({
        "providers": {"echo": {"kind": "echo"}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
        "apps": {"bot": {"routes": "*"}},
        "server": {"request_log": False},
        "costs": costs,
    }, "<bench>")
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    return build_runtime(config, stores, EnvSecretResolver({}), _NoAuth()), stores


def _measure(runtime, body: dict) -> list[float]:
    service = runtime.service
    request = ChatCompletionRequest.model_validate(body)

    async def run() -> list[float]:
        timings = []
        for _ in range(N):
            ctx = RequestContext(endpoint="chat.completions", caller=Caller(app="bot", principal="k"))
            started = time.perf_counter()
            answer = await service.chat(ctx, request)
            service.record(ctx, 200, answer.usage, completion=answer)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    return asyncio.run(run())


def _report(name: str, timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings[20:])  # warm-up excluded
    p50, p99 = statistics.median(timings), timings[int(len(timings) * 0.99) - 1]
    print(f"{name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    return p50, p99


def test_cache_hit_adds_at_most_2ms(tmp_path: Path):
    runtime, stores = _runtime(tmp_path, {"cache": {}})
    body = {"model": "echo", "temperature": 0,
            "messages": [{"role": "system", "content": "You are helpful. " * 20}, {"role": "user", "content": "hello " * 100}]}
    hits = _measure(runtime, body)
    assert [h for h in runtime.service.hooks if h.name == "costs"]
    p50, p99 = _report("cache hit, whole mesh path (hook, replay, ledger record)", hits)
    baseline_runtime, baseline_stores = _runtime(tmp_path / "b", {"ledger": False})
    baseline = _measure(baseline_runtime, body)
    base50, _ = _report("echo provider, cost hook without cache/ledger", baseline)
    stores.close()
    baseline_stores.close()
    assert p50 <= 2.0, f"a cache hit takes {p50:.3f} ms at the median"


def test_budget_reserve_settle_and_ledger_cost(tmp_path: Path):
    runtime, stores = _runtime(tmp_path, {"budgets": [{"name": "b", "limit_usd": "1000"}],
                                          "limits": [{"requests_per_minute": 1_000_000}]})
    body = {"model": "echo", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
    with_budget = _measure(runtime, body)
    p50, _ = _report("echo with rate limit + budget reserve/settle + ledger", with_budget)
    stores.close()
    assert p50 <= 5.0
