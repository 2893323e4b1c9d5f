"""BudgetStore contract on SQLite and DynamoDB Local: reserve is atomic (never past the limit,
even with 200 concurrent reservations from many instances), settle charges actuals."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_mesh.stores.interfaces import BudgetState
from llm_mesh.stores.sqlite.budgets import SqliteBudgetStore
from tests.cost.stores import store_factory

EXP = time.time() + 86400


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request, tmp_path):
    yield from store_factory(request, tmp_path, SqliteBudgetStore, "BUDGETS", "llm_mesh.stores.dynamodb.budgets:DynamoBudgetStore")


def test_reserve_settle_and_refuse(make_store):
    store = make_store()
    assert store.get("b#x#2026-11") == BudgetState("b#x#2026-11")
    assert store.reserve("b#x#2026-11", 600, 1000, EXP) == BudgetState("b#x#2026-11", 0, 600)
    assert store.reserve("b#x#2026-11", 500, 1000, EXP) is None  # 600 + 500 > 1000
    assert store.reserve("b#x#2026-11", 400, 1000, EXP) == BudgetState("b#x#2026-11", 0, 1000)  # exactly the limit
    assert store.settle("b#x#2026-11", 600, 250, EXP) == BudgetState("b#x#2026-11", 250, 400)
    assert store.settle("b#x#2026-11", 400, 0, EXP) == BudgetState("b#x#2026-11", 250, 0)  # released
    assert store.reserve("b#x#2026-11", 751, 1000, EXP) is None
    assert store.reserve("b#x#2026-11", 750, 1000, EXP) is not None
    assert store.get("b#other#2026-11") == BudgetState("b#other#2026-11")
    assert store.reserve("b#y", 2000, 1000, EXP) is None  # larger than the whole budget


def test_200_concurrent_reservations_never_overspend(make_store):
    limit, worst, actual = 1_000_000, 9_000, 7_000  # room for 111 worst cases
    stores = [make_store() for _ in range(8)]
    admitted = []
    lock = threading.Lock()

    def one(i: int) -> None:
        store = stores[i % len(stores)]
        state = store.reserve("hard#app#2026-11", worst, limit, EXP)
        if state is None:
            return
        assert state.spent_nano + state.reserved_nano <= limit
        with lock:
            admitted.append(i)
        store.settle("hard#app#2026-11", worst, actual, EXP)

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(one, range(200)))
    final = make_store().get("hard#app#2026-11")
    assert final.reserved_nano == 0
    assert final.spent_nano == actual * len(admitted) <= limit
    assert len(admitted) >= limit // worst  # refusals only once the budget was really committed


# ---------------------------------------------------------------- holds expire (a dead invocation's reservation)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_clocked(request, tmp_path):
    """Stores that read the time from one injectable clock (no sleeps)."""
    import functools

    from llm_mesh.stores.dynamodb.budgets import DynamoBudgetStore

    clock = Clock(1_000.0)
    sqlite_cls = functools.partial(SqliteBudgetStore, clock=clock)
    for factory in store_factory(request, tmp_path, sqlite_cls, "BUDGETS", "llm_mesh.stores.dynamodb.budgets:DynamoBudgetStore"):
        if request.param == "dynamodb":
            plain = factory

            def factory():  # the same client and table, the clock injected
                store = plain()
                return DynamoBudgetStore(store._client, store._table, clock=clock)
        yield factory, clock


def test_a_reservation_never_settled_is_released_after_its_expiry(make_clocked):
    make, clock = make_clocked
    dead, live = make(), make()  # the dead one's process never comes back to settle
    key = "hard#bot#2026-11"
    assert dead.reserve(key, 700, 1000, EXP, hold_id="dead", hold_until=1_100.0) == BudgetState(key, 0, 700)
    assert live.reserve(key, 400, 1000, EXP, hold_id="a", hold_until=1_200.0) is None  # held: no room
    clock.now = 1_099.9
    assert live.get(key) == BudgetState(key, 0, 700) and live.reserve(key, 301, 1000, EXP, hold_id="b", hold_until=1_200.0) is None
    clock.now = 1_100.0  # the dead hold expires; the next reserve releases it
    assert live.reserve(key, 400, 1000, EXP, hold_id="c", hold_until=1_200.0) == BudgetState(key, 0, 400)
    assert live.settle(key, 400, 150, EXP, hold_id="c") == BudgetState(key, 150, 0)
    assert live.reserve(key, 850, 1000, EXP, hold_id="d", hold_until=1_300.0) == BudgetState(key, 150, 850)
    clock.now = 1_300.0  # released lazily on read as well
    assert live.get(key) == BudgetState(key, 150, 0)
    # The dead invocation comes back after all: its hold is gone, so it charges its actual only.
    assert dead.settle(key, 700, 200, EXP, hold_id="dead") == BudgetState(key, 350, 0)
    assert live.settle(key, 850, 0, EXP, hold_id="d") == BudgetState(key, 350, 0)  # released already: no double release


def test_expired_holds_are_released_exactly_once_under_concurrency(make_clocked):
    """Instances racing to release the same expired holds while others reserve and settle: the
    counter ends at exactly the settled actuals, and never admitted past the limit."""
    make, clock = make_clocked
    key, limit, worst, actual = "hard#race#2026-11", 100_000, 9_000, 7_000
    stores = [make() for _ in range(6)]
    for i in range(10):  # 90,000 held by invocations that died
        assert stores[0].reserve(key, worst, limit, EXP, hold_id=f"dead{i}", hold_until=1_010.0) is not None
    clock.now = 1_010.0
    admitted, lock = [], threading.Lock()

    def one(i: int) -> None:
        store = stores[i % len(stores)]
        state = store.reserve(key, worst, limit, EXP, hold_id=f"live{i}", hold_until=2_000.0)
        if state is None:
            return
        assert state.spent_nano + state.reserved_nano <= limit
        with lock:
            admitted.append(i)
        store.settle(key, worst, actual, EXP, hold_id=f"live{i}")

    with ThreadPoolExecutor(24) as pool:
        list(pool.map(one, range(60)))
    final = make().get(key)
    assert final == BudgetState(key, actual * len(admitted), 0) and final.spent_nano <= limit
    assert len(admitted) >= limit // worst
