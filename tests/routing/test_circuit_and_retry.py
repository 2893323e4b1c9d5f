"""Circuit breaker state transitions and retry delays."""

from __future__ import annotations

import random

from llm_mesh.config.schema import CircuitBreakerConfig, RetryConfig
from llm_mesh.errors import RateLimited, UpstreamError
from llm_mesh.routing.circuit import CircuitBreaker
from llm_mesh.routing.memory_health import InMemoryHealthStore
from llm_mesh.routing.retry import retry_delay


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_opens_at_threshold_within_window_and_probes_back_after_cooldown():
    clock, store = Clock(), InMemoryHealthStore()
    breaker = CircuitBreaker(store, clock=clock, cache_seconds=0)
    config = CircuitBreakerConfig(failure_threshold=3, window_seconds=10, cooldown_seconds=30)
    breaker.failure("t", config)
    breaker.failure("t", config)
    assert breaker.open_targets(["t"]) == set()
    breaker.failure("t", config)
    assert breaker.open_targets(["t"]) == {"t"}
    clock.now += 31  # cool-down over: traffic probes the target again
    assert breaker.open_targets(["t"]) == set()
    breaker.failure("t", config)  # the probe failed: re-open at once, no new threshold to reach
    assert breaker.open_targets(["t"]) == {"t"}
    clock.now += 31
    breaker.success("t")  # the probe succeeded: closed and forgotten
    breaker.failure("t", config)
    assert breaker.open_targets(["t"]) == set()


def test_failures_outside_the_window_do_not_accumulate():
    clock, store = Clock(), InMemoryHealthStore()
    breaker = CircuitBreaker(store, clock=clock, cache_seconds=0)
    config = CircuitBreakerConfig(failure_threshold=2, window_seconds=5, cooldown_seconds=30)
    breaker.failure("t", config)
    clock.now += 6
    breaker.failure("t", config)
    assert breaker.open_targets(["t"]) == set()
    breaker.failure("t", config)
    assert breaker.open_targets(["t"]) == {"t"}


def test_state_is_shared_between_breakers_on_one_store():
    clock, store = Clock(), InMemoryHealthStore()
    instance_one = CircuitBreaker(store, clock=clock, cache_seconds=0)
    instance_two = CircuitBreaker(store, clock=clock, cache_seconds=0)
    config = CircuitBreakerConfig(failure_threshold=2)
    instance_one.failure("t", config)
    instance_two.failure("t", config)
    assert instance_one.open_targets(["t"]) == {"t"} and instance_two.open_targets(["t"]) == {"t"}
    instance_two.success("t")
    assert instance_one.open_targets(["t"]) == set()


def test_store_failure_never_breaks_routing():
    class Broken:
        def get_health(self, targets):
            raise ConnectionError("down")

        def record_failure(self, *args):
            raise ConnectionError("down")

        def record_success(self, target):
            raise ConnectionError("down")

    breaker = CircuitBreaker(Broken(), cache_seconds=0)
    breaker.failure("t", CircuitBreakerConfig())
    assert breaker.open_targets(["t"]) == set()


def test_retry_delay_honours_retry_after_up_to_the_cap():
    config = RetryConfig(attempts=2, retry_after_max=5)
    rng = random.Random(0)
    assert retry_delay(RateLimited("x", headers={"Retry-After": "2"}), 0, config, rng) == 2.0
    assert retry_delay(RateLimited("x", headers={"Retry-After": "60"}), 0, config, rng) is None
    assert retry_delay(RateLimited("x", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), 0, config, rng) is None


def test_backoff_is_jittered_and_capped():
    config = RetryConfig(attempts=3, backoff_base=0.1, backoff_max=0.3)
    rng = random.Random(0)
    delays = [retry_delay(UpstreamError("x"), n, config, rng) for n in range(6)]
    assert all(0 <= d <= 0.3 for d in delays)
    assert len(set(delays)) > 1
