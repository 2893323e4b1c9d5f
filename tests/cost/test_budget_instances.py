"""Done-when: 200 concurrent requests against a hard budget, spread over 8 mesh instances
(each its own runtime, store client and event loop on its own thread, like 8 Lambdas or
8 server workers), on SQLite and on DynamoDB Local. Final spend <= budget, no reservation
left behind, the budget's spend equals the ledger's records, and the ledger's aggregates
equal the sum of its records exactly."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from decimal import Decimal

import pytest

from llm_mesh.config import parse_config
from llm_mesh.errors import BudgetExceeded
from llm_mesh.gateway.context import RequestContext
from llm_mesh.identity import Caller
from llm_mesh.runtime import build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from tests.cost.stores import _session

INSTANCES, PER_INSTANCE = 8, 25
LIMIT_USD = "1"

CONFIG = parse_config({
    "server": {"request_log": False},
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"bot": {"routes": "*"}},
    "costs": {
        # an expensive echo so the budget binds: $100 / M input, $300 / M output
        "prices": {"echo": {"echo-1": {"input": "100", "output": "300"}}},
        "budgets": [{"name": "bot-hard", "scope": "app", "match": "bot", "period": "day", "limit_usd": LIMIT_USD}],
    },
}, "<budget test>")


class _NoAuth:
    def authenticate(self, identity):  # pragma: no cover
        raise AssertionError


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_stores(request, tmp_path):
    if request.param == "sqlite":
        from llm_mesh.stores.sqlite import open_sqlite_stores

        opened = []

        def sqlite_stores():
            opened.append(open_sqlite_stores(tmp_path / "mesh.db"))
            return opened[-1]

        yield sqlite_stores
        for stores in opened:
            stores.close()
        return
    from llm_mesh.stores.dynamodb import DynamoStores, create_tables, make_client

    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    admin = request.getfixturevalue("dynamodb_local_client")
    tag = uuid.uuid4().hex[:8]
    names = {logical: f"{logical}-{tag}" for logical in ("keys", "requests", "ledger", "budgets", "ratelimits", "cache")}
    create_tables(admin, names)
    opened = []

    def dynamo_stores():
        from botocore.config import Config

        client = make_client(endpoint_url=endpoint, region_name="us-east-1", session=_session(),
                             config=Config(max_pool_connections=50, retries={"mode": "standard", "max_attempts": 10}))
        opened.append(DynamoStores(client, names))
        return opened[-1]

    yield dynamo_stores
    for stores in opened:
        stores.close()
    for name in names.values():
        admin.delete_table(TableName=name)


def test_hard_budget_across_instances(make_stores):
    outcomes: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def instance(number: int) -> None:
        try:
            stores = make_stores()
            runtime = build_runtime(CONFIG, stores, EnvSecretResolver({}), _NoAuth(), background_log=False)
        except BaseException as exc:  # surfaced below, never a silently missing instance
            errors.append(exc)
            return
        service = runtime.service

        async def one(i: int) -> str:
            ctx = RequestContext(endpoint="chat.completions", caller=Caller(app="bot", principal="k"))
            request = ChatCompletionRequest.model_validate(
                {"model": "echo", "max_tokens": 40, "messages": [{"role": "user", "content": f"hello {number}-{i}"}]})
            try:
                answer = await service.chat(ctx, request)
            except BudgetExceeded as error:
                assert "bot-hard" in error.message
                service.record(ctx, error.status, error=error)
                return "refused"
            await asyncio.sleep(0.001)  # the upstream "takes time": reservations overlap
            service.record(ctx, 200, answer.usage, completion=answer)
            return "served"

        async def run() -> list[str]:
            return await asyncio.gather(*(one(i) for i in range(PER_INSTANCE)))

        try:
            results = asyncio.run(run())
            with lock:
                outcomes.extend(results)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            asyncio.run(runtime.aclose())

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(INSTANCES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(outcomes) == INSTANCES * PER_INSTANCE
    served = outcomes.count("served")
    assert 0 < served < len(outcomes), outcomes.count("refused")

    stores = make_stores()
    day = time.strftime("%Y-%m-%d", time.gmtime())
    state = stores.budgets.get(f"bot-hard#bot#{day}")
    limit_nano = int(Decimal(LIMIT_USD) * 10**9)
    assert state.reserved_nano == 0
    assert 0 < state.spent_nano <= limit_nano
    records = stores.ledger.records(time.time() - 86400, time.time() + 10, app="bot")
    assert len(records) == served
    record_nano = sum(int(Decimal(r.cost_usd) * 10**9) for r in records)
    assert record_nano == state.spent_nano
    assert sum(a.cost_nano for a in stores.ledger.aggregates(day, day, app="bot")) == record_nano
    assert sum(a.requests for a in stores.ledger.aggregates(day, day, app="bot")) == served
    print(f"served {served}, refused {len(outcomes) - served}, spent ${Decimal(state.spent_nano) / 10**9} of ${LIMIT_USD}")
