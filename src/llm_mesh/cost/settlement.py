"""Budget settlement off the request path (the local home).

A hard budget's reservation must be made before the call, in the shared store; its
settlement (release the hold, charge the actual cost) need not delay the answer. Here a
background thread makes the settlements, in arrival order, a few milliseconds later; the
request path only queues them. Until then the hold stays reserved, which only errs on the
side of refusing: a reservation this process is refused is retried once after its own
queued settlements are in, so a refusal never stems from a settlement still in the queue.
Reads (``get``) wait for the queue too, so every in-process reader (``/v1/mesh/budgets``,
the console, tests) sees every answered request settled. Other processes on the same file
see a settlement up to ``interval`` later (a hold they count a little longer).

A process killed with settlements queued leaves those holds reserved, as it would leave
the holds of the calls it had in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from llm_mesh.gateway.background import BackgroundBatches
from llm_mesh.stores.interfaces import BudgetState, BudgetStore

logger = logging.getLogger("llm_mesh.cost.budgets")

Settled = Callable[[BudgetState], None]
_Job = tuple[str, int, int, float, Settled, "str | None"]  # key, reserved, actual, expires, then, hold id


class DeferredSettlement:
    """A ``BudgetStore`` whose ``settle_later`` a background thread carries out, one
    store write per budget counter per batch."""

    def __init__(self, store: BudgetStore, interval: float = 0.02) -> None:
        self.store = store
        self.closed = False
        self._batches: BackgroundBatches[_Job] = BackgroundBatches(
            self._settle_all, name="mesh-budget-settle", batch_size=1000, interval=interval
        )

    @property
    def deferred(self) -> bool:
        """settle_later only queues, until close (then it settles inline)."""
        return not self.closed

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float,
                **hold: Any) -> BudgetState | None:
        """``hold``: the store's ``hold_id``/``hold_until`` for an expiring reservation."""
        state = self.store.reserve(key, amount_nano, limit_nano, expires_at, **hold)
        if state is None and self._batches.busy():
            self.flush()  # our own queued settlements first: they may release the room
            state = self.store.reserve(key, amount_nano, limit_nano, expires_at, **hold)
        return state

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float,
               hold_id: str | None = None) -> BudgetState:
        return self._settle_one(key, reserved_nano, actual_nano, expires_at, hold_id)

    def _settle_one(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float,
                    hold_id: str | None) -> BudgetState:
        if hold_id is None:
            return self.store.settle(key, reserved_nano, actual_nano, expires_at)
        return self.store.settle(key, reserved_nano, actual_nano, expires_at, hold_id=hold_id)

    def settle_later(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float, then: Settled,
                     hold_id: str | None = None) -> None:
        """Queue the settlement; ``then(state)`` runs on the background thread once it is made."""
        if self.closed:
            then(self._settle_one(key, reserved_nano, actual_nano, expires_at, hold_id))
            return
        self._batches.put((key, reserved_nano, actual_nano, expires_at, then, hold_id))

    def _settle_all(self, jobs: list[_Job]) -> None:
        """One store write per counter for the whole batch (the sums of its holds and costs);
        each job's callback then sees the counter as it stood after that job."""
        groups: dict[tuple[str, float], list[_Job]] = {}
        for job in jobs:
            groups.setdefault((job[0], job[3]), []).append(job)
        for (key, expires_at), group in groups.items():
            if any(job[5] is not None for job in group):
                self._settle_each(group)  # each hold is its own record: released one by one
                continue
            try:
                state = self.store.settle(key, sum(j[1] for j in group), sum(j[2] for j in group), expires_at)
            except Exception:
                logger.exception("could not settle budget counter %s (%d settlements)", key, len(group))
                continue
            spent, held, states = state.spent_nano, state.reserved_nano, []
            for _, reserved_nano, actual_nano, _, _, _ in reversed(group):
                states.append(BudgetState(key, spent, held))
                spent, held = spent - actual_nano, held + reserved_nano
            for job, after in zip(group, reversed(states)):
                _notify(job, after)

    def _settle_each(self, group: list[_Job]) -> None:
        for job in group:
            key, reserved_nano, actual_nano, expires_at, _, hold_id = job
            try:
                state = self._settle_one(key, reserved_nano, actual_nano, expires_at, hold_id)
            except Exception:
                logger.exception("could not settle budget hold %s of %s", hold_id, key)
                continue
            _notify(job, state)

    def get(self, key: str) -> BudgetState:
        self.flush()
        return self.store.get(key)

    def flush(self, timeout: float = 10.0) -> None:
        self._batches.flush(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def close(self) -> None:
        if not self.closed:
            self.closed = True  # from now on settlements are made inline
            self._batches.close()  # makes the queued ones first


def _notify(job: _Job, state: BudgetState) -> None:
    try:
        job[4](state)
    except Exception:  # alerts and gauges must never stop the settlements behind them
        logger.exception("budget alert for %s failed", job[0])


def settle_behind(stores: Any) -> DeferredSettlement | None:
    """Put ``stores.budgets`` behind a settling thread (once per store bundle); None without budgets."""
    budgets = getattr(stores, "budgets", None)
    if budgets is None:
        return None
    inner = getattr(budgets, "settlement", None)  # leases over a settlement (cost.leases)
    if isinstance(inner, DeferredSettlement):
        budgets = inner
    if isinstance(budgets, DeferredSettlement):
        if not budgets.closed:
            return budgets
        budgets = budgets.store
    wrapped = DeferredSettlement(budgets)
    stores.budgets = wrapped
    return wrapped
