"""Cost governance end to end: the openai SDK through a real mesh server to the fake upstream.
Cost headers, ledger records and aggregates, tags, cache (exact, semantic, per app, streams),
rate limits, hard budgets under 200 concurrent requests, GET /v1/mesh/costs scoping and CSV."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def upstream():
    with start_fake_openai() as fake:
        yield fake


def _config(upstream, costs: dict) -> dict:
    return {
        "providers": {"fake": {"kind": "openai", "base_url": upstream.base_url, "api_key": {"env": "FAKE_KEY"}}},
        "routes": {
            "gpt": {"provider": "fake", "model": "gpt-4o-mini"},
            "big": {"provider": "fake", "model": "gpt-4o"},
            "embed": {"provider": "fake", "model": "text-embedding-3-small"},
            "faq": {"provider": "fake", "model": "gpt-4o-mini"},
            "cut": {"provider": "fake", "model": "gpt-4o-mini;cut_stream_after=3"},
        },
        "apps": {"bot": {"routes": ["gpt", "big", "embed", "faq", "cut"]}, "other": {"routes": ["gpt", "faq"]},
                 "narrow": {"routes": ["big"]}},
        "costs": costs,
    }


@pytest.fixture(scope="module")
def mesh(upstream):
    costs = {
        "apps": {"bot": {"team": "cx", "project": "helpdesk"}},
        "cache": {"routes": {"faq": {"mode": "semantic", "threshold": 0.8, "temperature_any": True}}},
        "limits": [{"scope": "route", "match": "big", "requests_per_minute": 1000}],
    }
    with serve_mesh(_config(upstream, costs), env={"FAKE_KEY": "k"}) as running:
        yield running


def client(mesh, app="bot") -> openai.OpenAI:
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for(app), max_retries=0)


def ledger_record(mesh, request_id, attempts: int = 400):
    """The request's cost record, waiting (polled) for a stream's settlement, which runs as
    the stream ends, possibly after the client has read its last chunk."""
    for _ in range(attempts):
        records = mesh.runtime.stores.ledger.records(0, time.time() + 10)
        found = next((r for r in records if r.request_id == request_id), None)
        if found is not None:
            return found
        time.sleep(0.025)
    raise AssertionError(f"no cost record for {request_id}")


def test_cost_header_and_ledger_record_match_hand_computed_price(mesh):
    raw = client(mesh).chat.completions.with_raw_response.create(
        model="big", messages=HELLO, max_tokens=50, user="alice", extra_headers={"x-mesh-tags": "purpose=qa, ticket=T-1"})
    usage = raw.parse().usage
    expected = (Decimal(usage.prompt_tokens) * Decimal("2.50") + Decimal(usage.completion_tokens) * Decimal("10.00")) / 10**6
    assert Decimal(raw.headers["x-mesh-cost-usd"]) == expected
    record = ledger_record(mesh, raw.headers["x-mesh-request-id"])
    assert Decimal(record.cost_usd) == expected and not record.estimated and not record.cache_hit
    assert (record.app, record.team, record.project, record.user, record.route) == ("bot", "cx", "helpdesk", "alice", "big")
    assert (record.provider, record.model) == ("fake", "gpt-4o")
    assert record.tags == {"purpose": "qa", "ticket": "T-1"}
    assert (record.prompt_tokens, record.completion_tokens) == (usage.prompt_tokens, usage.completion_tokens)


def test_metadata_tags_and_invalid_tags(mesh):
    raw = client(mesh).chat.completions.with_raw_response.create(model="big", messages=HELLO, metadata={"project": "x"})
    assert ledger_record(mesh, raw.headers["x-mesh-request-id"]).tags == {"project": "x"}
    for bad in ("novalue", ",".join(f"k{i}=v" for i in range(17)), "k=" + "v" * 200, "bad key=v"):
        with pytest.raises(openai.BadRequestError):
            client(mesh).chat.completions.create(model="big", messages=HELLO, extra_headers={"x-mesh-tags": bad})


def test_stream_has_no_cost_header_but_a_ledger_record(mesh):
    with client(mesh).chat.completions.with_streaming_response.create(
        model="big", messages=HELLO, stream=True, stream_options={"include_usage": True}) as response:
        assert "x-mesh-cost-usd" not in response.headers
        request_id = response.headers["x-mesh-request-id"]
        usage = [chunk.usage for chunk in response.parse() if chunk.usage][-1]
    record = ledger_record(mesh, request_id)
    assert Decimal(record.cost_usd) == (Decimal(usage.prompt_tokens) * Decimal("2.5") + Decimal(usage.completion_tokens) * 10) / 10**6


def test_cut_stream_is_metered_by_estimate(mesh):
    with client(mesh).chat.completions.with_streaming_response.create(
        model="cut", messages=[{"role": "user", "content": "one two three four five six seven"}], stream=True) as response:
        request_id = response.headers["x-mesh-request-id"]
        with pytest.raises((openai.APIError, httpx.TransportError)):  # the stream ends with an error
            for _ in response.parse():
                pass
    record = ledger_record(mesh, request_id)
    assert record.estimated and record.completion_tokens > 0 and Decimal(record.cost_usd) > 0


def test_exact_cache_hit_avoided_cost_and_app_isolation(mesh):
    question = [{"role": "user", "content": f"cache me {time.time()}"}]
    first = client(mesh).chat.completions.with_raw_response.create(model="gpt", messages=question, temperature=0)
    assert first.headers["x-mesh-cache"] == "miss"
    second = client(mesh).chat.completions.with_raw_response.create(model="gpt", messages=question, temperature=0, user="bob")
    assert second.headers["x-mesh-cache"] == "hit"  # user is not part of the key
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert Decimal(second.headers["x-mesh-cost-usd"]) == 0
    record = ledger_record(mesh, second.headers["x-mesh-request-id"])
    assert record.cache_hit and Decimal(record.avoided_usd) == Decimal(first.headers["x-mesh-cost-usd"]) > 0
    # another app asking the very same question never gets bot's answer
    theirs = client(mesh, "other").chat.completions.with_raw_response.create(model="gpt", messages=question, temperature=0)
    assert theirs.headers["x-mesh-cache"] == "miss"
    # temperature > 0 bypasses unless forced; x-mesh-cache: off bypasses
    hot = client(mesh).chat.completions.with_raw_response.create(model="gpt", messages=question, temperature=0.7)
    assert hot.headers["x-mesh-cache"] == "bypass"
    forced = client(mesh).chat.completions.with_raw_response.create(
        model="gpt", messages=question, temperature=0.7, extra_headers={"x-mesh-cache": "force"})
    assert forced.headers["x-mesh-cache"] == "miss"  # a different key (temperature is output-affecting)
    off = client(mesh).chat.completions.with_raw_response.create(
        model="gpt", messages=question, temperature=0, extra_headers={"x-mesh-cache": "off"})
    assert off.headers["x-mesh-cache"] == "bypass"
    # a streamed request replays the cached answer as a stream
    chunks = list(client(mesh).chat.completions.create(model="gpt", messages=question, temperature=0, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == first.parse().choices[0].message.content


def test_cache_is_not_served_for_a_route_the_app_may_not_use(mesh):
    question = [{"role": "user", "content": f"private {time.time()}"}]
    client(mesh).chat.completions.create(model="big", messages=question, temperature=0)
    with pytest.raises(openai.PermissionDeniedError):
        client(mesh, "other").chat.completions.create(model="big", messages=question, temperature=0)


def test_semantic_cache_per_app(mesh):
    tag = str(time.time())
    original = client(mesh).chat.completions.with_raw_response.create(
        model="faq", messages=[{"role": "user", "content": f"how do I reset my password {tag}"}], temperature=0.5)
    assert original.headers["x-mesh-cache"] == "miss"
    similar = client(mesh).chat.completions.with_raw_response.create(
        model="faq", messages=[{"role": "user", "content": f"how do I reset my password {tag} please"}], temperature=0.5)
    assert similar.headers["x-mesh-cache"] == "semantic"
    assert similar.parse().choices[0].message.content == original.parse().choices[0].message.content
    unrelated = client(mesh).chat.completions.with_raw_response.create(
        model="faq", messages=[{"role": "user", "content": "what is the weather in Lyon"}], temperature=0.5)
    assert unrelated.headers["x-mesh-cache"] == "miss"
    theirs = client(mesh, "other").chat.completions.with_raw_response.create(
        model="faq", messages=[{"role": "user", "content": f"how do I reset my password {tag}"}], temperature=0.5)
    assert theirs.headers["x-mesh-cache"] == "miss"


def test_costs_endpoint_scoping_grouping_and_csv(mesh):
    client(mesh, "other").chat.completions.create(model="gpt", messages=HELLO)
    client(mesh).chat.completions.create(model="big", messages=HELLO)
    headers = {"authorization": f"Bearer {mesh.key_for('other')}"}
    mine = httpx.get(mesh.base_url + "/mesh/costs", params={"group_by": "app,model"}, headers=headers).json()
    assert {g["app"] for g in mine["groups"]} == {"other"}
    forbidden = httpx.get(mesh.base_url + "/mesh/costs", params={"app": "bot"}, headers=headers)
    assert forbidden.status_code == 403
    admin = {"authorization": f"Bearer {mesh.api_key}"}
    everyone = httpx.get(mesh.base_url + "/mesh/costs", params={"group_by": "app", "records": "true"}, headers=admin).json()
    assert {"bot", "other"} <= {g["app"] for g in everyone["groups"]}
    total = sum(Decimal(g["cost_usd"]) for g in everyone["groups"])
    assert total == sum(Decimal(r["cost_usd"]) for r in everyone["records"])
    by_team = httpx.get(mesh.base_url + "/mesh/costs", params={"team": "cx", "group_by": "team,tag:purpose"}, headers=admin).json()
    assert {g["team"] for g in by_team["groups"]} == {"cx"}
    csv = httpx.get(mesh.base_url + "/mesh/costs", params={"format": "csv", "app": "other"}, headers=admin)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("request_id,timestamp,app,team") and all(",other," in line for line in lines[1:])
    bad = httpx.get(mesh.base_url + "/mesh/costs", params={"group_by": "colour"}, headers=admin)
    assert bad.status_code == 400
    # aggregates == sum of records, exactly
    ledger = mesh.runtime.stores.ledger
    records = ledger.records(0, time.time() + 10)
    days = sorted({time.strftime("%Y-%m-%d", time.gmtime(r.timestamp)) for r in records})
    aggregate_nano = sum(a.cost_nano for a in ledger.aggregates(days[0], days[-1]))
    assert aggregate_nano == sum(int(Decimal(r.cost_usd) * 10**9) for r in records)


def test_embeddings_are_priced(mesh):
    raw = client(mesh).embeddings.with_raw_response.create(model="embed", input=["alpha beta gamma", "delta"])
    tokens = raw.parse().usage.prompt_tokens
    assert Decimal(raw.headers["x-mesh-cost-usd"]) == Decimal(tokens) * Decimal("0.02") / 10**6


def test_rate_limit_429_with_retry_after(upstream):
    costs = {"limits": [{"scope": "app", "match": "bot", "requests_per_minute": 3},
                        {"scope": "route", "match": "big", "tokens_per_minute": 200}]}
    with serve_mesh(_config(upstream, costs), env={"FAKE_KEY": "k"}) as mesh:
        # the windows are per clock minute: freeze the cost hook's clock mid-minute, so the four
        # requests can never straddle a minute boundary (which let the fourth through)
        frozen = (time.time() // 60) * 60 + 30
        for hook in mesh.runtime.service.hooks:
            if hook.name == "costs":
                hook.clock = lambda: frozen
        bot = client(mesh)
        for _ in range(3):
            bot.chat.completions.create(model="gpt", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as refused:
            bot.chat.completions.create(model="gpt", messages=HELLO)
        assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
        assert refused.value.response.json()["error"]["code"] == "rate_limit_exceeded"
        # tokens per minute on a route, shared by every app: max_tokens is reserved up front
        with pytest.raises(openai.RateLimitError):
            client(mesh, "narrow").chat.completions.create(model="big", messages=HELLO, max_tokens=500)
        client(mesh, "narrow").chat.completions.create(model="big", messages=HELLO, max_tokens=20)


def test_hard_budget_holds_under_200_concurrent_requests(upstream):
    costs = {"budgets": [{"name": "bot-daily", "scope": "app", "match": "bot", "period": "day",
                          "limit_usd": "0.005", "mode": "hard"}]}
    with serve_mesh(_config(upstream, costs), env={"FAKE_KEY": "k"}) as mesh:
        async def run() -> list[object]:
            async with openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.key_for("bot"), max_retries=0) as aclient:
                async def one(i: int) -> object:
                    try:
                        return await aclient.chat.completions.create(
                            model="big", messages=[{"role": "user", "content": f"hello {i}"}], max_tokens=16)
                    except openai.RateLimitError as exc:
                        return exc
                return await asyncio.gather(*(one(i) for i in range(200)))

        results = asyncio.run(run())
        refused = [r for r in results if isinstance(r, openai.RateLimitError)]
        served = [r for r in results if not isinstance(r, openai.RateLimitError)]
        assert refused and served
        body = refused[0].response.json()["error"]
        assert body["code"] == "budget_exceeded" and "bot-daily" in body["message"]
        day = time.strftime("%Y-%m-%d", time.gmtime())
        state = mesh.runtime.stores.budgets.get(f"bot-daily#bot#{day}")
        assert state.reserved_nano == 0
        assert state.spent_nano <= 5_000_000
        ledger = mesh.runtime.stores.ledger
        records = [r for r in ledger.records(0, time.time() + 10) if r.app == "bot"]
        assert len(records) == len(served)
        record_nano = sum(int(Decimal(r.cost_usd) * 10**9) for r in records)
        assert record_nano == state.spent_nano
        assert sum(a.cost_nano for a in ledger.aggregates(day, day, app="bot")) == record_nano


def test_budgets_endpoint(upstream):
    costs = {"apps": {"bot": {"team": "cx"}},
             "budgets": [{"name": "per-app", "scope": "app", "limit_usd": "10"},
                         {"name": "cx", "scope": "team", "match": "cx", "period": "day", "limit_usd": "20", "mode": "soft"}]}
    with serve_mesh(_config(upstream, costs), env={"FAKE_KEY": "k"}) as mesh:
        raw = client(mesh).chat.completions.with_raw_response.create(model="big", messages=HELLO, max_tokens=10)
        cost = Decimal(raw.headers["x-mesh-cost-usd"])
        mine = httpx.get(mesh.base_url + "/mesh/budgets", headers={"authorization": f"Bearer {mesh.key_for('bot')}"}).json()["data"]
        assert {(r["budget"], r["subject"]) for r in mine} == {("per-app", "bot"), ("cx", "cx")}
        assert all(Decimal(r["spent_usd"]) == cost and Decimal(r["reserved_usd"]) == 0 for r in mine)
        theirs = httpx.get(mesh.base_url + "/mesh/budgets", headers={"authorization": f"Bearer {mesh.key_for('other')}"}).json()["data"]
        assert [(r["budget"], r["subject"], r["spent_usd"]) for r in theirs] == [("per-app", "other", "0")]
        admin = httpx.get(mesh.base_url + "/mesh/budgets", headers={"authorization": f"Bearer {mesh.api_key}"}).json()["data"]
        assert {r["subject"] for r in admin if r["budget"] == "per-app"} == {"bot", "other", "narrow", "test"}


def test_semantic_cache_through_the_embedding_route(upstream):
    config = _config(upstream, {"cache": {"routes": {
        "faq": {"mode": "semantic", "threshold": 0.99, "embedding_route": "embed", "temperature_any": True}}}})
    with serve_mesh(config, env={"FAKE_KEY": "k"}) as mesh:
        question = [{"role": "user", "content": "where is my parcel"}]
        first = client(mesh).chat.completions.with_raw_response.create(model="faq", messages=question, max_tokens=30)
        assert first.headers["x-mesh-cache"] == "miss"
        # not the same exact key (max_tokens differs), the same text: the embeddings agree
        second = client(mesh).chat.completions.with_raw_response.create(model="faq", messages=question, max_tokens=31)
        assert second.headers["x-mesh-cache"] == "semantic"
        theirs = client(mesh, "other").chat.completions.with_raw_response.create(model="faq", messages=question, max_tokens=31)
        assert theirs.headers["x-mesh-cache"] == "miss"
        embeds = [r for r in mesh.runtime.stores.ledger.records(time.time() - 60, time.time() + 10)
                  if r.endpoint == "embeddings.cache"]
        # embeddings for the cache are billed to the app; an app without access to the embedding
        # route gets the exact cache only
        assert {r.app for r in embeds} == {"bot"} and all(Decimal(r.cost_usd) > 0 for r in embeds)
