"""Budgets: reserve the worst case before a call, settle the actual cost after.

A budget applies to an app, a team, a tag (``key=value``; ``key=*`` gives every
value its own counter) or everything, per UTC day or month. Its counter lives in
the shared store under ``<name>#<subject>#<period>``, so every instance (every
Lambda) draws on the same amount. Hard budgets refuse a request (429
``budget_exceeded``, naming the budget) when spent + reserved + the request's worst
case would pass the limit; soft budgets only alert. Both alert when spending
crosses one of ``alert_at``'s fractions.

Each reservation is a hold of its own (a fresh id) that expires ``hold_seconds`` after
it is taken: 900 s, the longest any Lambda invocation can live, plus a minute. A
process that dies between reserve and settle leaves a hold the store releases once
it has expired, so the budget's room comes back instead of staying held forever.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping, Sequence

from llm_mesh.cost.config import BudgetConfig
from llm_mesh.errors import BudgetExceeded, MeshError

logger = logging.getLogger("llm_mesh.cost.budgets")
NANO_PER_USD = 1_000_000_000
_KEEP_S = 40 * 86400  # counters expire (TTL) this long after their period ends
HOLD_SECONDS = 900 + 60  # a reservation outlives the longest invocation (Lambda's 900 s) by a margin


class GovernanceUnavailable(MeshError):
    status = 503
    type = "server_error"
    code = "governance_store_unavailable"


@dataclass(frozen=True)
class Hold:
    budget: BudgetConfig
    key: str
    amount_nano: int  # 0 for soft budgets (nothing reserved)
    period_end: float
    hold_id: str | None = None  # the store's record of this reservation (expires if never settled)


def to_nano(usd: Decimal | str) -> int:
    return int(Decimal(usd) * NANO_PER_USD)


def period(budget: BudgetConfig, now: float) -> tuple[str, float]:
    """(period label, epoch seconds when it ends) in UTC."""
    return _period(budget.period, int(now // 86400))


@functools.lru_cache(maxsize=256)
def _period(kind: str, day_number: int) -> tuple[str, float]:
    """Per UTC day (POSIX days are 86,400 s): computed once, not on every reservation."""
    moment = dt.datetime.fromtimestamp(day_number * 86400, dt.timezone.utc)
    if kind == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), (start + dt.timedelta(days=1)).timestamp()
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start.strftime("%Y-%m"), end.timestamp()


def subject(budget: BudgetConfig, app: str, team: str | None, tags: Mapping[str, str]) -> str | None:
    """The counter this request draws on for ``budget``, or None when it does not apply."""
    if budget.scope == "global":
        return "*"
    if budget.scope == "app":
        return app if budget.match in ("*", app) else None
    if budget.scope == "team":
        if team is None:
            return None
        return team if budget.match in ("*", team) else None
    key, _, value = budget.match.partition("=")
    if budget.apps is not None:
        if app not in budget.apps:
            return None  # a tag is a client's claim: it cannot reach another tenant's budget
        if key not in tags and value != "*":
            return budget.match  # a governed app cannot escape by leaving the tag off
    if key not in tags:
        return None
    if value == "*":
        return f"{key}={tags[key]}"
    return budget.match if tags[key] == value else None


class BudgetGuard:
    def __init__(self, budgets: Sequence[BudgetConfig], store: Any,
                 on_alert: Callable[[BudgetConfig, str, int, int, float], None] | None = None,
                 hold_seconds: float = HOLD_SECONDS) -> None:
        self.budgets = tuple(budgets)
        self.store = store
        self.on_alert = on_alert or _log_alert
        self.hold_seconds = hold_seconds

    def _counters(self, app: str, team: str | None, tags: Mapping[str, str],
                  now: float) -> Iterator[tuple[BudgetConfig, str, str, float]]:
        """(budget, subject, counter key, period end) of every budget this request draws on."""
        for budget in self.budgets:
            who = subject(budget, app, team, tags)
            if who is not None:
                label, end = period(budget, now)
                yield budget, who, f"{budget.name}#{who}#{label}", end

    def reserve_from_leases(self, app: str, team: str | None, tags: Mapping[str, str], worst_nano: int,
                            now: float) -> list[Hold] | None:
        """The holds, when every hard budget admits from this process's lease (cost.leases) without
        a store call; None when one would need the store (what was taken is given back)."""
        take = getattr(self.store, "reserve_from_lease", None)
        if take is None:
            return None
        holds: list[Hold] = []
        for budget, _, key, end in self._counters(app, team, tags, now):
            if budget.mode == "soft":
                holds.append(Hold(budget, key, 0, end))
                continue
            hold_id = uuid.uuid4().hex
            if take(key, worst_nano, hold_id) is None:
                self.settle(holds, 0, now)
                return None
            holds.append(Hold(budget, key, worst_nano, end, hold_id))
        return holds

    def reserve(self, app: str, team: str | None, tags: Mapping[str, str], worst_nano: int, now: float) -> list[Hold]:
        holds: list[Hold] = []
        try:
            for budget, who, key, end in self._counters(app, team, tags, now):
                if budget.mode == "soft":
                    holds.append(Hold(budget, key, 0, end))
                    continue
                hold_id = uuid.uuid4().hex
                try:
                    state = self.store.reserve(key, worst_nano, to_nano(budget.limit_usd), end + _KEEP_S,
                                               hold_id=hold_id, hold_until=now + self.hold_seconds)
                except Exception:
                    if budget.fail_open:
                        logger.warning("budget store unreachable; %s fails open", budget.name)
                        continue
                    raise GovernanceUnavailable("the budget store is unreachable; request refused (fail closed)") from None
                if state is None:
                    raise BudgetExceeded(
                        f"budget {budget.name!r} ({budget.scope} {who}, {budget.period} limit ${budget.limit_usd}) "
                        f"has no room for this request's worst-case cost",
                        code="budget_exceeded",
                        headers={"x-mesh-budget": budget.name},
                    )
                holds.append(Hold(budget, key, worst_nano, end, hold_id))
        except BaseException:
            self.settle(holds, 0, now)
            raise
        return holds

    def settle(self, holds: Sequence[Hold], actual_nano: int, now: float,
               gauge: Callable[[str, float, float], None] | None = None) -> list[tuple[Hold, Any]]:
        """Release ``holds`` and charge ``actual_nano``; per hold, alerts and ``gauge(budget,
        spent_usd, limit_usd)``. A store with ``settle_later`` (cost.settlement) settles behind
        the request path: the list returned is then empty, alerts and gauge follow each settlement."""
        settled: list[tuple[Hold, Any]] = []
        later = getattr(self.store, "settle_later", None)
        for hold in holds:
            if later is not None:
                later(hold.key, hold.amount_nano, actual_nano, hold.period_end + _KEEP_S,
                      functools.partial(self._settled, hold, actual_nano, gauge), hold_id=hold.hold_id)
                continue
            try:
                state = self.store.settle(hold.key, hold.amount_nano, actual_nano, hold.period_end + _KEEP_S,
                                          hold_id=hold.hold_id)
            except Exception:
                logger.exception("could not settle budget %s (%s)", hold.budget.name, hold.key)
                continue
            settled.append((hold, state))
            self._settled(hold, actual_nano, gauge, state)
        return settled

    def _settled(self, hold: Hold, actual_nano: int, gauge: Callable[[str, float, float], None] | None,
                 state: Any) -> None:
        limit = to_nano(hold.budget.limit_usd)
        before = state.spent_nano - actual_nano
        for fraction in hold.budget.alert_at:
            mark = limit * fraction
            if before < mark <= state.spent_nano:
                self.on_alert(hold.budget, hold.key, state.spent_nano, limit, fraction)
        if gauge is not None:
            gauge(hold.budget.name, state.spent_nano / 1e9, float(Decimal(hold.budget.limit_usd)))

    def status(self, now: float, subjects: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        """Current counters of every budget: fixed subjects from ``match``, and for ``*`` the given
        candidates per scope (``{"app": [...], "team": [...]}``); per-value tag counters are not listed."""
        rows = []
        for budget in self.budgets:
            label, _ = period(budget, now)
            if budget.scope == "global":
                names: Sequence[str] = ["*"]
            elif budget.match != "*" and not budget.match.endswith("=*"):
                names = [budget.match]
            else:
                names = subjects.get(budget.scope, ())
            for who in names:
                state = self.store.get(f"{budget.name}#{who}#{label}")
                rows.append({"budget": budget.name, "scope": budget.scope, "subject": who, "period": label,
                             "mode": budget.mode, "limit_usd": budget.limit_usd,
                             "spent_usd": str(Decimal(state.spent_nano) / NANO_PER_USD),
                             "reserved_usd": str(Decimal(state.reserved_nano) / NANO_PER_USD)})
        return rows


def _log_alert(budget: BudgetConfig, key: str, spent_nano: int, limit_nano: int, fraction: float) -> None:
    logger.warning(
        "budget %s crossed %d%% (%s): spent $%s of $%s", budget.name, round(fraction * 100), key,
        Decimal(spent_nano) / NANO_PER_USD, budget.limit_usd,
    )
