"""BudgetGuard's reservations expire: an invocation that dies between reserve and settle
holds the budget only until its hold expires (SQLite store, injected clock, no sleeps)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llm_mesh.cost.budgets import HOLD_SECONDS, BudgetGuard
from llm_mesh.cost.config import BudgetConfig
from llm_mesh.errors import BudgetExceeded
from llm_mesh.stores.sqlite.budgets import SqliteBudgetStore
from llm_mesh.stores.sqlite.connection import SqliteDatabase

NOW = 1_796_000_000.0  # mid-November 2026


def test_a_dead_invocations_hold_comes_back_after_it_expires(tmp_path) -> None:
    clock = [NOW]
    db = SqliteDatabase(tmp_path / "mesh.db")
    guard = BudgetGuard([BudgetConfig(name="cap", scope="app", match="bot", limit_usd=Decimal("1.00"), mode="hard")],
                        SqliteBudgetStore(db, clock=lambda: clock[0]))
    worst = 600_000_000  # $0.60
    (dead,) = guard.reserve("bot", None, {}, worst, NOW)  # its process dies: never settled
    assert dead.hold_id and guard.status(NOW, {})[0]["reserved_usd"] == "0.6"
    with pytest.raises(BudgetExceeded):
        guard.reserve("bot", None, {}, worst, NOW + 1)
    clock[0] = NOW + HOLD_SECONDS - 1
    with pytest.raises(BudgetExceeded):
        guard.reserve("bot", None, {}, worst, clock[0])
    clock[0] = NOW + HOLD_SECONDS
    holds = guard.reserve("bot", None, {}, worst, clock[0])  # the dead hold is released first
    (_, state), = guard.settle(holds, 250_000_000, clock[0])
    assert (state.spent_nano, state.reserved_nano) == (250_000_000, 0)
    db.close()


def test_settlements_behind_the_request_path_release_their_own_holds(tmp_path) -> None:
    """The local home settles in a background thread (cost.settlement): each settlement still
    removes its own hold record, so nothing is released twice when the hold's expiry passes."""
    from llm_mesh.cost.settlement import DeferredSettlement

    clock = [NOW]
    db = SqliteDatabase(tmp_path / "mesh.db")
    deferred = DeferredSettlement(SqliteBudgetStore(db, clock=lambda: clock[0]))
    guard = BudgetGuard([BudgetConfig(name="cap", scope="app", match="bot", limit_usd=Decimal("1.00"), mode="hard")],
                        deferred)
    for _ in range(3):
        holds = guard.reserve("bot", None, {}, 200_000_000, clock[0])
        assert guard.settle(holds, 100_000_000, clock[0]) == []  # queued, settled behind
    deferred.flush()
    assert db.connection().execute("SELECT COUNT(*) FROM budget_holds").fetchone()[0] == 0
    clock[0] = NOW + HOLD_SECONDS + 1  # past every hold's expiry: nothing left to release
    status = guard.status(clock[0], {})[0]
    assert (status["spent_usd"], status["reserved_usd"]) == ("0.3", "0")
    deferred.close()
    db.close()
