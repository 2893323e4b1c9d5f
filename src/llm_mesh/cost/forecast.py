"""Month-end spend projection from the cost ledger (pure: records and a clock in, figures out).

Method (the same for the CLI, the API and the console):

    projected = month-to-date spend + daily run-rate x days left in the month
    daily run-rate = spend over the last ``lookback_days`` days (ending now) / lookback_days

"Days left" is fractional (now to 00:00 UTC on the first of next month). The run-rate
window may reach back into the previous month; a mesh younger than the window is
divided by the whole window (a deliberately conservative rate, stated in the output).
Amounts are summed in exact decimals and printed quantized to 1e-9 USD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from llm_mesh.stores.interfaces import CostRecord

DAY = 86_400
FORECAST_FIELDS = ("app", "team", "project", "route", "provider", "model", "user")
DEFAULT_LOOKBACK_DAYS = 7
MAX_LOOKBACK_DAYS = 90
_Q = Decimal("0.000000001")
METHOD = ("projected = month-to-date spend + daily run-rate x days left in the UTC month; "
          "daily run-rate = spend over the last {n} day(s) / {n}")


@dataclass(frozen=True)
class ForecastWindow:
    now: float
    month_start: float
    month_end: float
    lookback_days: int

    @classmethod
    def at(cls, now: float, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> ForecastWindow:
        if not 1 <= lookback_days <= MAX_LOOKBACK_DAYS:
            raise ValueError(f"lookback days must be from 1 to {MAX_LOOKBACK_DAYS}")
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        return cls(now=now, month_start=start.timestamp(), month_end=end.timestamp(), lookback_days=lookback_days)

    @property
    def rate_since(self) -> float:
        return self.now - self.lookback_days * DAY

    @property
    def since(self) -> float:
        """The earliest record the projection reads."""
        return min(self.month_start, self.rate_since)

    @property
    def days_elapsed(self) -> Decimal:
        return Decimal(str(self.now - self.month_start)) / DAY

    @property
    def days_left(self) -> Decimal:
        return max(Decimal(0), Decimal(str(self.month_end - self.now)) / DAY)


def check_group_by(group_by: Iterable[str]) -> tuple[str, ...]:
    names = tuple(group_by)
    for name in names:
        if name not in FORECAST_FIELDS:
            raise ValueError(f"cannot forecast by {name!r}; use {', '.join(FORECAST_FIELDS)}")
    return names


def _usd(amount: Decimal) -> str:
    return f"{amount.quantize(_Q):f}"


def _row(key: dict[str, str], mtd: Decimal, window: Decimal, requests: int, span: ForecastWindow) -> dict[str, Any]:
    rate = window / span.lookback_days
    return {**key, "requests_this_month": requests, "month_to_date_usd": _usd(mtd), "daily_rate_usd": _usd(rate),
            "projected_usd": _usd(mtd + rate * span.days_left)}


def forecast(records: Iterable[CostRecord], span: ForecastWindow, group_by: Iterable[str] = ("app",)) -> dict[str, Any]:
    """The projection per group (largest projected spend first) and for everything together."""
    names = check_group_by(group_by)
    sums: dict[tuple[str, ...], list[Any]] = {}
    total = [Decimal(0), Decimal(0), 0]
    for record in records:
        if not span.since <= record.timestamp < span.now + 1:
            continue
        key = tuple(getattr(record, name) or "" for name in names)
        acc = sums.setdefault(key, [Decimal(0), Decimal(0), 0])
        cost = Decimal(record.cost_usd)
        in_month = record.timestamp >= span.month_start
        for target in (acc, total):
            if in_month:
                target[0] += cost
                target[2] += 1
            if record.timestamp >= span.rate_since:
                target[1] += cost
    rows = [_row(dict(zip(names, key)), *acc, span) for key, acc in sums.items()]
    rows.sort(key=lambda r: (-Decimal(r["projected_usd"]), [r[n] for n in names]))
    return {
        "object": "mesh.costs.forecast",
        "method": METHOD.format(n=span.lookback_days),
        "now": span.now, "month": dt.datetime.fromtimestamp(span.month_start, dt.UTC).strftime("%Y-%m"),
        "month_start": span.month_start, "month_end": span.month_end, "lookback_days": span.lookback_days,
        "days_elapsed": float(round(span.days_elapsed, 4)), "days_left": float(round(span.days_left, 4)),
        "group_by": list(names), "groups": rows, "total": _row({}, *total, span),
    }


def ledger_forecast(ledger: Any, span: ForecastWindow, group_by: Iterable[str] = ("app",),
                    app: str | None = None) -> dict[str, Any]:
    """``forecast`` over the ledger store's records in the window (optionally one app's)."""
    names = check_group_by(group_by)
    return forecast(ledger.records(span.since, span.now + 1, app=app), span, names)
