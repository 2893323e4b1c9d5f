"""The optional OTLP exporter: requests through the openai SDK reach a loopback OTLP/HTTP
collector as GenAI semantic-convention histograms whose counts and sums match the request log;
the mesh pushes its last figures on shutdown. Off by default."""

from __future__ import annotations

from collections import Counter

import httpx
import openai
import pytest

from llm_mesh.config import parse_config
from llm_mesh.config.loader import ConfigError
from tests.harness import serve_mesh
from tests.telemetry.collector import serve_collector

CONFIG = {
    "providers": {"echo": {"kind": "echo"}, "broken": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                                       "timeouts": {"connect": 0.5, "read": 1}}},
    "routes": {"chat": {"provider": "echo", "model": "echo-1"}, "emb": {"provider": "echo", "model": "echo-embed"},
               "down": {"provider": "broken", "model": "gpt-x"}},
    "costs": {"prices": {"echo": {"echo-1": {"input": "2.00", "output": "4.00"}}}},
}


def _traffic(mesh) -> None:
    client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    for n in range(3):
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": f"hello number {n} " * (n + 1)}])
    stream = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "stream me"}],
                                            stream=True, stream_options={"include_usage": True})
    assert [c for c in stream]
    client.embeddings.create(model="emb", input="embed this text")
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="down", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code >= 500


@pytest.mark.parametrize("costs", [True, False], ids=["cost-hook-emits", "observer-emits"])
def test_requests_reach_the_collector_as_genai_metrics_matching_the_request_log(costs):
    base = CONFIG if costs else {k: v for k, v in CONFIG.items() if k != "costs"}
    with serve_collector() as collector:
        config = {**base, "observability": {"otlp": {"endpoint": collector.url, "export_interval_seconds": 3600,
                                                       "headers": {"x-collector-token": {"env": "MESH_TEST_OTLP_TOKEN"}}}}}
        with serve_mesh(config, env={"MESH_TEST_OTLP_TOKEN": "t0ken"}) as mesh:
            _traffic(mesh)
            mesh.flush_logs()
            log = mesh.runtime.stores.request_log.recent(100)
            scrape = httpx.get(mesh.root_url + "/metrics", headers={"Authorization": f"Bearer {mesh.api_key}"})
            assert scrape.status_code == 200 and "mesh_requests_total" in scrape.text  # the home's sink still serves
            assert collector.requests == []  # nothing pushed yet: the interval is an hour
        collector.wait_for(lambda c: bool(c.points("gen_ai.server.request.duration")))  # pushed on shutdown

    assert collector.paths[-1] == "/v1/metrics" and collector.headers[-1]["x-collector-token"] == "t0ken"
    assert collector.resource_attributes()["service.name"] == "llm-mesh"
    assert collector.units()["gen_ai.client.token.usage"] == "{token}"
    assert collector.units()["gen_ai.server.request.duration"] == "s"
    assert len(log) == 6

    def key(attrs):
        return attrs["gen_ai.request.model"], attrs["gen_ai.operation.name"], attrs.get("error.type")

    def logged_key(e):
        return e.model, "embeddings" if e.endpoint == "embeddings" else "chat", str(e.status) if e.status >= 400 else None

    expected = Counter(logged_key(e) for e in log)
    for name in ("gen_ai.server.request.duration", "gen_ai.client.operation.duration"):
        points = collector.points(name)
        assert Counter({key(a): p.count for a, p in points}) == expected, name
        for wanted in expected:
            entries = [e for e in log if logged_key(e) == wanted]
            seconds = next(p.sum for a, p in points if key(a) == wanted)
            if name == "gen_ai.client.operation.duration":  # the time spent waiting on the provider
                assert seconds == pytest.approx(sum(e.upstream_ms for e in entries) / 1000, abs=1e-6 * len(entries))
            else:  # measured when the cost hook settles: after the upstream answered, before the log's stamp
                assert sum(e.upstream_ms for e in entries) / 1000 <= seconds <= sum(e.latency_ms for e in entries) / 1000 + 1e-6 * len(entries)
        systems = {a["gen_ai.system"] for a, _ in points}
        assert systems == {"echo", "openai"}  # the provider kinds, not their mesh names
        assert all(a["llm_mesh.app"] == "test" for a, _ in points)

    tokens = collector.points("gen_ai.client.token.usage")
    for token_type, field in (("input", "prompt_tokens"), ("output", "completion_tokens")):
        by_model = Counter()
        for attrs, point in tokens:
            if attrs["gen_ai.token.type"] == token_type:
                by_model[attrs["gen_ai.request.model"]] += int(point.sum)
        logged = Counter()
        for e in log:
            logged[e.model] += getattr(e, field)
        assert +by_model == +logged, token_type
        assert sum(by_model.values()) > 0
    ttft = collector.points("gen_ai.server.time_to_first_token")
    assert sum(p.count for _, p in ttft) == sum(1 for e in log if e.stream and e.status < 400) == 1


def test_off_by_default_and_the_endpoint_is_validated():
    config = parse_config({"providers": {"echo": {"kind": "echo"}}}, "<t>")
    assert config.observability.otlp is None
    with serve_mesh({"providers": {"echo": {"kind": "echo"}}, "routes": {"chat": {"provider": "echo", "model": "e"}}}) as mesh:
        assert not hasattr(mesh.runtime.metrics, "others")  # the home's Prometheus sink alone
    for endpoint in ("ftp://collector:4318", "http://user:pw@collector:4318", "http://collector:4318/?q=1"):
        with pytest.raises(ConfigError, match="endpoint must be an http"):
            parse_config({"observability": {"otlp": {"endpoint": endpoint}}}, "<t>")
    full = parse_config({"observability": {"otlp": {"endpoint": "https://otel.example/v1/metrics"}}}, "<t>")
    assert full.observability.otlp.metrics_url == "https://otel.example/v1/metrics"
    with pytest.raises(ConfigError, match="inline secrets"):
        parse_config({"observability": {"otlp": {"endpoint": "http://c:4318", "headers": {"authorization": "Bearer x"}}}}, "<t>")


def test_an_unreachable_collector_never_fails_a_request():
    config = {**CONFIG, "observability": {"otlp": {"endpoint": "http://127.0.0.1:9", "timeout_seconds": 0.5,
                                                   "export_interval_seconds": 3600}}}
    with serve_mesh(config) as mesh:
        client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
        answer = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "still fine"}])
        assert answer.choices[0].message.content
        exporter = mesh.runtime.metrics.others[0]
        mesh.runtime.metrics.flush()  # a failed push is logged by the SDK, not raised
    assert exporter.closed  # shutdown went through with the collector down
