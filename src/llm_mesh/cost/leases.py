"""Hard-budget admission from memory (the local home): a process reserves a lease, a share of
the budget, in the shared store once, then admits requests against it without a store write.

A lease is one ordinary store hold (``BudgetStore.reserve`` with its own hold id), so the
store's check is what keeps every process together under the limit: room a lease holds is
room no other process can take, and a lease refused by the store falls back to reserving the
request's own amount (a lease of exactly that size), refused as before when even that does not
fit. In memory, a request takes its worst case from the lease's free room and gives it back at
settlement, charging its actual cost to the lease. When the lease retires it is settled as one
hold: its whole amount released and the summed actual cost charged, in one store write (behind
the request path, through ``DeferredSettlement``). Budget alerts and gauges follow then, each
request's callback seeing the counter as it stood after that request.

A lease retires when a request no longer fits in it, when it is ``max_age`` old (a timer, so an
idle process gives its room back and other processes see its spending within that time), on
``get``/``flush`` (every in-process reader sees every answered request settled, and no lease
room counted as reserved) and on close. Its size is ``factor`` times the request's worst case,
at most ``max_share`` of the limit, so idle leases of other processes can withhold at most that
share each near the limit. A lease is never used past ``max_age``, far inside its store hold's
expiry, so its room is always held in the store while requests draw on it.

A process killed with a lease open loses the charge of the requests it admitted since the lease
was taken (at most ``max_age`` of spending: their ledger records are journaled, the counter is
not), as a killed process loses its queued settlements today; the lease's hold expires in the
store like any dead caller's.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.cost.settlement import DeferredSettlement, Settled
from llm_mesh.stores.interfaces import BudgetState

logger = logging.getLogger("llm_mesh.cost.budgets")
LEASE_FACTOR = 32  # a lease admits about this many worst-case requests before the store is asked again
LEASE_MAX_SHARE = 0.05  # of the limit: what one process's idle lease can withhold from the others
LEASE_MAX_AGE_S = 2.0


@dataclass(slots=True)
class _Lease:
    key: str
    hold_id: str
    amount_nano: int
    expires_at: float
    taken_at: float
    outstanding_nano: int = 0  # worst cases of admitted requests not settled yet
    used_nano: int = 0  # actual costs of settled requests
    settled: list[tuple[int, Settled]] = field(default_factory=list)  # (actual, callback) in order
    retiring: bool = False

    @property
    def free_nano(self) -> int:
        return self.amount_nano - self.outstanding_nano - self.used_nano


class BudgetLeases:
    """A ``BudgetStore`` (over ``DeferredSettlement``) that admits hard-budget requests from a lease."""

    def __init__(self, deferred: DeferredSettlement, *, factor: int = LEASE_FACTOR,
                 max_share: float = LEASE_MAX_SHARE, max_age: float = LEASE_MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settlement = deferred
        self.store = deferred.store
        self.factor, self.max_share, self.max_age, self._clock = factor, max_share, max_age, clock
        self._lock = threading.Lock()
        self._current: dict[str, _Lease] = {}
        self._by_request: dict[str, _Lease] = {}
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="mesh-budget-leases", daemon=True)
        self._sweeper.start()

    @property
    def closed(self) -> bool:
        return self.settlement.closed

    @property
    def deferred(self) -> bool:
        """Settlements only queue (until close): recording a request waits on no store write."""
        return self.settlement.deferred

    # ------------------------------------------------------------ admission
    def reserve_from_lease(self, key: str, amount_nano: int, hold_id: str | None) -> BudgetState | None:
        """Admit from the key's lease without touching the store; None when that would need the store."""
        if hold_id is None or self.closed:
            return None
        with self._lock:
            lease = self._current.get(key)
            if lease is None or lease.retiring or lease.free_nano < amount_nano:
                return None
            if self._clock() - lease.taken_at >= self.max_age:
                return None
            lease.outstanding_nano += amount_nano
            self._by_request[hold_id] = lease
            return BudgetState(key, 0, lease.outstanding_nano)

    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float, *,
                hold_id: str | None = None, hold_until: float | None = None) -> BudgetState | None:
        admitted = self.reserve_from_lease(key, amount_nano, hold_id)
        if admitted is not None or hold_id is None or self.closed:
            return admitted if admitted is not None else self.settlement.reserve(
                key, amount_nano, limit_nano, expires_at, hold_id=hold_id, hold_until=hold_until)
        with self._lock:  # its unused room goes back first: near the limit it may be what this request needs
            previous = self._current.get(key)
            if previous is not None:
                previous.retiring = True
                self._retire_if_idle(previous)
        lease = self._take_lease(key, amount_nano, limit_nano, expires_at, hold_until)
        if lease is None:
            return None
        with self._lock:
            lease.outstanding_nano += amount_nano
            self._by_request[hold_id] = lease
            raced = self._current.get(key)
            self._current[key] = lease
            if raced is not None and raced is not lease:  # another thread took one meanwhile
                raced.retiring = True
                self._retire_if_idle(raced)
        return BudgetState(key, 0, lease.outstanding_nano)

    def _take_lease(self, key: str, amount_nano: int, limit_nano: int, expires_at: float,
                    hold_until: float | None) -> _Lease | None:
        size = max(amount_nano, min(amount_nano * self.factor, int(limit_nano * self.max_share)))
        for ask in dict.fromkeys((size, amount_nano)):  # the whole lease, else only this request
            lease_id = f"lease-{uuid.uuid4().hex}"
            state = self.settlement.reserve(key, ask, limit_nano, expires_at, hold_id=lease_id, hold_until=hold_until)
            if state is not None:
                return _Lease(key, lease_id, ask, expires_at, self._clock())
        return None

    # ------------------------------------------------------------ settlement
    def settle_later(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float, then: Settled,
                     hold_id: str | None = None) -> None:
        with self._lock:
            lease = self._by_request.pop(hold_id, None) if hold_id is not None else None
            if lease is not None:
                lease.outstanding_nano -= reserved_nano
                lease.used_nano += actual_nano
                lease.settled.append((actual_nano, then))
                self._retire_if_idle(lease)
                return
        self.settlement.settle_later(key, reserved_nano, actual_nano, expires_at, then, hold_id=hold_id)

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float,
               hold_id: str | None = None) -> BudgetState:
        done: list[BudgetState] = []
        self.settle_later(key, reserved_nano, actual_nano, expires_at, done.append, hold_id)
        self.flush()
        return done[-1] if done else self.store.get(key)

    def _retire_if_idle(self, lease: _Lease) -> None:
        """Under the lock: a retiring lease with nothing in flight is settled as one hold."""
        if not lease.retiring or lease.outstanding_nano > 0 or lease.hold_id == "":
            return
        if self._current.get(lease.key) is lease:
            del self._current[lease.key]
        callbacks = lease.settled
        lease.hold_id, hold_id = "", lease.hold_id  # settled once
        self.settlement.settle_later(lease.key, lease.amount_nano, lease.used_nano, lease.expires_at,
                                   lambda state: _replay(state, callbacks), hold_id=hold_id)

    def _sweep(self) -> None:
        """Retire leases ``max_age`` old, so an idle process gives its room back."""
        while not self._stop.wait(self.max_age / 2):
            now = self._clock()
            with self._lock:
                for lease in list(self._current.values()):
                    if now - lease.taken_at >= self.max_age:
                        lease.retiring = True
                        self._retire_if_idle(lease)

    # ------------------------------------------------------------ readers
    def retire_all(self) -> None:
        with self._lock:
            for lease in list(self._current.values()):
                lease.retiring = True
                self._retire_if_idle(lease)

    def get(self, key: str) -> BudgetState:
        self.retire_all()
        return self.settlement.get(key)

    def flush(self, timeout: float = 10.0) -> None:
        self.retire_all()
        self.settlement.flush(timeout)

    def close(self) -> None:
        self._stop.set()
        self.retire_all()
        self.settlement.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.deferred, name)


def _replay(state: BudgetState, callbacks: list[tuple[int, Settled]]) -> None:
    """Each request's callback, with the counter as it stood after that request's charge."""
    spent = state.spent_nano
    states = []
    for actual_nano, _ in reversed(callbacks):
        states.append(BudgetState(state.key, spent, state.reserved_nano))
        spent -= actual_nano
    for (_, then), after in zip(callbacks, reversed(states)):
        try:
            then(after)
        except Exception:  # one failing alert must not stop the others
            logger.exception("budget alert for %s failed", state.key)


def lease_behind(stores: Any, deferred: DeferredSettlement | None) -> BudgetLeases | None:
    """Put the deferred budget store behind leases (once per store bundle)."""
    if deferred is None:
        return None
    current = getattr(stores, "budgets", None)
    if isinstance(current, BudgetLeases) and current.settlement is deferred:
        return current
    leases = BudgetLeases(deferred)
    stores.budgets = leases
    return leases
