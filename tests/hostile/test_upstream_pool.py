"""The mesh's own upstream connection pool under more concurrent calls than it has connections.

A call waiting for one of the provider's ``max_connections`` waits in the mesh's queue (up to
``timeouts.pool``), never on the connect timeout: a healthy upstream that answers after a delay
gets no 504 however many calls queue. A call that waits past ``timeouts.pool`` is shed with a
503 in the OpenAI error shape (``upstream_pool_exhausted``), and shedding does not open the
provider's circuit: the upstream did nothing wrong."""

from __future__ import annotations

import asyncio
import collections

import httpx

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh
from tests.hostile.common import openai_error

CALLS = 300
DELAY_MS = 400


def _config(upstream_url: str, *, connections: int, connect: float, pool: float | None = None) -> dict:
    timeouts = {"connect": connect, **({"pool": pool} if pool is not None else {})}
    return {
        "providers": {"up": {"kind": "openai", "base_url": upstream_url, "api_key": {"env": "FAKE_KEY"},
                             "max_connections": connections, "timeouts": timeouts}},
        "routes": {"slow": {"provider": "up", "model": f"gpt-4o-mini;latency_ms={DELAY_MS}"}},
    }


async def _burst(mesh, calls: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=calls, max_keepalive_connections=calls)
    headers = {"Authorization": f"Bearer {mesh.api_key}"}
    async with httpx.AsyncClient(base_url=mesh.root_url, headers=headers, limits=limits, timeout=60) as client:
        body = {"model": "slow", "messages": [{"role": "user", "content": "hello"}]}
        return list(await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(calls))))


def test_queued_calls_to_a_healthy_slow_upstream_get_no_504():
    # 25 connections, 300 calls: twelve waves of 0.4 s, so the calls of the last seven waves (175) wait
    # longer than the 2 s connect timeout, which is itself ample for a loaded machine to open 25
    # loopback connections (the fake upstream shares this process's GIL with the mesh and the clients)
    with start_fake_openai() as upstream, \
            serve_mesh(_config(upstream.base_url, connections=25, connect=2.0), env={"FAKE_KEY": "k"}) as mesh:
        answers = asyncio.run(_burst(mesh, CALLS))
    statuses = collections.Counter(a.status_code for a in answers)
    assert statuses == {200: CALLS}, statuses


def test_a_call_that_waits_past_the_pool_timeout_is_shed_with_503_and_the_circuit_stays_closed():
    with start_fake_openai() as upstream, serve_mesh(
            _config(upstream.base_url, connections=2, connect=0.2, pool=0.05), env={"FAKE_KEY": "k"}) as mesh:
        answers = asyncio.run(_burst(mesh, 12))
        statuses = collections.Counter(a.status_code for a in answers)
        assert set(statuses) == {200, 503} and statuses[200] >= 2, statuses
        shed = next(a for a in answers if a.status_code == 503)
        assert openai_error(shed.json()) and shed.json()["error"]["code"] == "upstream_pool_exhausted", shed.text
        assert shed.headers.get("retry-after") == "1"
        # more than the breaker's five failures were shed, yet the next call still goes upstream
        after = asyncio.run(_burst(mesh, 1))
        assert [a.status_code for a in after] == [200], after[0].text
