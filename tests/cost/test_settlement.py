"""Budget settlements made behind the request path: a hard budget refuses exactly as when
settling inline, reads see every settlement, alerts and gauges still fire."""

from __future__ import annotations

import threading
import time

from llm_mesh.cost.budgets import BudgetGuard
from llm_mesh.cost.config import BudgetConfig
from llm_mesh.cost.settlement import DeferredSettlement
from llm_mesh.stores.sqlite import open_sqlite_stores

NOW = time.time()


def _guard(tmp_path, alerts: list) -> tuple[BudgetGuard, DeferredSettlement, object]:
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    # a long interval: settlements stay queued unless something waits for them
    deferred = DeferredSettlement(stores.budgets, interval=5.0)
    budget = BudgetConfig(name="tight", scope="app", match="bot", limit_usd="1", mode="hard", alert_at=[0.5])
    guard = BudgetGuard([budget], deferred, on_alert=lambda b, key, spent, limit, f: alerts.append((b.name, f)))
    return guard, deferred, stores


def test_room_released_by_a_queued_settlement_is_found(tmp_path):
    alerts: list = []
    guard, deferred, stores = _guard(tmp_path, alerts)
    worst = 900_000_000  # $0.90 of the $1 limit: one hold at a time
    for _ in range(5):  # each request holds the worst case, then costs $0.01
        holds = guard.reserve("bot", None, {}, worst, NOW)
        assert guard.settle(holds, 10_000_000, NOW) == []  # queued, not made yet
    state = deferred.get(holds[0].key)  # a read waits for the queue
    assert (state.spent_nano, state.reserved_nano) == (50_000_000, 0)
    deferred.close()
    stores.close()


def test_alerts_and_gauge_follow_the_settlement(tmp_path):
    alerts: list = []
    guard, deferred, stores = _guard(tmp_path, alerts)
    gauged = threading.Event()
    seen: list = []

    def gauge(name: str, spent: float, limit: float) -> None:
        seen.append((name, round(spent, 2), limit))
        gauged.set()

    holds = guard.reserve("bot", None, {}, 600_000_000, NOW)
    guard.settle(holds, 600_000_000, NOW, gauge=gauge)
    deferred.flush()
    assert gauged.is_set()
    assert seen == [("tight", 0.6, 1.0)] and alerts == [("tight", 0.5)]
    deferred.close()
    after = guard.reserve("bot", None, {}, 100_000_000, NOW)
    guard.settle(after, 100_000_000, NOW)  # closed: settled inline, before settle returns
    state = stores.budgets.get(after[0].key)
    assert (state.spent_nano, state.reserved_nano) == (700_000_000, 0)
    stores.close()


def test_a_batch_of_settlements_alerts_once_when_it_crosses(tmp_path):
    alerts: list = []
    guard, deferred, stores = _guard(tmp_path, alerts)
    gauges: list = []
    for _ in range(8):  # $0.10 each: one batch; it crosses the 50% alert once, at the 5th
        holds = guard.reserve("bot", None, {}, 100_000_000, NOW)
        guard.settle(holds, 100_000_000, NOW, gauge=lambda name, spent, limit: gauges.append(round(spent, 2)))
    deferred.flush()
    assert alerts == [("tight", 0.5)]
    assert gauges == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    state = deferred.get(holds[0].key)
    assert (state.spent_nano, state.reserved_nano) == (800_000_000, 0)
    deferred.close()
    stores.close()
