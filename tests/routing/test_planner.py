"""Route planning: strategies, nesting, conditions, capabilities, open circuits."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from llm_mesh.config import parse_config
from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.base import Capabilities
from llm_mesh.routing.circuit import CircuitBreaker
from llm_mesh.routing.latency import LatencyTracker
from llm_mesh.routing.memory_health import InMemoryHealthStore
from llm_mesh.routing.planner import RequestFacts, RoutePlanner
from llm_mesh.routing.requirements import Requirements
from llm_mesh.config.schema import CircuitBreakerConfig

PROVIDERS = {name: {"kind": "echo"} for name in ("a", "b", "c", "d")}


def planner(routes, models=None, caps=None, clock=None, seed=1):
    config = parse_config({"providers": PROVIDERS, "routes": routes, "models": models or {}})
    breaker = CircuitBreaker(InMemoryHealthStore(), clock=clock or (lambda: 1000.0), cache_seconds=0)
    latency = LatencyTracker()
    caps = caps or {}
    p = RoutePlanner(config, lambda prov, model: caps.get(prov, Capabilities()), breaker, latency, rng=random.Random(seed))
    return p, breaker, latency


def keys(attempts):
    return [a.key for a in attempts]


def test_priority_keeps_declared_order():
    p, _, _ = planner({"r": {"targets": [{"provider": "b", "model": "m"}, {"provider": "a", "model": "m"}]}})
    assert keys(p.plan("r", RequestFacts())) == ["b/m", "a/m"]


def test_weighted_split_follows_weights_and_keeps_fallbacks():
    p, _, _ = planner({"r": {"strategy": "weighted", "targets": [
        {"provider": "a", "model": "m", "weight": 3}, {"provider": "b", "model": "m", "weight": 1}]}})
    firsts = Counter(p.plan("r", RequestFacts())[0].key for _ in range(4000))
    assert 0.70 < firsts["a/m"] / 4000 < 0.80
    assert all(len(p.plan("r", RequestFacts())) == 2 for _ in range(10))


def test_nested_routes_expand_in_place_without_duplicates():
    p, _, _ = planner({
        "inner": {"targets": [{"provider": "b", "model": "m"}, {"provider": "c", "model": "m"}]},
        "outer": {"targets": [{"provider": "a", "model": "m"}, {"route": "inner"}, {"provider": "b", "model": "m"}]},
    })
    assert keys(p.plan("outer", RequestFacts())) == ["a/m", "b/m", "c/m"]


def test_lowest_latency_prefers_the_fastest_measured_and_explores_unmeasured():
    p, _, latency = planner({"r": {"strategy": "lowest_latency", "targets": [
        {"provider": "a", "model": "m"}, {"provider": "b", "model": "m"}, {"provider": "c", "model": "m"}]}})
    latency.observe("a/m", 300)
    latency.observe("b/m", 50)
    assert keys(p.plan("r", RequestFacts())) == ["c/m", "b/m", "a/m"]
    latency.observe("c/m", 900)
    assert keys(p.plan("r", RequestFacts())) == ["b/m", "a/m", "c/m"]
    latency.observe("a/m", 10, first_token_ms=5)
    latency.observe("b/m", 10, first_token_ms=40)
    assert keys(p.plan("r", RequestFacts(streaming=True)))[0] == "a/m"


def test_lowest_cost_uses_registry_prices():
    models = {
        "cheap": {"provider": "b", "model": "m", "prices": {"input": "0.15", "output": "0.60"}},
        "dear": {"provider": "a", "model": "m", "prices": {"input": "2.50", "output": "10"}},
    }
    p, _, _ = planner({"r": {"strategy": "lowest_cost", "targets": [
        {"provider": "a", "model": "m"}, {"provider": "c", "model": "m"}, {"provider": "b", "model": "m"}]}}, models)
    assert keys(p.plan("r", RequestFacts())) == ["b/m", "a/m", "c/m"]  # unpriced last


def test_conditions_on_app_tags_and_classification():
    p, _, _ = planner({"r": {"targets": [
        {"provider": "a", "model": "m", "when": {"apps": ["finance"]}},
        {"provider": "b", "model": "m", "when": {"tags": {"tier": "gold"}}},
        {"provider": "c", "model": "m", "when": {"classifications": ["pii"]}},
        {"provider": "d", "model": "m"},
    ]}})
    assert keys(p.plan("r", RequestFacts(app="hr"))) == ["d/m"]
    assert keys(p.plan("r", RequestFacts(app="finance", tags={"tier": "gold"}))) == ["a/m", "b/m", "d/m"]
    assert keys(p.plan("r", RequestFacts(classifications=frozenset({"pii"})))) == ["c/m", "d/m"]


def test_capabilities_filter_targets_and_explain_when_none_fit():
    caps = {"a": Capabilities(tools=False, vision=False), "b": Capabilities(tools=True, vision=True)}
    p, _, _ = planner({"r": {"targets": [{"provider": "a", "model": "m"}, {"provider": "b", "model": "m"}]},
                       "only_a": {"provider": "a", "model": "m"}}, caps=caps)
    assert keys(p.plan("r", RequestFacts(needs=Requirements(tools=True)))) == ["b/m"]
    with pytest.raises(InvalidRequest) as caught:
        p.plan("only_a", RequestFacts(needs=Requirements(vision=True)))
    assert "vision" in caught.value.message and caught.value.code == "unsupported_capability"


def test_context_window_counts_tokens_only_when_needed():
    models = {"small": {"provider": "a", "model": "m", "capabilities": {"context_window": 100}}}
    p, _, _ = planner({"r": {"targets": [{"provider": "a", "model": "m"}, {"provider": "b", "model": "m"}]},
                       "small_only": {"provider": "a", "model": "m"}}, models)
    counted = []

    def tokens():
        counted.append(1)
        return 90

    assert keys(p.plan("r", RequestFacts(needs=Requirements(output_tokens=50), prompt_tokens=tokens))) == ["b/m"]
    assert counted == [1]
    with pytest.raises(InvalidRequest) as caught:
        p.plan("small_only", RequestFacts(needs=Requirements(output_tokens=50), prompt_tokens=tokens))
    assert caught.value.code == "context_length_exceeded"
    no_window, _, _ = planner({"r": {"provider": "b", "model": "m"}})
    no_window.plan("r", RequestFacts(prompt_tokens=lambda: pytest.fail("counted without need")))


def test_open_circuit_moves_target_last_but_never_drops_it():
    p, breaker, _ = planner({"r": {"targets": [{"provider": "a", "model": "m"}, {"provider": "b", "model": "m"}]}})
    for _ in range(3):
        breaker.failure("a/m", CircuitBreakerConfig(failure_threshold=3))
    assert keys(p.plan("r", RequestFacts())) == ["b/m", "a/m"]
    breaker.success("a/m")
    assert keys(p.plan("r", RequestFacts())) == ["a/m", "b/m"]
