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
from typing import Any, Callable

from llm_mesh.gateway.background import BackgroundBatches
from llm_mesh.stores.interfaces import BudgetState, BudgetStore

logger = logging.getLogger("llm_mesh.cost.budgets")

Settled = Callable[[BudgetState], None]
_Job = tuple[str, int, int, float, Settled]


class DeferredSettlement:
    """A ``BudgetStore`` whose ``settle_later`` a background thread carries out, one
    store write per budget counter per batch."""

    def __init__(self, store: BudgetStore, interval: float = 0.02) -> None:
        self.store = store
        self.closed = False
        self._batches: BackgroundBatches[_Job] = BackgroundBatches(
            self._settle_all, name="mesh-budget-settle", batch_size=1000, interval=interval
        )

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float) -> BudgetState | None:
        state = self.store.reserve(key, amount_nano, limit_nano, expires_at)
        if state is None and self._batches.busy():
            self.flush()  # our own queued settlements first: they may release the room
            state = self.store.reserve(key, amount_nano, limit_nano, expires_at)
        return state

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float) -> BudgetState:
        return self.store.settle(key, reserved_nano, actual_nano, expires_at)

    def settle_later(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float, then: Settled) -> None:
        """Queue the settlement; ``then(state)`` runs on the background thread once it is made."""
        if self.closed:
            then(self.store.settle(key, reserved_nano, actual_nano, expires_at))
            return
        self._batches.put((key, reserved_nano, actual_nano, expires_at, then))

    def _settle_all(self, jobs: list[_Job]) -> None:
        """One store write per counter for the whole batch (the sums of its holds and costs);
        each job's callback then sees the counter as it stood after that job."""
        groups: dict[tuple[str, float], list[_Job]] = {}
        for job in jobs:
            groups.setdefault((job[0], job[3]), []).append(job)
        for (key, expires_at), group in groups.items():
            try:
                state = self.store.settle(key, sum(j[1] for j in group), sum(j[2] for j in group), expires_at)
            except Exception:
                logger.exception("could not settle budget counter %s (%d settlements)", key, len(group))
                continue
            spent, held, states = state.spent_nano, state.reserved_nano, []
            for _, reserved_nano, actual_nano, _, _ in reversed(group):
                states.append(BudgetState(key, spent, held))
                spent, held = spent - actual_nano, held + reserved_nano
            for (*_, then), after in zip(group, reversed(states)):
                try:
                    then(after)
                except Exception:  # alerts and gauges must never stop the settlements behind them
                    logger.exception("budget alert for %s failed", key)

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


def settle_behind(stores: Any) -> DeferredSettlement | None:
    """Put ``stores.budgets`` behind a settling thread (once per store bundle); None without budgets."""
    budgets = getattr(stores, "budgets", None)
    if budgets is None:
        return None
    if isinstance(budgets, DeferredSettlement):
        if not budgets.closed:
            return budgets
        budgets = budgets.store
    wrapped = DeferredSettlement(budgets)
    stores.budgets = wrapped
    return wrapped
