"""Backoff with full jitter that honours an upstream Retry-After."""

from __future__ import annotations

import random

from llm_mesh.config.schema import RetryConfig
from llm_mesh.errors import MeshError


def retry_delay(error: MeshError, retry_number: int, config: RetryConfig, rng: random.Random) -> float | None:
    """Seconds to wait before retrying the same target, or None to move on."""
    retry_after = error.headers.get("Retry-After")
    if retry_after is not None:
        try:
            seconds = float(retry_after)
        except ValueError:
            return None  # an HTTP-date: too far to wait inline
        return seconds if seconds <= config.retry_after_max else None
    cap = min(config.backoff_max, config.backoff_base * (2 ** retry_number))
    return rng.uniform(0, cap)
