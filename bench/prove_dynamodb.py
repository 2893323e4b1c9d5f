"""The prove load on DynamoDB Local: the same workload and reconciliation as bench/load.py, with
every store (keys, request log, audit, ledger, budgets, cache) in DynamoDB Local tables.

    .venv/bin/python bench/prove_dynamodb.py                      # 200 clients x 2000 requests
    .venv/bin/python bench/prove_dynamodb.py --clients 200 --requests 4000

`mesh serve` runs on SQLite only, so the mesh runs in this process (uvicorn in a thread, as the
test harness does) over ``open_dynamodb_stores``; the fake upstream is its own process. After the
load the server stops (its lifespan drains the background writers), then every answered request
must have exactly one request-log item, one audit record and one ledger record, the audit chains
verify, and each app's hard budget is not overspent. Exit 0 only when all of that holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.load import (  # noqa: E402
    ACTIVE_HOOKS,
    APPS,
    UPSTREAM_KEY_ENV,
    UPSTREAM_SECRET,
    _tally,
    active_hooks,
    base_config,
    drive,
    optional_sections,
    summarise,
)
from bench.overhead import free_port, start_fake  # noqa: E402

BUDGET_USD = Decimal("0.002")  # per app and day: the load (about $0.0000092 a request) runs into it


def _config(upstream_url: str) -> dict[str, Any]:
    raw, _on, _notes = optional_sections(base_config(upstream_url))
    # a hard budget the load exhausts, so "0 overspend" is tested under 200-way contention
    raw["costs"]["budgets"] = [{"name": "load-daily", "scope": "app", "match": "*", "period": "day",
                                "limit_usd": str(BUDGET_USD), "mode": "hard"}]
    return raw


def _request_log_ids(client: Any, table: str) -> list[str]:
    ids: list[str] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="request_id"):
        ids += [item["request_id"]["S"] for item in page["Items"] if "request_id" in item]
    return ids


def run(clients: int, requests: int) -> dict[str, Any]:
    import boto3

    from llm_mesh.audit import verify as verify_module
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores
    from llm_mesh.stores.dynamodb.tables import TABLES
    from tests.fixtures.dynamodb_local import DynamoDBLocal, check_java, find_dynamodb_local, make_client
    from tests.harness import serve_mesh

    with tempfile.TemporaryDirectory(prefix="mesh-prove-ddb-") as tmp:
        work = Path(tmp)
        server = DynamoDBLocal(check_java(), find_dynamodb_local(), free_port(), work / "ddb.log")
        upstream = None
        try:
            if not server.wait_ready(60):
                raise RuntimeError(f"DynamoDB Local did not start:\n{server.output()}")
            names = {spec.logical: f"prove-{spec.logical}" for spec in TABLES}
            client = make_client(server.endpoint)
            create_tables(client, names)
            session = boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy",
                                            region_name="us-east-1")
            stores = open_dynamodb_stores(names, endpoint_url=server.endpoint, session=session)
            upstream, upstream_url = start_fake(work, "upstream")
            raw = _config(upstream_url)
            ACTIVE_HOOKS[:] = active_hooks(raw)
            env = {UPSTREAM_KEY_ENV: UPSTREAM_SECRET, "MESH_PII_SALT": "load-salt"}
            with serve_mesh(raw, env=env, stores=stores) as mesh:
                keys = {app: mesh.key_for(app) for app in APPS}
                report = asyncio.run(drive(mesh.root_url, keys, clients=clients, requests=requests, deadline_s=600))
                # One app-day audit chain takes conditional appends one at a time, so on DynamoDB Local
                # the background writer trails the load: let it drain before the server stops (a stop
                # gives it 10 s, then spills to the data directory, which this in-process mesh lacks).
                drain_started = time.monotonic()
                for hook in mesh.runtime.service.hooks:
                    if hook.name == "audit":
                        hook.writer.flush(600)
                drain_s = time.monotonic() - drain_started
            # the server has stopped: its writers drained into the tables
            summary = summarise(report)
            summary["audit_drain_s"] = round(drain_s, 1)
            summary["examples_by_status"] = {r.status: r.error[:240] for r in report.results if r.error}
            answered = [r.request_id for r in report.results if r.request_id]
            wanted = set(answered)
            served = {r.request_id for r in report.results if r.request_id and r.status == 200}
            refused = [r for r in report.results if r.status == 429]
            audit_records = [rec for part in stores.audit.partitions() for rec in stores.audit.partition_records(part)]
            ledger = stores.ledger.records(0.0, time.time() + 86400, limit=10**9)
            verified = verify_module.verify_store(stores.audit)
            day = time.strftime("%Y-%m-%d", time.gmtime())
            aggregates = stores.ledger.aggregates(day, day)  # the shards' aggregate items, merged
            summary["aggregates_exact"] = (
                sum(a.requests for a in aggregates) == len(ledger)
                and sum(a.cost_nano for a in aggregates) == sum(int(Decimal(str(r.cost_usd)) * 10**9) for r in ledger))
            spent = {app: sum((Decimal(str(r.cost_usd)) for r in ledger if r.app == app), Decimal(0)) for app in APPS}
            summary.update({
                "clients": clients, "requested": requests,
                "request_log": _tally("request_log", _request_log_ids(client, names["requests"]), wanted),
                "audit": _tally("audit", [rec.record_id for rec in audit_records], wanted),
                # a request the budget refused never went upstream: it has no cost record
                "cost": _tally("cost", [r.request_id for r in ledger], served),
                "audit_verified": bool(getattr(verified, "ok", False)), "audit_verify_detail": str(verified)[:300],
                "spent_usd": {app: str(value) for app, value in spent.items()}, "budget_usd": str(BUDGET_USD),
                "duplicate_ids_in_responses": len(answered) - len(wanted),
                "refused_not_by_budget": sum(1 for r in refused if "budget" not in (r.error or "")),
            })
            stores.close()
        finally:
            if upstream is not None:
                upstream.stop()
            server.stop()
    statuses = set(summary["statuses"]) - {"200", "429"}  # 429: the hard budget refused, as it must
    summary["ok"] = (not statuses and summary["refused_not_by_budget"] == 0 and summary["duplicate_ids_in_responses"] == 0
                     and summary["audit_verified"] and summary["aggregates_exact"]
                     and all(summary[k]["ok"] for k in ("request_log", "audit", "cost"))
                     and all(Decimal(v) <= BUDGET_USD for v in summary["spent_usd"].values()))
    return summary


def print_summary(s: dict[str, Any]) -> None:
    print(f"DynamoDB Local: {s['clients']} concurrent clients, {s['all']['requests']}/{s['requested']} requests "
          f"in {s['wall_s']} s -> {s['throughput_rps']} req/s; statuses {s['statuses']}")
    for name in ("request_log", "audit", "cost"):
        r = s[name]
        print(f"  {name}: {r['records']} records; missing {r['missing']}, duplicated {r['duplicated']}, "
              f"unexpected {r['unexpected']}")
    print(f"  audit writer drained {s['audit_drain_s']} s after the last answer")
    print(f"  audit chain verified: {s['audit_verified']}; sharded ledger aggregates equal the records: {s['aggregates_exact']}")
    print(f"  hard budget ${s['budget_usd']} per app: spent {s['spent_usd']}")
    print(f"  latency p50 {s['all']['p50_ms']} ms, p99 {s['all']['p99_ms']} ms")
    for example in s["examples_by_status"].values():
        print(f"  error: {example}")
    print(f"  => {'OK' if s['ok'] else 'FAILED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The prove load with every store on DynamoDB Local.")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    summary = run(args.clients, args.requests)
    print_summary(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
