"""Hard budgets and token-per-minute limits under concurrency, for every request shape.

For each shape (text, stream, tools, images, embeddings from strings, embeddings from
token ids, ``n`` > 1) an app of its own with a $0.01 hard budget sends ``--concurrency``
requests at once through the mesh to the fake upstream (which bills tool definitions and
token ids like the real API). The ledger's spend per app must stay ≤ the limit. Then the
same shapes run against a tokens-per-minute limit: the tokens billed in the window must
stay ≤ the limit.

    .venv/bin/python bench/budget_overspend.py --store sqlite --workers 4   # `mesh serve --workers 4`
    .venv/bin/python bench/budget_overspend.py --store dynamodb              # DynamoDB Local stores

SQLite runs `mesh serve` as its own process (the workers share one database file);
DynamoDB runs the mesh in this process on DynamoDB Local's tables. Exit status 1 if any
shape overspends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.overhead import free_port, mesh_executable, spawn, wait_healthy  # noqa: E402
from tests.fakes.openai_upstream import start_fake_openai  # noqa: E402

LIMIT_USD = Decimal("0.01")
TOKENS_PER_MINUTE = 2_000
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
       "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
TOOLS = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": "Looks up an order by its number and returns its lines. " * 6,
    "parameters": {"type": "object", "properties": {f"field_{j}": {"type": "string", "description": "a field " * 8}
                                                    for j in range(6)}}}} for i in range(4)]
TEXT = "Summarise the quarterly figures for the board in three short bullet points. " * 8
SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "text": ("chat/completions", {"model": "chat", "max_tokens": 64, "messages": [{"role": "user", "content": TEXT}]}),
    "stream": ("chat/completions", {"model": "chat", "max_tokens": 64, "stream": True,
                                    "stream_options": {"include_usage": True},
                                    "messages": [{"role": "user", "content": TEXT}]}),
    "tools": ("chat/completions", {"model": "chat", "max_tokens": 16, "tools": TOOLS,
                                   "messages": [{"role": "user", "content": "hi"}]}),
    "images": ("chat/completions", {"model": "chat", "max_tokens": 16, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": PNG}}] * 2}]}),
    "embed-strings": ("embeddings", {"model": "embed", "input": [TEXT] * 2}),
    "embed-token-ids": ("embeddings", {"model": "embed", "input": [[11] * 400]}),
    "n>1": ("chat/completions", {"model": "chat", "max_tokens": 64, "n": 4,
                                 "messages": [{"role": "user", "content": TEXT}]}),
}


def mesh_config(upstream: str) -> dict[str, Any]:
    apps: dict[str, Any] = {}
    budgets = []
    limits = []
    for shape in SHAPES:
        apps[f"b-{_slug(shape)}"] = {"routes": "*"}
        apps[f"t-{_slug(shape)}"] = {"routes": "*"}
        budgets.append({"name": f"hard-{_slug(shape)}", "scope": "app", "match": f"b-{_slug(shape)}",
                        "limit_usd": str(LIMIT_USD), "mode": "hard"})
        limits.append({"scope": "app", "match": f"t-{_slug(shape)}",
                       "tokens_per_minute": TOKENS_PER_MINUTE})
    return {
        "providers": {"fake": {"kind": "openai", "base_url": upstream, "api_key": {"env": "FAKE_KEY"}}},
        "models": {
            "chat": {"provider": "fake", "model": "gpt-4o-mini", "prices": {"input": "1.00", "output": "1.00"}},
            "embed": {"provider": "fake", "model": "text-embedding-3-small", "prices": {"input": "10.00", "output": "0"}},
        },
        "routes": {"chat": {"provider": "fake", "model": "gpt-4o-mini"},
                   "embed": {"provider": "fake", "model": "text-embedding-3-small"}},
        "apps": apps,
        "costs": {"ledger": True, "budgets": budgets, "limits": limits},
    }


def _slug(shape: str) -> str:
    return shape.replace(">", "gt")


async def fire(base_url: str, key: str, path: str, body: dict[str, Any], count: int) -> dict[str, int]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        async def one() -> int:
            response = await client.post(path, json=body)
            await response.aread()
            if response.status_code not in (200, 402, 429):
                samples.setdefault(response.status_code, response.text[:300])
            return response.status_code

        statuses = await asyncio.gather(*(one() for _ in range(count)))
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return counts


samples: dict[int, str] = {}  # one body per unexpected status, printed with the report


def run_shapes(base_url: str, keys: dict[str, str], concurrency: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for shape, (path, body) in SHAPES.items():
        for kind in ("b", "t"):
            app = f"{kind}-{_slug(shape)}"
            results[app] = {"shape": shape, "statuses": asyncio.run(fire(base_url, keys[app], path, body, concurrency))}
    return results


def sqlite_spend(db: Path) -> dict[str, tuple[Decimal, int]]:
    """Spend and billed tokens per app, straight from the ledger table."""
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(cost_records)")}
        cost = "cost_usd" if "cost_usd" in columns else "cost"
        rows = conn.execute(f"SELECT app, {cost}, prompt_tokens + completion_tokens FROM cost_records").fetchall()
    return _sum(rows)


def _sum(rows: list[tuple[str, Any, int]]) -> dict[str, tuple[Decimal, int]]:
    totals: dict[str, tuple[Decimal, int]] = {}
    for app, cost, tokens in rows:
        spent, billed = totals.get(app, (Decimal(0), 0))
        totals[app] = (spent + Decimal(str(cost)), billed + int(tokens or 0))
    return totals


def bench_sqlite(workers: int, concurrency: int) -> tuple[dict[str, Any], dict[str, tuple[Decimal, int]]]:
    with tempfile.TemporaryDirectory(prefix="mesh-budget-") as tmp, start_fake_openai() as fake:
        work = Path(tmp)
        config_file = work / "mesh.yaml"
        config_file.write_text(yaml.safe_dump(mesh_config(fake.base_url)))
        env = {"FAKE_KEY": "k", "PATH": "/usr/bin:/bin"}
        keys = {}
        for app in mesh_config(fake.base_url)["apps"]:
            out = subprocess.run([*mesh_executable(), "keys", "create", "--app", app, "--config", str(config_file)],
                                 capture_output=True, text=True, check=True, cwd=work, env=env)
            keys[app] = out.stdout.strip().splitlines()[-1].strip()
        port = free_port()
        child = spawn("mesh", [*mesh_executable(), "serve", "--config", str(config_file), "--port", str(port),
                               "--workers", str(workers)], work, env)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/health", child)
            results = run_shapes(f"http://127.0.0.1:{port}/v1", keys, concurrency)
        finally:
            child.stop()
        return results, sqlite_spend(work / ".mesh" / "mesh.db")


def bench_dynamodb(concurrency: int) -> tuple[dict[str, Any], dict[str, tuple[Decimal, int]]]:
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores
    from llm_mesh.stores.dynamodb.tables import TABLES
    from tests.fixtures.dynamodb_local import DynamoDBLocal, check_java, find_dynamodb_local, make_client
    from tests.harness import serve_mesh

    with tempfile.TemporaryDirectory(prefix="mesh-budget-ddb-") as tmp, start_fake_openai() as fake:
        server = DynamoDBLocal(check_java(), find_dynamodb_local(), free_port(), Path(tmp) / "ddb.log")
        try:
            if not server.wait_ready(60):
                raise RuntimeError(f"DynamoDB Local did not start:\n{server.output()}")
            names = {spec.logical: f"budget-{spec.logical}" for spec in TABLES}
            create_tables(make_client(server.endpoint), names)
            import boto3

            session = boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy",
                                            region_name="us-east-1")
            stores = open_dynamodb_stores(names, endpoint_url=server.endpoint, session=session)
            config = mesh_config(fake.base_url)
            with serve_mesh(config, env={"FAKE_KEY": "k"}, stores=stores) as mesh:
                keys = {app: mesh.key_for(app) for app in config["apps"]}
                results = run_shapes(mesh.base_url, keys, concurrency)
                mesh.flush_logs()
                now = time.time()
                records = [(r.app, r.cost_usd, r.prompt_tokens + r.completion_tokens)
                           for r in stores.ledger.records(now - 3600, now + 3600)]
            stores.close()
        finally:
            server.stop()
        return results, _sum(records)


def report(store: str, results: dict[str, Any], spend: dict[str, tuple[Decimal, int]]) -> bool:
    ok = True
    print(f"store={store}; hard budget ${LIMIT_USD} and {TOKENS_PER_MINUTE} tokens/minute per app")
    print(f"{'shape':<16} {'budget: spent $':>16} {'answered':>9}   {'tpm: billed tokens':>18} {'answered':>9}")
    for shape in SHAPES:
        b, t = f"b-{_slug(shape)}", f"t-{_slug(shape)}"
        spent, _ = spend.get(b, (Decimal(0), 0))
        _, billed = spend.get(t, (Decimal(0), 0))
        held = spent <= LIMIT_USD and billed <= TOKENS_PER_MINUTE
        ok &= held
        print(f"{shape:<16} {spent:>16.6f} {results[b]['statuses'].get('200', 0):>9}   {billed:>18} "
              f"{results[t]['statuses'].get('200', 0):>9}   {'ok' if held else 'OVERSPENT'}")
    others = {app: r["statuses"] for app, r in results.items() if set(r["statuses"]) - {"200", "402", "429"}}
    if others:
        ok = False
        print("unexpected statuses:", json.dumps(others))
        for status, body in samples.items():
            print(f"  {status}: {body}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    parser.add_argument("--workers", type=int, default=4, help="mesh serve workers (sqlite)")
    parser.add_argument("--concurrency", type=int, default=300)
    args = parser.parse_args()
    if args.store == "sqlite":
        results, spend = bench_sqlite(args.workers, args.concurrency)
    else:
        results, spend = bench_dynamodb(args.concurrency)
    return 0 if report(args.store, results, spend) else 1


if __name__ == "__main__":
    sys.exit(main())
