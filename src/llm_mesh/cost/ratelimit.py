"""Requests and tokens per minute, per app and per route, on shared fixed-window counters.

Each limit's counter for the current minute lives in the shared store (SQLite file
or DynamoDB table), so every instance counts against the same window. Requests
count 1 when admitted. Tokens are reserved at admission (estimated prompt tokens
plus ``max_tokens`` when given) and corrected to the actual count when the call
ends, so a stream cannot run a window far past its limit. A refusal is 429
``rate_limit_exceeded`` with ``Retry-After`` = seconds to the next window.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Sequence

from llm_mesh.cost.config import LimitConfig
from llm_mesh.errors import RateLimited

logger = logging.getLogger("llm_mesh.cost.ratelimit")
WINDOW_S = 60


@dataclass(frozen=True)
class TokenHold:
    key: str
    amount: int
    expires_at: float


class RateLimiter:
    def __init__(self, limits: Sequence[LimitConfig], store: Any) -> None:
        self.limits = tuple(limits)
        self.store = store

    def _applies(self, limit: LimitConfig, app: str, route: str) -> str | None:
        value = app if limit.scope == "app" else route
        return value if limit.match in ("*", value) else None

    def admit(self, app: str, route: str, tokens: int, now: float) -> list[TokenHold]:
        window = int(now // WINDOW_S)
        expires = (window + 2) * WINDOW_S
        retry_after = str(max(1, math.ceil((window + 1) * WINDOW_S - now)))
        holds: list[TokenHold] = []
        for limit in self.limits:
            who = self._applies(limit, app, route)
            if who is None:
                continue
            for kind, cap, amount in (("rpm", limit.requests_per_minute, 1), ("tpm", limit.tokens_per_minute, tokens)):
                if cap is None:
                    continue
                key = f"{kind}#{limit.scope}#{who}#{window}"
                try:
                    count = self.store.hit(key, amount, cap, expires)
                except Exception:
                    if limit.fail_open:
                        logger.warning("rate-limit store unreachable; %s limit fails open", limit.scope)
                        continue
                    raise
                if count is None:
                    self.release(holds)
                    what = "requests" if kind == "rpm" else "tokens"
                    raise RateLimited(
                        f"{limit.scope} {who!r} is over its {cap} {what} per minute; retry after {retry_after} s",
                        headers={"retry-after": retry_after},
                    )
                if kind == "tpm":
                    holds.append(TokenHold(key, amount, expires))
        return holds

    def settle(self, holds: Sequence[TokenHold], actual_tokens: int) -> None:
        for hold in holds:
            if actual_tokens != hold.amount:
                try:
                    self.store.add(hold.key, actual_tokens - hold.amount, hold.expires_at)
                except Exception:
                    logger.exception("could not correct token counter %s", hold.key)

    def release(self, holds: Sequence[TokenHold]) -> None:
        self.settle(holds, 0)
