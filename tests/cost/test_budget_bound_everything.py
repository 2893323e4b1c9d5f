"""Hard budgets hold when requests carry tools, schemas or token-id embeddings.

The reservation must bound what the provider bills, not only the message text.
Through the real HTTP API, the openai SDK and the fake upstream (which bills tool
definitions and token ids), many concurrent requests whose cost lies mostly outside
message text must not spend past a hard limit: the ledger's total stays under it.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

LIMIT = Decimal("0.01")
TOOLS = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": "Looks up an order by its number and returns its lines. " * 6,
    "parameters": {"type": "object", "properties": {f"field_{j}": {"type": "string", "description": "a field " * 8}
                                                    for j in range(6)}}}} for i in range(4)]


@pytest.fixture
def mesh():
    """A mesh per test: each starts with the whole budget (a shared one left the second test
    whatever room the first happened not to spend)."""
    with start_fake_openai() as fake:
        config = {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}}},
            "models": {
                "chat": {"provider": "fake", "model": "gpt-4o-mini", "prices": {"input": "1.00", "output": "1.00"}},
                "embed": {"provider": "fake", "model": "text-embedding-3-small", "prices": {"input": "10.00", "output": "0"}},
            },
            "routes": {"chat": {"provider": "fake", "model": "gpt-4o-mini"},
                       "embed": {"provider": "fake", "model": "text-embedding-3-small"}},
            "apps": {"bot": {"routes": "*"}},
            "costs": {"ledger": True, "budgets": [{"name": "bot-hard", "scope": "app", "match": "bot",
                                                   "limit_usd": str(LIMIT), "mode": "hard"}]},
        }
        with serve_mesh(config, env={"FAKE_KEY": "k"}) as running:
            yield running


def _spent(mesh) -> Decimal:
    now = time.time()
    return sum((Decimal(r.cost_usd) for r in mesh.runtime.stores.ledger.records(now - 3600, now + 3600, app="bot")),
               Decimal(0))


async def _fire(calls) -> tuple[int, int]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    refused = sum(isinstance(r, openai.APIStatusError) and r.status_code in (402, 429) for r in results)
    other = [r for r in results if isinstance(r, Exception) and not (
        isinstance(r, openai.APIStatusError) and r.status_code in (402, 429))]
    assert not other, other[:3]
    return len(results) - refused, refused


def test_tools_cannot_overspend_a_hard_budget(mesh):
    client = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.key_for("bot"), max_retries=0)
    calls = [client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}],
                                            tools=TOOLS, max_tokens=8) for _ in range(80)]
    answered, refused = asyncio.run(_fire(calls))
    mesh.flush_logs()
    assert refused > 0 and answered > 0
    assert _spent(mesh) <= LIMIT, (_spent(mesh), answered)


def test_token_id_embeddings_cannot_overspend_a_hard_budget(mesh):
    client = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.key_for("bot"), max_retries=0)
    calls = [client.embeddings.create(model="embed", input=[[11] * 400]) for _ in range(40)]
    answered, refused = asyncio.run(_fire(calls))
    # 400 token ids at $10/M cost $0.004: a couple fit under the limit, the rest must be refused
    # (a price so high that none fit would prove nothing)
    assert refused > 0 and answered > 0
    assert _spent(mesh) <= LIMIT
