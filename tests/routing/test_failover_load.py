"""Issue 3's promise: with the primary target failing (5xx, timing out, or cutting its
stream), every one of 500 requests still succeeds through the fallback."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

REQUESTS = 500
CONCURRENCY = 50


@pytest.fixture(scope="module")
def mesh():
    with start_fake_openai(record=False) as fake:
        good = {"provider": "fake", "model": "gpt-4o-mini"}
        config = {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
            "routes": {
                "primary-5xx": {"targets": [{"provider": "fake", "model": "gpt-4o;status=503"}, good]},
                "primary-timeout": {"targets": [{"provider": "fake", "model": "gpt-4o;latency_ms=5000", "timeout": 0.3}, good]},
                "primary-cut": {"targets": [{"provider": "fake", "model": "gpt-4o;cut_stream_after=1"}, good]},
                "primary-reset": {"targets": [{"provider": "fake", "model": "gpt-4o;reset_connection"}, good]},
            },
        }
        with serve_mesh(config) as running:
            yield running


async def _fire(mesh, route: str, stream: bool) -> list[str]:
    client = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0, timeout=30)
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> str:
        async with semaphore:
            prompt = f"request {i}"
            if stream:
                chunks = await client.chat.completions.create(
                    model=route, messages=[{"role": "user", "content": prompt}], stream=True
                )
                text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
            else:
                reply = await client.chat.completions.create(model=route, messages=[{"role": "user", "content": prompt}])
                text = reply.choices[0].message.content
            assert text == f"Echo: {prompt}"
            return text

    try:
        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("route", "stream"),
    [("primary-5xx", False), ("primary-5xx", True), ("primary-timeout", False), ("primary-cut", True), ("primary-reset", False)],
)
def test_all_requests_succeed_through_the_fallback(mesh, route, stream):
    results = asyncio.run(_fire(mesh, route, stream))
    assert len(results) == REQUESTS
    mesh.flush_logs()
    entries = [e for e in mesh.runtime.stores.request_log.recent(5000) if e.route == route and e.stream == stream]
    assert len(entries) == REQUESTS
    assert all(e.status == 200 and e.model == "gpt-4o-mini" for e in entries)
    # The circuit breaker took the failing primary out: most requests went straight to the fallback.
    assert sum(1 for e in entries if e.attempts == 1) > REQUESTS // 2
