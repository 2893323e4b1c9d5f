"""Request metrics without a ``costs:`` section, once per request (also for errors), and
dropped request-log writes counted and reported with the next request."""

from __future__ import annotations

import asyncio
from pathlib import Path

from llm_mesh.config import parse_config
from llm_mesh.cost.metrics import InMemoryMetricsSink
from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.metrics_observer import take_dropped_writes
from llm_mesh.identity import Caller
from llm_mesh.runtime import build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.stores.sqlite import open_sqlite_stores
from llm_mesh.wire.openai_chat import ChatCompletionRequest

CONFIG = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
          "apps": {"bot": {"routes": "*"}}}


class _NoAuth:
    def authenticate(self, identity):  # pragma: no cover - the test sets ctx.caller itself
        raise AssertionError


class _Sink(InMemoryMetricsSink):
    def __init__(self) -> None:
        super().__init__()
        self.dropped: list[dict[str, int]] = []

    def dropped_writes(self, counts: dict[str, int]) -> None:
        self.dropped.append(counts)


class _BrokenLog:
    def append(self, entry) -> None:
        raise OSError("table unavailable")


def _serve(tmp_path: Path, sink: _Sink, models: list[str], *, broken_log: bool = False) -> None:
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    if broken_log:
        stores.request_log = _BrokenLog()
    runtime = build_runtime(parse_config(CONFIG, "<t>"), stores, EnvSecretResolver({}), _NoAuth(),
                            background_log=False, extras={"metrics": sink})  # inline writes, as on Lambda

    async def calls() -> None:
        for model in models:
            ctx = RequestContext(endpoint="chat.completions", caller=Caller(app="bot", principal="k"))
            try:
                answer = await runtime.service.chat(ctx, ChatCompletionRequest.model_validate(
                    {"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            except MeshError as error:
                runtime.service.record(ctx, error.status, error=error)
            else:
                runtime.service.record(ctx, 200, answer.usage, completion=answer)
        await runtime.aclose()

    try:
        asyncio.run(calls())
    finally:
        stores.close()


def test_every_request_emits_metrics_without_a_costs_section(tmp_path: Path) -> None:
    sink = _Sink()
    _serve(tmp_path, sink, ["echo", "no-such-route"])
    assert [m.status for m in sink.emitted] == [200, 404]
    assert sink.total("Requests", app="bot") == 2 and sink.total("Errors") == 1
    assert sink.total("PromptTokens", route="echo") > 0 and sink.emitted[0].latency_ms > 0


def test_dropped_request_log_writes_are_reported_with_the_next_request(tmp_path: Path) -> None:
    take_dropped_writes()
    sink = _Sink()
    _serve(tmp_path, sink, ["echo", "echo", "echo"], broken_log=True)
    # each request's log write fails after its metrics are out: three drops, two reported so far
    assert sink.dropped == [{"request_log": 1}, {"request_log": 1}]
    assert take_dropped_writes() == {"request_log": 1}


def test_the_local_home_observes_into_its_prometheus_sink(tmp_path: Path) -> None:
    from llm_mesh.cost.prometheus import PrometheusMetricsSink

    stores = open_sqlite_stores(tmp_path / "mesh.db")
    runtime = build_runtime(parse_config(CONFIG, "<t>"), stores, EnvSecretResolver({}), _NoAuth(), home="local")
    assert isinstance(runtime.metrics, PrometheusMetricsSink) and runtime.service.observer is not None
    asyncio.run(runtime.aclose())
    stores.close()
