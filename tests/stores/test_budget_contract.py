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
