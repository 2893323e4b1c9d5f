"""``GET /metrics`` scrapes in the Prometheus text format (parsed by prometheus_client's own
parser), and what it reports equals the request log for the requests the test made: per
app, route, provider, model and status, and the tokens billed. With and without ``costs:``
(with it the cost hook emits the request metrics, without it the gateway's observer does)."""

from __future__ import annotations

from collections import Counter

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import serve_mesh

BASE = {
    "providers": {"echo": {"kind": "echo"}, "broken": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                                       "timeouts": {"connect": 0.5, "read": 1}}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}, "down": {"provider": "broken", "model": "gpt-x"}},
    "apps": {"ops": {"routes": "*", "admin": True}, "shop": {"routes": ["echo"]}},
}
WITH_COSTS = {**BASE, "costs": {"prices": {"echo": {"echo-1": {"input": "2.00", "output": "4.00"}}}}}


def _traffic(mesh) -> None:
    shop = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("shop"), max_retries=0)
    ops = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("ops"), max_retries=0)
    for n in range(3):
        shop.chat.completions.create(model="echo", messages=[{"role": "user", "content": f"hello {n}"}])
    for _ in ops.chat.completions.create(model="echo", stream=True, stream_options={"include_usage": True},
                                         messages=[{"role": "user", "content": "stream me"}]):
        pass
    ops.embeddings.create(model="echo", input=["one", "two"])
    with pytest.raises(openai.NotFoundError):
        shop.chat.completions.create(model="no-such-route", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.PermissionDeniedError):
        shop.chat.completions.create(model="down", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.APIStatusError):
        ops.chat.completions.create(model="down", messages=[{"role": "user", "content": "x"}])
    mesh.flush_logs()


def _scrape(mesh, app: str = "ops") -> httpx.Response:
    return httpx.get(mesh.root_url + "/metrics", headers={"Authorization": f"Bearer {mesh.key_for(app)}"})


def _samples(text: str, name: str) -> dict[tuple, float]:
    found: dict[tuple, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.mark.parametrize("config", [BASE, WITH_COSTS], ids=["no-costs", "costs"])
def test_the_scrape_equals_the_request_log(config):
    with serve_mesh(config) as mesh:
        _traffic(mesh)
        scraped = _scrape(mesh)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=")
        text = scraped.text
        logged = mesh.runtime.stores.request_log.recent(1000)

    assert len(logged) == 8
    expected = Counter((e.app, e.route, e.provider, e.model, str(e.status)) for e in logged)
    requests = {
        tuple(dict(labels)[k] for k in ("app", "route", "provider", "model", "status")): value
        for labels, value in _samples(text, "mesh_requests_total").items()
    }
    assert requests == {key: float(count) for key, count in expected.items()}
    latency_counts = _samples(text, "mesh_request_latency_ms_count")
    assert sum(latency_counts.values()) == len(logged)
    errors = sum(_samples(text, "mesh_request_errors_total").values())
    assert errors == sum(1 for e in logged if e.status >= 400) == 3
    tokens = _samples(text, "mesh_tokens_total")
    prompt = sum(v for labels, v in tokens.items() if dict(labels)["kind"] == "prompt")
    completion = sum(v for labels, v in tokens.items() if dict(labels)["kind"] == "completion")
    assert prompt == sum(e.prompt_tokens for e in logged) > 0
    assert completion == sum(e.completion_tokens for e in logged) > 0


def test_metrics_are_for_admin_keys_only():
    with serve_mesh(BASE) as mesh:
        assert _scrape(mesh, "shop").status_code == 403
        anonymous = httpx.get(mesh.root_url + "/metrics")
        assert anonymous.status_code == 401 and anonymous.json()["error"]["type"]
        assert "mesh_requests_total" not in anonymous.text
