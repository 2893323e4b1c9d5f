"""Load test with reconciliation: many concurrent clients through `mesh serve`, then count the records.

One run starts the loopback fake OpenAI upstream (its own process) and `mesh serve` in front of it
(its own process, temporary config and data dir, two apps with their own keys), drives it with
``--clients`` concurrent keep-alive clients (half the requests streamed), stops the mesh (which
flushes its request log), opens the SQLite file and reconciles: every response the clients got has
exactly one request-log record, and no record exists for a request nobody sent. When the audit
store and the cost ledger exist in this build they are reconciled the same way (one record per
request each) and the audit chain is verified.

The mesh config switches on every governance section this build's MeshConfig knows (PII policy,
budgets, cache, ...): `optional_sections()` proposes a section per known field name and keeps it
only if the config parses; the summary lists what was on and what was not.

    .venv/bin/python bench/load.py                               # 200 clients, 4000 requests
    .venv/bin/python bench/load.py --clients 50 --requests 500 --json out.json

Loopback only; children are stopped on exit; ``--max-seconds`` bounds the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.overhead import (  # noqa: E402
    Child,
    RawConnection,
    free_port,
    mesh_executable,
    percentile,
    spawn,
    start_fake,
    wait_healthy,
)

ROUTE = "load"
APPS = ("load-a", "load-b")
UPSTREAM_KEY_ENV = "LOAD_UPSTREAM_KEY"
UPSTREAM_SECRET = "sk-load-upstream-7f3c9e0b1d2a4c5e"  # must never show up in any log or answer
PII_EMAIL = "jane.doe@example.com"
PII_CARD = "4111 1111 1111 1111"


# ------------------------------------------------------------------ config


def base_config(upstream_base_url: str) -> dict[str, Any]:
    return {
        "providers": {
            "fake": {"kind": "openai", "base_url": upstream_base_url, "api_key": {"env": UPSTREAM_KEY_ENV}},
        },
        "routes": {ROUTE: {"provider": "fake", "model": "gpt-4o-mini"}},
        "apps": {name: {"routes": [ROUTE]} for name in APPS},
    }


# Candidate sections per MeshConfig field name, tried in order (the first that parses wins). They are
# guesses at sections other issues are adding; a guess the schema rejects is reported, not fatal.
CANDIDATES: dict[str, list[Any]] = {
    "policies": [
        {"default": {"default_action": "redact", "actions": {"CREDIT_CARD": "mask"}}},
    ],
    "budgets": [
        [{"name": "load-daily", "scope": {"app": app}, "period": "day", "limit_usd": "1000", "mode": "hard"} for app in APPS],
        {f"{app}-daily": {"app": app, "period": "day", "limit_usd": "1000", "hard": True} for app in APPS},
        {f"{app}-daily": {"scope": "app", "app": app, "period": "day", "limit_usd": "1000"} for app in APPS},
    ],
    "cache": [
        {"enabled": True, "ttl_seconds": 300},
        {"exact": {"enabled": True, "ttl_seconds": 300}},
        {"ttl_seconds": 300},
    ],
    "governance": [
        {"bindings": {"default": "default"}, "audit": {"enabled": True}},
        {"bindings": {"default": "default"}},
    ],
    "costs": [
        {"budgets": [{"name": "load-daily", "scope": "app", "match": "*", "period": "day", "limit_usd": "1000",
                      "mode": "hard"}],
         "cache": {"enabled": True, "ttl_seconds": 300}},
        {},
    ],
    "cost": [{}],
    "audit": [{}, {"enabled": True}],
}


def mesh_fields() -> set[str]:
    from llm_mesh.config.schema import MeshConfig

    return set(MeshConfig.model_fields)


def optional_sections(config: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Add every governance section this build knows to ``config``; -> (config, on, notes)."""
    from llm_mesh.config import parse_config

    fields = mesh_fields()
    on: list[str] = []
    notes: list[str] = []
    for name, candidates in CANDIDATES.items():
        if name not in fields:
            continue
        last_error = ""
        for candidate in candidates:
            trial = {**config, name: candidate}
            try:
                parse_config(json.loads(json.dumps(trial)), "<load config>")
            except Exception as exc:  # noqa: BLE001 - any rejection means: try the next guess
                last_error = str(exc).splitlines()[0][:200]
                continue
            config = trial
            on.append(name)
            break
        else:
            notes.append(f"section {name!r} exists but no candidate parsed ({last_error})")
    costs = config.get("costs") or {}
    for name, present in (("policies", "policies" in on), ("budgets", "budgets" in on or "budgets" in costs),
                          ("cache", "cache" in on or "cache" in costs)):
        if not present:
            notes.append(f"no {name!r} in this build's config (or the guess was rejected): load ran without it")
    return config, on, notes


def create_key(app: str, workdir: Path, config_file: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [*mesh_executable(), "keys", "create", "--app", app, "--config", str(config_file),
         "--data-dir", str(workdir / ".mesh")],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return out.stdout.strip().splitlines()[-1].strip()


@dataclass
class Mesh:
    child: Child
    root_url: str
    keys: dict[str, str]
    data_dir: Path
    sections: list[str]
    notes: list[str]
    costs_parts: str = "-"


def start_mesh(workdir: Path, upstream_base_url: str, config: dict[str, Any] | None = None) -> Mesh:
    import yaml

    raw = config or base_config(upstream_base_url)
    raw, on, notes = optional_sections(raw)
    ACTIVE_HOOKS[:] = active_hooks(raw)
    config_file = workdir / "mesh.yaml"
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = dict(os.environ, **{UPSTREAM_KEY_ENV: UPSTREAM_SECRET, "MESH_PII_SALT": "load-salt"})
    env.pop("MESH_CONFIG", None)
    keys = {app: create_key(app, workdir, config_file, env) for app in raw["apps"]}
    port = free_port()
    child = spawn("mesh", [*mesh_executable(), "serve", "--config", str(config_file), "--data-dir",
                           str(workdir / ".mesh"), "--host", "127.0.0.1", "--port", str(port),
                           "--log-level", "info"], workdir, env)
    wait_healthy(f"http://127.0.0.1:{port}/health", child)
    parts = ", ".join(k for k in ("budgets", "cache") if k in (raw.get("costs") or {})) or "none"
    return Mesh(child, f"http://127.0.0.1:{port}", keys, workdir / ".mesh", on, notes, parts)


# ------------------------------------------------------------------ workload


@dataclass
class Result:
    index: int
    app: str
    stream: bool
    status: int
    latency_ms: float
    ttfb_ms: float | None
    request_id: str | None
    ok: bool
    cache: str | None = None
    error: str | None = None


@dataclass
class LoadReport:
    results: list[Result] = field(default_factory=list)
    wall_s: float = 0.0
    transport_errors: list[str] = field(default_factory=list)


def request_body(index: int, stream: bool) -> bytes:
    # One in five prompts repeats (cacheable: temperature 0, same text); the rest carry a nonce.
    if index % 5 == 0:
        text = f"Repeat question {index % 20}: what is our refund policy?"
    else:
        text = f"Request {index}: email {PII_EMAIL} about card {PII_CARD}, please summarise"
    payload: dict[str, Any] = {"model": ROUTE, "messages": [{"role": "user", "content": text}],
                               "max_tokens": 32, "temperature": 0}
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload).encode()


def _check(status: int, content: bytes, stream: bool) -> str | None:
    if status != 200:
        return f"status {status}: {content[:160]!r}"
    if stream:
        if not content.rstrip().endswith(b"data: [DONE]"):
            return f"stream without [DONE]: {content[-160:]!r}"
        if b'"error"' in content:
            return "stream carried an error event"
    elif b'"choices"' not in content:
        return f"no choices: {content[:160]!r}"
    return None


async def drive(root_url: str, keys: dict[str, str], *, clients: int, requests: int, stream_every: int = 2,
                deadline_s: float = 120.0) -> LoadReport:
    """``clients`` keep-alive connections share ``requests`` requests; every ``stream_every``-th is streamed."""
    report = LoadReport()
    apps = list(keys)
    conns = [RawConnection(root_url + "/v1", {"authorization": f"Bearer {keys[apps[i % len(apps)]]}",
                                             "content-type": "application/json"}) for i in range(clients)]
    counter = itertools.count()
    stop_at = time.perf_counter() + deadline_s

    async def client(worker: int) -> None:
        app = apps[worker % len(apps)]
        conn = conns[worker]
        while time.perf_counter() < stop_at:
            index = next(counter)
            if index >= requests:
                return
            stream = index % stream_every == 0
            started = time.perf_counter()
            try:
                status, headers, content, first = await conn.post("/chat/completions", request_body(index, stream))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                report.transport_errors.append(f"{type(exc).__name__}: {exc}"[:200])
                report.results.append(Result(index, app, stream, 0, (time.perf_counter() - started) * 1000,
                                             None, None, False, error=type(exc).__name__))
                continue
            elapsed = (time.perf_counter() - started) * 1000
            problem = _check(status, content, stream)
            report.results.append(Result(
                index, app, stream, status, elapsed,
                (first - started) * 1000 if (stream and first) else None,
                headers.get("x-mesh-request-id"), problem is None, headers.get("x-mesh-cache"), problem,
            ))

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        report.wall_s = time.perf_counter() - started
        for conn in conns:
            await conn.close()
    return report


# ------------------------------------------------------------------ reconciliation


def reconcile(data_dir: Path, results: list[Result]) -> dict[str, Any]:
    """Open the mesh's SQLite file after it stopped; one record per answered request, in every ledger."""
    from llm_mesh.stores.sqlite import open_sqlite_stores

    answered = [r.request_id for r in results if r.request_id]
    wanted = set(answered)
    out: dict[str, Any] = {"requests_sent": len(results), "responses_with_id": len(answered),
                           "duplicate_ids_in_responses": len(answered) - len(wanted)}
    db_path = data_dir / "mesh.db"
    with sqlite3.connect(db_path) as raw:
        ids = [row[0] for row in raw.execute("SELECT request_id FROM request_log")]
    out["request_log"] = _tally("request_log", ids, wanted)
    stores = open_sqlite_stores(db_path)
    try:
        audit = getattr(stores, "audit", None)
        if audit is not None and hook_wired("audit"):
            records = [rec for part in audit.partitions() for rec in audit.partition_records(part)]
            out["audit"] = _tally("audit", [rec.record_id for rec in records], wanted)
            out["audit"]["verify"] = _verify_audit(stores)
        else:
            out["audit"] = {"present": False, "why": "no audit hook in HOOK_FACTORIES" if audit is not None else "no audit store"}
        ledger = next((getattr(stores, n) for n in ("ledger", "costs", "cost_ledger") if getattr(stores, n, None)), None)
        if ledger is not None and (hook_wired("ledger") or hook_wired("cost")):
            out["cost"] = _tally("cost", _ledger_ids(ledger), wanted)
        else:
            out["cost"] = {"present": False, "why": "no cost hook in HOOK_FACTORIES" if ledger is not None else "no cost ledger store"}
    finally:
        stores.close()
    return out


ACTIVE_HOOKS: list[str] = []  # names of the hooks the load's config switches on (set by start_mesh)


def active_hooks(raw: dict[str, Any]) -> list[str]:
    """The hooks a runtime built from this config runs (built in-process on a throwaway store)."""
    from llm_mesh.config import parse_config
    from llm_mesh.gateway.hooks import HookContext
    from llm_mesh.runtime import build_hooks
    from llm_mesh.secrets import EnvSecretResolver
    from llm_mesh.stores.sqlite import open_sqlite_stores

    with tempfile.TemporaryDirectory(prefix="mesh-hooks-") as tmp:
        stores = open_sqlite_stores(Path(tmp) / "mesh.db")
        try:
            env = {UPSTREAM_KEY_ENV: UPSTREAM_SECRET, "MESH_PII_SALT": "load-salt"}
            hooks = build_hooks(HookContext(config=parse_config(raw, "<load>"), stores=stores,
                                            secrets=EnvSecretResolver({**os.environ, **env}), home="local", extras={}))
            return [str(getattr(h, "name", type(h).__name__)) for h in hooks]
        finally:
            stores.close()


def hook_wired(word: str) -> bool:
    """Whether an active hook of the load's mesh has ``word`` in its name."""
    return any(word in name.lower() for name in ACTIVE_HOOKS)


def _tally(name: str, ids: list[str], wanted: set[str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for rid in ids:
        counts[rid] = counts.get(rid, 0) + 1
    missing = [rid for rid in wanted if rid not in counts]
    duplicated = [rid for rid, n in counts.items() if n > 1 and rid in wanted]
    unexpected = [rid for rid in counts if rid not in wanted]
    return {"present": True, "records": len(ids), "missing": len(missing), "duplicated": len(duplicated),
            "unexpected": len(unexpected), "examples": (missing + duplicated + unexpected)[:3],
            "ok": not missing and not duplicated and not unexpected}


def _verify_audit(stores: Any) -> Any:
    try:
        from llm_mesh.audit import verify as verify_module

        result = verify_module.verify_store(stores.audit)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    ok = getattr(result, "ok", None)
    if ok is None and isinstance(result, (list, tuple)):
        ok = not result
    return {"ok": bool(ok), "detail": str(result)[:300]}


def _ledger_ids(ledger: Any) -> list[str]:
    """Request ids of every cost record (LedgerStore.records over all time)."""
    return [record.request_id for record in ledger.records(0.0, time.time() + 86400, limit=10**9)]


# ------------------------------------------------------------------ summary


def summarise(report: LoadReport) -> dict[str, Any]:
    def stats(rows: list[Result]) -> dict[str, Any]:
        lat = [r.latency_ms for r in rows if r.ok]
        ttfb = [r.ttfb_ms for r in rows if r.ok and r.ttfb_ms is not None]
        out = {"requests": len(rows), "ok": len(lat), "errors": len(rows) - len(lat)}
        for p in (50, 95, 99):
            out[f"p{p}_ms"] = round(percentile(lat, p), 2) if lat else None
        if ttfb:
            out["ttfb_p50_ms"] = round(percentile(ttfb, 50), 2)
            out["ttfb_p99_ms"] = round(percentile(ttfb, 99), 2)
        return out

    results = report.results
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    cache_hits = sum(1 for r in results if (r.cache or "").startswith(("hit", "semantic")))
    return {
        "wall_s": round(report.wall_s, 2),
        "throughput_rps": round(len(results) / report.wall_s, 1) if report.wall_s else 0.0,
        "all": stats(results),
        "plain": stats([r for r in results if not r.stream]),
        "stream": stats([r for r in results if r.stream]),
        "statuses": statuses,
        "cache_hits": cache_hits,
        "error_examples": [r.error for r in results if r.error][:5],
    }


def scan_for_leaks(text: str) -> list[str]:
    """Secrets or raw PII of the workload in a log."""
    return [label for label, needle in (("upstream key", UPSTREAM_SECRET), ("email", PII_EMAIL), ("card", PII_CARD))
            if needle in text]


def run_load(*, clients: int, requests: int, max_seconds: float = 180.0) -> dict[str, Any]:
    """The whole load phase; returns a JSON-able report with ``ok``."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    workdir = Path(tempfile.mkdtemp(prefix="mesh-load-"))
    children: list[Child] = []
    try:
        upstream, upstream_url = start_fake(workdir, "upstream")
        children.append(upstream)
        mesh = start_mesh(workdir, upstream_url)
        children.append(mesh.child)
        report = asyncio.run(drive(mesh.root_url, mesh.keys, clients=clients, requests=requests,
                                   deadline_s=max_seconds))
        mesh.child.stop()  # SIGINT: uvicorn's lifespan flushes the request log
        exit_code = mesh.child.proc.returncode
        server_log = mesh.child.log.read_text(errors="replace")
        summary = summarise(report)
        summary["clients"] = clients
        summary["requested"] = requests
        summary["sections_on"] = mesh.sections
        summary["hooks"] = list(ACTIVE_HOOKS)
        summary["costs_parts"] = mesh.costs_parts
        summary["notes"] = mesh.notes
        summary["reconcile"] = reconcile(mesh.data_dir, report.results)
        summary["server_exit"] = exit_code
        summary["leaks_in_server_log"] = scan_for_leaks(server_log)
        summary["server_errors_logged"] = server_log.count("Traceback")
        rec = summary["reconcile"]
        summary["ok"] = (
            summary["all"]["errors"] == 0
            and len(report.results) == requests
            and rec["request_log"]["ok"]
            and rec["duplicate_ids_in_responses"] == 0
            and all(rec[k].get("ok", True) for k in ("audit", "cost") if rec[k].get("present"))
            and rec["audit"].get("verify", {"ok": True})["ok"]
            and not summary["leaks_in_server_log"]
        )
        return summary
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def format_summary(s: dict[str, Any]) -> str:
    rec = s["reconcile"]
    lines = [
        f"load: {s['clients']} concurrent clients, {s['all']['requests']}/{s['requested']} requests in {s['wall_s']} s "
        f"-> {s['throughput_rps']} req/s; errors {s['all']['errors']}; statuses {s['statuses']}",
    ]
    for mode in ("all", "plain", "stream"):
        m = s[mode]
        extra = f", first byte p50 {m['ttfb_p50_ms']} ms" if "ttfb_p50_ms" in m else ""
        lines.append(f"  {mode:<6} n={m['requests']:<6} p50 {m['p50_ms']} ms  p95 {m['p95_ms']} ms  p99 {m['p99_ms']} ms{extra}")
    log = rec["request_log"]
    lines.append(f"  request log: {log['records']} records for {rec['responses_with_id']} answered requests; "
                 f"missing {log['missing']}, duplicated {log['duplicated']}, unexpected {log['unexpected']}")
    for name in ("audit", "cost"):
        r = rec[name]
        if r.get("present"):
            verify = f", verify {'ok' if r['verify']['ok'] else 'FAILED ' + str(r['verify'])}" if "verify" in r else ""
            lines.append(f"  {name}: {r['records']} records; missing {r['missing']}, duplicated {r['duplicated']}, "
                         f"unexpected {r['unexpected']}{verify}")
        else:
            lines.append(f"  {name}: not reconciled ({r.get('why', 'absent')})")
    lines.append(f"  sections on: {', '.join(s['sections_on']) or 'none'} (budgets/cache: {s.get('costs_parts', '-')}); hooks: {', '.join(s.get('hooks', [])) or 'none'}; "
                 f"cache hits {s['cache_hits']}")
    for note in s["notes"]:
        lines.append(f"  note: {note}")
    if s["leaks_in_server_log"]:
        lines.append(f"  LEAK in server log: {s['leaks_in_server_log']}")
    for example in s["error_examples"]:
        lines.append(f"  error: {example}")
    lines.append(f"  => {'OK' if s['ok'] else 'FAILED'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load test through mesh serve with record reconciliation.")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--max-seconds", type=float, default=180)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    summary = run_load(clients=args.clients, requests=args.requests, max_seconds=args.max_seconds)
    print(format_summary(summary))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
