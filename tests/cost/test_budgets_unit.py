"""Budget and rate-limit rules without a server: subjects, periods, fail closed/open, alerts,
tag parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from llm_mesh.cost.budgets import BudgetGuard, GovernanceUnavailable, period, subject
from llm_mesh.cost.config import BudgetConfig, LimitConfig
from llm_mesh.cost.ratelimit import RateLimiter
from llm_mesh.gateway.tags import parse_tags
from llm_mesh.errors import BudgetExceeded, InvalidRequest, RateLimited
from llm_mesh.stores.sqlite.budgets import SqliteBudgetStore
from llm_mesh.stores.sqlite.connection import SqliteDatabase
from llm_mesh.stores.sqlite.ratelimit import SqliteRateLimitStore

NOW = dt.datetime(2026, 11, 30, 23, 59, 30, tzinfo=dt.timezone.utc).timestamp()


def budget(**kw) -> BudgetConfig:
    return BudgetConfig(**{"name": "b", "limit_usd": "1", **kw})


def test_subjects_and_periods():
    assert subject(budget(), "bot", None, {}) == "bot"
    assert subject(budget(match="other"), "bot", None, {}) is None
    assert subject(budget(scope="team", match="cx"), "bot", "cx", {}) == "cx"
    assert subject(budget(scope="team"), "bot", None, {}) is None
    assert subject(budget(scope="tag", match="project=pilot"), "bot", None, {"project": "pilot"}) == "project=pilot"
    assert subject(budget(scope="tag", match="project=pilot"), "bot", None, {"project": "x"}) is None
    assert subject(budget(scope="tag", match="project=*"), "bot", None, {"project": "x"}) == "project=x"
    assert subject(budget(scope="global"), "bot", None, {}) == "*"
    label, end = period(budget(period="month"), NOW)
    assert label == "2026-11" and end == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).timestamp()
    assert period(budget(period="day"), NOW)[0] == "2026-11-30"


def test_a_tag_budget_with_apps_is_neither_drained_by_others_nor_escaped_by_its_own():
    pilot = budget(scope="tag", match="project=pilot", apps=["bot"])
    assert subject(pilot, "intruder", None, {"project": "pilot"}) is None  # cannot drain another tenant's budget
    assert subject(pilot, "bot", None, {}) == "project=pilot"  # cannot escape by leaving the tag off
    assert subject(pilot, "bot", None, {"project": "pilot"}) == "project=pilot"
    assert subject(pilot, "bot", None, {"project": "elsewhere"}) is None
    every = budget(scope="tag", match="project=*", apps=["bot"])
    assert subject(every, "bot", None, {"project": "x"}) == "project=x" and subject(every, "other", None, {"project": "x"}) is None


class _Down:
    def reserve(self, *args, **kwargs):
        raise ConnectionError("store down")

    def settle(self, *args, **kwargs):
        raise ConnectionError("store down")


def test_fail_closed_unless_fail_open():
    with pytest.raises(GovernanceUnavailable) as refused:
        BudgetGuard([budget()], _Down()).reserve("bot", None, {}, 10, NOW)
    assert refused.value.status == 503
    assert BudgetGuard([budget(fail_open=True)], _Down()).reserve("bot", None, {}, 10, NOW) == []


def test_hard_refusal_names_the_budget_and_releases_earlier_holds(tmp_path):
    store = SqliteBudgetStore(SqliteDatabase(tmp_path / "m.db"))
    guard = BudgetGuard([budget(name="roomy", limit_usd="10"), budget(name="tight", limit_usd="0.000001")], store)
    with pytest.raises(BudgetExceeded) as refused:
        guard.reserve("bot", None, {}, 2_000, NOW)
    assert "'tight'" in refused.value.message and refused.value.status == 429
    assert refused.value.code == "budget_exceeded"
    assert store.get("roomy#bot#2026-11").reserved_nano == 0  # the first hold was given back


def test_alerts_fire_once_per_threshold(tmp_path):
    store = SqliteBudgetStore(SqliteDatabase(tmp_path / "m.db"))
    alerts = []
    guard = BudgetGuard([budget(mode="soft", alert_at=(0.5, 0.9))], store, lambda b, k, s, l, f: alerts.append(f))
    for _ in range(4):  # 0.3 USD each against 1 USD: crosses 50% on the 2nd, 90% on the 3rd
        holds = guard.reserve("bot", None, {}, 999, NOW)
        assert holds[0].amount_nano == 0  # soft budgets reserve nothing
        guard.settle(holds, 300_000_000, NOW)
    assert alerts == [0.5, 0.9]
    assert store.get("b#bot#2026-11").spent_nano == 1_200_000_000  # soft: over the limit, never refused


def test_rate_limiter_token_reservation_is_corrected(tmp_path):
    # The store's sweep runs on the injected clock: with the wall clock, NOW's window was already
    # "expired" and swept between the two admits, so the second one was wrongly allowed.
    store = SqliteRateLimitStore(SqliteDatabase(tmp_path / "m.db"), clock=lambda: NOW)
    limiter = RateLimiter([LimitConfig(scope="route", match="chat", tokens_per_minute=1000)], store)
    holds = limiter.admit("bot", "chat", 900, NOW)
    with pytest.raises(RateLimited) as refused:
        limiter.admit("bot", "chat", 200, NOW)
    assert refused.value.headers["retry-after"] == "30"
    limiter.settle(holds, 100)  # the call used far fewer tokens than reserved
    limiter.admit("bot", "chat", 800, NOW)
    assert limiter.admit("other", "elsewhere", 10**9, NOW) == []  # no limit applies


def test_tags():
    assert parse_tags("team=cx, purpose = billing", {"project": "x"}, 16, 128) == {
        "project": "x", "team": "cx", "purpose": "billing"}
    assert parse_tags(None, None, 16, 128) == {}
    for bad in ("x", ",".join(f"k{i}=1" for i in range(17)), "k=" + "v" * 129, "k y=1", "k=\x01"):
        with pytest.raises(InvalidRequest):
            parse_tags(bad, None, 16, 128)
