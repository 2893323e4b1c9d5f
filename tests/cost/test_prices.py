"""Prices and costs: exact hand-computed figures (Decimal, no float drift), effective dates,
overrides (mesh.yaml, registry), self-hosted amortisation, metering from usage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from llm_mesh.config import parse_config
from llm_mesh.cost.metering import estimate, from_usage
from llm_mesh.cost.prices import Metered, PriceTable, cost_of, planner_price_lookup, shipped_table
from llm_mesh.wire.openai_chat import Usage

D = Decimal


@pytest.mark.parametrize(
    "kind, model, usage, at, total",
    [
        # 1000 in x $2.50/M + 500 out x $10/M = 0.0025 + 0.005
        ("openai", "gpt-4o", Metered(input_tokens=1000, output_tokens=500), dt.date(2025, 1, 1), "0.007500000"),
        # before 2024-10-01 gpt-4o was $5/$15: 0.005 + 0.0075
        ("openai", "gpt-4o-2024-08-06", Metered(input_tokens=1000, output_tokens=500), dt.date(2024, 9, 30), "0.012500000"),
        # gpt-4o-mini must not match the gpt-4o glob: 1234 x 0.15 + 567 x 0.60 + 100 cached x 0.075 (per M)
        # = 185.1 + 340.2 + 7.5 micro-dollars
        ("openai", "gpt-4o-mini", Metered(input_tokens=1234, output_tokens=567, cached_input_tokens=100), dt.date(2025, 6, 1), "0.000532800"),
        # Anthropic cache write and read: 2000 x 3 + 300 x 15 + 10000 x 0.30 + 4000 x 3.75 = 28500 micro
        ("anthropic", "claude-3-5-sonnet-20241022",
         Metered(input_tokens=2000, output_tokens=300, cached_input_tokens=10000, cache_write_tokens=4000), dt.date(2025, 1, 1), "0.028500000"),
        # Bedrock model ids with a region prefix match the glob
        ("bedrock", "us.anthropic.claude-3-haiku-20240307-v1:0", Metered(input_tokens=1, output_tokens=1), dt.date(2025, 1, 1), "0.000001500"),
        # embeddings: 12345 x $0.02/M = 246.9 micro
        ("openai", "text-embedding-3-small", Metered(embedding_tokens=12345), dt.date(2025, 1, 1), "0.000246900"),
        # a single token of gpt-4.1-nano output: 0.4 micro-dollars -> 400 nano exactly
        ("openai", "gpt-4.1-nano", Metered(output_tokens=1), dt.date(2025, 5, 1), "0.000000400"),
        # a price not yet in force (gpt-4.1 from 2025-04-14) -> unpriced, 0
        ("openai", "gpt-4.1", Metered(input_tokens=1000), dt.date(2025, 4, 13), "0.000000000"),
    ],
)
def test_shipped_prices_exact(kind, model, usage, at, total):
    cost = cost_of(usage, kind, model, at)
    assert cost.total == D(total)
    assert f"{cost.total:f}" == total


def test_components_are_exact_and_sum_to_total():
    cost = cost_of(Metered(input_tokens=3, output_tokens=7, cached_input_tokens=11), "openai", "gpt-4o", dt.date(2025, 1, 1))
    assert cost.input == D("0.0000075") and cost.output == D("0.00007") and cost.cached_input == D("0.00001375")
    assert cost.input + cost.output + cost.cached_input == D("0.00009125")
    assert cost.total == D("0.000091250") and cost.nano_usd == 91250
    # many small calls: exact sum, no drift
    assert sum((cost.total for _ in range(100_000)), D(0)) == D("9.125")


def test_unknown_model_is_unpriced():
    cost = cost_of(Metered(input_tokens=10**6), "openai", "no-such-model")
    assert cost.total == 0 and not cost.priced


def test_every_shipped_price_parses_and_has_dates():
    table = shipped_table()
    assert {"openai", "anthropic", "bedrock", "gemini", "mistral", "cohere"} <= set(table)
    for models in table.values():
        for entries in models.values():
            dates = [e.effective_from for e in entries]
            assert dates == sorted(dates)


def _config(extra: dict) -> object:
    return parse_config({
        "providers": {"oai": {"kind": "openai"}, "vllm": {"kind": "openai", "base_url": "http://10.0.0.5:8000/v1"}},
        "routes": {"r": {"provider": "oai", "model": "gpt-4o"}},
        **extra,
    }, "<test>")


def test_mesh_yaml_overrides_by_provider_name_and_dates():
    config = _config({"costs": {"prices": {
        "oai": {"gpt-4o": [{"effective_from": "2026-01-01", "input": "1.00", "output": "4.00", "request": "0.001"}]},
        "vllm": {"llama-3-70b": {"instance_hour": "12.00", "tokens_per_hour": 9000000}},
    }}})
    table = PriceTable.from_config(config)
    usage = Metered(input_tokens=1000, output_tokens=1000)
    # in force from 2026: 0.001 + 0.004 + request fee 0.001
    assert table.cost(usage, "oai", "openai", "gpt-4o", dt.date(2026, 2, 1)).total == D("0.006")
    # before the override's date, the shipped table applies
    assert table.cost(usage, "oai", "openai", "gpt-4o", dt.date(2025, 2, 1)).total == D("0.0125")
    # self-hosted: $12/h over 9M tokens/h = $1.333.../M; 2000 tokens = 0.002666666666... -> 0.002666667
    assert table.cost(usage, "vllm", "openai", "llama-3-70b", dt.date(2026, 2, 1)).total == D("0.002666667")


def test_registry_prices_win_and_planner_lookup():
    config = _config({"models": {"mine": {"provider": "oai", "model": "gpt-4o", "prices": {"input": "0.5", "output": "1.5"}}}})
    table = PriceTable.from_config(config)
    assert table.cost(Metered(input_tokens=2_000_000, output_tokens=1_000_000), "oai", "openai", "gpt-4o").total == D("2.5")
    lookup = planner_price_lookup(config)
    assert lookup("oai", "gpt-4o") == D("2.0")
    assert lookup("oai", "gpt-4o-mini") == D("0.75")
    assert lookup("oai", "unknown-model") is None


def test_prices_reject_floats():
    with pytest.raises(Exception, match="strings"):
        _config({"costs": {"prices": {"oai": {"x": {"input": 0.1}}}}})


def test_metering_from_usage_and_estimates():
    usage = Usage.model_validate({"prompt_tokens": 1000, "completion_tokens": 20, "total_tokens": 1020,
                                  "prompt_tokens_details": {"cached_tokens": 600}})
    metered = from_usage(usage)
    assert (metered.input_tokens, metered.cached_input_tokens, metered.output_tokens) == (400, 600, 20)
    assert not metered.estimated
    guessed = estimate([], "hello world")
    assert guessed.estimated and guessed.output_tokens == 2


def test_costs_section_references_are_checked():
    with pytest.raises(Exception) as problem:
        _config({"apps": {"bot": {"routes": "*"}}, "costs": {
            "apps": {"ghost": {"team": "x"}},
            "budgets": [{"name": "b", "scope": "app", "match": "nobody", "limit_usd": "1"},
                        {"name": "t", "scope": "team", "match": "cx", "limit_usd": "1"}],
            "limits": [{"scope": "route", "match": "nowhere", "requests_per_minute": 1}],
            "cache": {"routes": {"nowhere": {"mode": "semantic", "embedding_route": "none"}}},
        }})
    text = str(problem.value)
    for needle in ("costs.apps.ghost", "costs.budgets.0.match", "costs.budgets.1.match", "costs.limits.0.match",
                   "costs.cache.routes.nowhere: unknown route", "embedding_route"):
        assert needle in text
