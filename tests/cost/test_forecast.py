"""The month-end projection on a fixed clock: month-to-date + run-rate x days left, exact decimals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from llm_mesh.cost.forecast import DAY, ForecastWindow, forecast
from llm_mesh.stores.interfaces import CostRecord

NOW = dt.datetime(2026, 11, 11, 0, 0, tzinfo=dt.UTC).timestamp()  # 10 days in, 20 left (30-day month)


def _record(n: int, days_ago: float, app: str, cost: str, team: str | None = None) -> CostRecord:
    return CostRecord(request_id=f"r{n}", timestamp=NOW - days_ago * DAY, app=app, route="chat", provider="p",
                      model="m", team=team, cost_usd=cost)


def test_window_of_a_thirty_day_month():
    span = ForecastWindow.at(NOW, lookback_days=7)
    assert span.days_elapsed == 10 and span.days_left == 20
    assert dt.datetime.fromtimestamp(span.month_end, dt.UTC) == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    december = ForecastWindow.at(dt.datetime(2026, 12, 31, 12, tzinfo=dt.UTC).timestamp())
    assert december.days_left == Decimal("0.5")  # rolls into next year
    assert dt.datetime.fromtimestamp(december.month_end, dt.UTC).year == 2027


def test_projection_per_app_and_team():
    records = [
        _record(1, 9.5, "bot", "10", "cx"),        # this month, outside the 7-day window
        _record(2, 3, "bot", "1.4", "cx"),         # this month, in the window
        _record(3, 1, "bot", "0.000000001", "cx"),
        _record(4, 12, "ops", "7"),                # last month, but inside a 14-day window
        _record(5, 40, "ops", "99"),               # too old for anything
    ]
    body = forecast(records, ForecastWindow.at(NOW, 7), group_by=("app", "team"))
    rows = {r["app"]: r for r in body["groups"]}
    bot = rows["bot"]
    assert bot["team"] == "cx" and bot["requests_this_month"] == 3
    assert bot["month_to_date_usd"] == "11.400000001"
    assert Decimal(bot["daily_rate_usd"]) == (Decimal("1.400000001") / 7).quantize(Decimal("1e-9"))
    assert Decimal(bot["projected_usd"]) == (Decimal("11.400000001") + Decimal("1.400000001") / 7 * 20).quantize(Decimal("1e-9"))
    assert "ops" not in rows  # nothing this month and nothing in the window
    assert "last 7 day(s) / 7" in body["method"] and body["days_left"] == 20

    wide = forecast(records, ForecastWindow.at(NOW, 14), group_by=("app",))
    ops = next(r for r in wide["groups"] if r["app"] == "ops")
    assert ops["month_to_date_usd"] == "0.000000000" and ops["projected_usd"] == "10.000000000"  # 7/14 x 20
    assert [r["app"] for r in wide["groups"]] == ["bot", "ops"]  # largest projection first
    assert Decimal(wide["total"]["projected_usd"]) == sum(Decimal(r["projected_usd"]) for r in wide["groups"])


def test_no_records_and_bad_arguments():
    body = forecast([], ForecastWindow.at(NOW), group_by=("team",))
    assert body["groups"] == [] and body["total"]["projected_usd"] == "0.000000000"
    with pytest.raises(ValueError, match="cannot forecast by 'colour'"):
        forecast([], ForecastWindow.at(NOW), group_by=("colour",))
    with pytest.raises(ValueError, match="from 1 to 90"):
        ForecastWindow.at(NOW, lookback_days=0)
