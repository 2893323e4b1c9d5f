"""Hard-budget admission from a lease (cost.leases): one store hold admits many requests, two
processes on one SQLite file never spend past the limit together, a budget with room for only a
few requests still admits them, alerts fire once, and idle or closed leases give their room back."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import openai

from llm_mesh.cost.budgets import BudgetGuard
from llm_mesh.cost.config import BudgetConfig
from llm_mesh.cost.leases import BudgetLeases
from llm_mesh.cost.settlement import DeferredSettlement
from llm_mesh.errors import BudgetExceeded
from llm_mesh.stores.sqlite import open_sqlite_stores
from llm_mesh.stores.sqlite.budgets import SqliteBudgetStore
from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

NOW = time.time()
USD = 1_000_000_000


class _CountingStore:
    """The SQLite budget store, counting its reservations (each one is a write transaction)."""

    def __init__(self, inner: SqliteBudgetStore) -> None:
        self.inner, self.reserves = inner, 0

    def reserve(self, *args, **kwargs):
        self.reserves += 1
        return self.inner.reserve(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _budget(limit: str = "1", alert_at: tuple[float, ...] = ()) -> BudgetConfig:
    return BudgetConfig(name="tight", scope="app", match="bot", limit_usd=limit, mode="hard", alert_at=list(alert_at))


def _leases(store, **options) -> BudgetLeases:
    return BudgetLeases(DeferredSettlement(store, interval=0.01), **options)


def test_one_store_reservation_admits_many_requests(tmp_path):
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    counting = _CountingStore(stores.budgets)
    leases = _leases(counting, max_age=600)
    guard = BudgetGuard([_budget("100")], leases)
    for _ in range(64):
        holds = guard.reserve_from_leases("bot", None, {}, 1_000_000, NOW) or guard.reserve("bot", None, {}, 1_000_000, NOW)
        guard.settle(holds, 400_000, NOW)
    # a lease is 32 worst cases; each request gives back what it did not spend: 64 requests fit in one
    assert counting.reserves == 1
    state = leases.get(holds[0].key)  # a reader retires the lease: every request settled, nothing held
    assert (state.spent_nano, state.reserved_nano) == (64 * 400_000, 0)
    leases.close()
    stores.close()


def test_a_budget_with_room_for_three_requests_admits_three(tmp_path):
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    leases = _leases(stores.budgets, max_age=600)
    guard = BudgetGuard([_budget("0.30")], leases)
    admitted = []
    for _ in range(5):
        try:
            admitted.append(guard.reserve_from_leases("bot", None, {}, 100_000_000, NOW)
                            or guard.reserve("bot", None, {}, 100_000_000, NOW))
        except BudgetExceeded:
            pass
    assert len(admitted) == 3  # the lease it asks for is too big: it takes each request's amount instead
    for holds in admitted:
        guard.settle(holds, 100_000_000, NOW)
    state = leases.get(admitted[0][0].key)
    assert (state.spent_nano, state.reserved_nano) == (300_000_000, 0)
    leases.close()
    stores.close()


def test_two_processes_never_spend_past_the_limit_together(tmp_path):
    """Two lease holders on one file (two `mesh serve` workers), eight threads each, every request
    costing its whole worst case: the store's spending never passes the limit."""
    path = tmp_path / "mesh.db"
    bundles = [open_sqlite_stores(path), open_sqlite_stores(path)]
    holders = [_leases(b.budgets, max_age=600) for b in bundles]
    guards = [BudgetGuard([_budget("1")], h) for h in holders]
    answered = [0, 0]
    lock = threading.Lock()

    def spend(which: int) -> None:
        guard = guards[which]
        for _ in range(40):
            try:
                holds = guard.reserve_from_leases("bot", None, {}, 10_000_000, NOW) or guard.reserve(
                    "bot", None, {}, 10_000_000, NOW)
            except BudgetExceeded:
                continue
            with lock:
                answered[which] += 1
            guard.settle(holds, 10_000_000, NOW)

    threads = [threading.Thread(target=spend, args=(i % 2,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for holder in holders:
        holder.flush()
    key = f"tight#bot#{time.strftime('%Y-%m', time.gmtime(NOW))}"
    state = bundles[0].budgets.get(key)
    assert state.spent_nano <= USD and state.reserved_nano == 0
    assert sum(answered) * 10_000_000 == state.spent_nano
    assert sum(answered) >= 90  # room handed back by leases is found again: at most a few refused short of the limit
    for holder in holders:
        holder.close()
    for bundle in bundles:
        bundle.close()


def test_alerts_fire_once_when_the_lease_settles(tmp_path):
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    leases = _leases(stores.budgets, max_age=600)
    alerts: list = []
    guard = BudgetGuard([_budget("1", (0.5,))], leases, on_alert=lambda b, key, spent, limit, f: alerts.append((f, spent)))
    for _ in range(8):
        holds = guard.reserve_from_leases("bot", None, {}, 10_000_000, NOW) or guard.reserve("bot", None, {}, 10_000_000, NOW)
        guard.settle(holds, 100_000_000, NOW)  # $0.10 each: the 5th crosses half the limit
    leases.flush()
    assert alerts == [(0.5, 500_000_000)]
    leases.close()
    stores.close()


def test_an_idle_lease_gives_its_room_back(tmp_path):
    """Another process reading the file sees no room held once this one has been idle max_age."""
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    leases = _leases(stores.budgets, max_age=0.2)
    guard = BudgetGuard([_budget("1")], leases)
    holds = guard.reserve("bot", None, {}, 10_000_000, NOW)
    guard.settle(holds, 3_000_000, NOW)
    reader = open_sqlite_stores(tmp_path / "mesh.db")
    other = reader.budgets
    assert other.get(holds[0].key).reserved_nano > 0  # the lease holds its room meanwhile
    deadline = time.monotonic() + 30  # a hang guard: the condition is what is waited on
    while other.get(holds[0].key).reserved_nano and time.monotonic() < deadline:
        time.sleep(0.01)
    state = other.get(holds[0].key)
    assert (state.spent_nano, state.reserved_nano) == (3_000_000, 0)
    leases.close()
    reader.close()
    stores.close()


def test_close_settles_open_leases(tmp_path):
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    leases = _leases(stores.budgets, max_age=600)
    guard = BudgetGuard([_budget("1")], leases)
    holds = guard.reserve("bot", None, {}, 10_000_000, NOW)
    guard.settle(holds, 2_000_000, NOW)
    leases.close()
    state = stores.budgets.get(holds[0].key)
    assert (state.spent_nano, state.reserved_nano) == (2_000_000, 0)
    stores.close()


def test_through_the_api_a_lease_admits_requests_and_the_counter_matches_the_ledger(tmp_path):
    """The openai SDK over loopback HTTP, 40 requests under a hard budget: the budget store is asked
    for a reservation once, and once the counter is read it equals the ledger's total exactly."""
    inner = open_sqlite_stores(tmp_path / "mesh.db")
    counting = _CountingStore(inner.budgets)
    inner.budgets = counting
    with start_fake_openai() as fake:
        config = {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}}},
            "models": {"chat": {"provider": "fake", "model": "gpt-4o-mini", "prices": {"input": "1.00", "output": "2.00"}}},
            "routes": {"chat": {"provider": "fake", "model": "gpt-4o-mini"}},
            "apps": {"bot": {"routes": "*"}},
            "costs": {"ledger": True, "budgets": [{"name": "bot-hard", "scope": "app", "match": "bot",
                                                   "limit_usd": "100", "mode": "hard"}]},
        }
        with serve_mesh(config, env={"FAKE_KEY": "k"}, stores=inner) as mesh:
            async def run() -> None:
                async with openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.key_for("bot"), max_retries=0) as client:
                    for i in range(40):
                        await client.chat.completions.create(
                            model="chat", messages=[{"role": "user", "content": f"hello {i}"}], max_tokens=16)

            asyncio.run(run())
            assert counting.reserves == 1
            key = f"bot-hard#bot#{time.strftime('%Y-%m', time.gmtime())}"
            state = mesh.runtime.stores.budgets.get(key)
            records = mesh.runtime.stores.ledger.records(0, time.time() + 10, app="bot")
            assert len(records) == 40 and state.reserved_nano == 0
            assert state.spent_nano == sum(int(Decimal(r.cost_usd) * 10**9) for r in records) > 0
    inner.close()
