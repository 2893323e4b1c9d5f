"""What a failover adds, in milliseconds: one route, three states of its primary target.

One run starts the loopback fake OpenAI upstream and ``mesh serve`` (own processes, as in
bench/overhead.py, whose process and client helpers this reuses) with three priority routes
whose fallback is the same healthy target on the fake:

- ``healthy``: the primary answers normally (the baseline: no failover);
- ``failover``: the primary answers 503 instantly (fake directive ``;status=503``) and its
  circuit never opens (threshold 1000 in a 1 s window), so every request pays for the failed
  attempt, the failure record in the health store, and the second attempt;
- ``circuit``: the same failing primary with threshold 5 and a one-hour cool-down: after the
  warm-up the circuit is open and the planner puts the primary last, so requests go straight
  to the fallback (what the failover costs once the breaker has tripped).

The three routes are driven in alternating rounds at fixed concurrency (machine noise falls on
all alike); every response is checked (200, the echo, ``x-mesh-attempts`` 1 or 2 as the state
implies). Prints p50/p95/p99 per state and the milliseconds added over ``healthy``.

    .venv/bin/python bench/failover.py                       # 8 concurrent, 1500 requests per state
    .venv/bin/python bench/failover.py --concurrency 1 --requests 500 --stream --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # noqa: E402  (bench/ is a directory of scripts, not a package)
from overhead import PROMPT, UPSTREAM_KEY_ENV, Child, RawConnection, percentile, start_fake  # noqa: E402

MODEL = "gpt-4o-mini"
FAILING = f"{MODEL};status=503"
STATES = ("healthy", "failover", "circuit")
EXPECTED_ATTEMPTS = {"healthy": "1", "failover": "2", "circuit": "1"}
CIRCUIT_THRESHOLD = 5


def mesh_config(upstream: str) -> dict[str, Any]:
    """Separate provider names per route so circuit state never leaks between the states."""
    def provider() -> dict[str, Any]:
        return {"kind": "openai", "base_url": upstream, "api_key": {"env": UPSTREAM_KEY_ENV}}

    def route(primary: str, model: str, threshold: int, window: float, cooldown: float) -> dict[str, Any]:
        return {"strategy": "priority",
                "targets": [{"provider": primary, "model": model}, {"provider": "backup", "model": MODEL}],
                "circuit_breaker": {"failure_threshold": threshold, "window_seconds": window,
                                    "cooldown_seconds": cooldown}}

    return {
        "providers": {name: provider() for name in ("primary-ok", "primary-5xx", "primary-tripped", "backup")},
        "routes": {
            "healthy": route("primary-ok", MODEL, 1000, 1, 1),
            "failover": route("primary-5xx", FAILING, 1000, 1, 1),
            "circuit": route("primary-tripped", FAILING, CIRCUIT_THRESHOLD, 3600, 3600),
        },
        "apps": {"bench": {"routes": "*"}},
    }


def start_mesh(workdir: Path, upstream: str) -> tuple[Child, str, str]:
    """overhead.start_mesh (key creation, ``mesh serve``, health wait) with this benchmark's config."""
    overhead.mesh_config = mesh_config  # start_mesh reads the module global at call time
    return overhead.start_mesh(workdir, upstream)


@dataclass
class Samples:
    latency: list[float] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def body(route: str, stream: bool) -> bytes:
    payload: dict[str, Any] = {"model": route, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 32}
    if stream:
        payload.update(stream=True, stream_options={"include_usage": True})
    return json.dumps(payload).encode()


async def drive(conns: list[RawConnection], route: str, count: int, stream: bool, samples: Samples | None) -> None:
    payload = body(route, stream)
    remaining = count

    async def worker(conn: RawConnection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                status, headers, content, _ = await conn.post("/chat/completions", payload)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if samples is not None:
                    samples.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if samples is None:
                continue
            ok = status == 200 and (b"data: [DONE]" in content[-64:] if stream else b"Echo:" in content)
            if not ok:
                samples.errors.append(f"{status} {content[:160]!r}")
                continue
            samples.latency.append(elapsed)
            samples.attempts[headers.get("x-mesh-attempts", "1")] += 1
            if "x-mesh-fallback-reason" in headers:
                samples.reasons[headers["x-mesh-fallback-reason"]] += 1

    await asyncio.gather(*(worker(conn) for conn in conns[: max(1, min(len(conns), count))]))


async def run(args: argparse.Namespace, mesh_url: str, key: str) -> dict[str, Samples]:
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    conns = [RawConnection(mesh_url, headers) for _ in range(args.concurrency)]
    results = {state: Samples() for state in STATES}
    try:
        for state in STATES:  # warm-up; trips the circuit of the "circuit" route
            await drive(conns, state, max(args.warmup, CIRCUIT_THRESHOLD * 4), args.stream, None)
        per_round = max(1, args.requests // args.rounds)
        for index in range(args.rounds):
            order = STATES if index % 2 == 0 else tuple(reversed(STATES))
            for state in order:
                await drive(conns, state, per_round, args.stream, results[state])
    finally:
        for conn in conns:
            await conn.close()
    return results


def report(results: dict[str, Samples], args: argparse.Namespace) -> tuple[str, dict[str, Any], bool]:
    base = {p: percentile(results["healthy"].latency, p) for p in (50, 95, 99)} if results["healthy"].latency else {}
    lines = [f"mode={'stream' if args.stream else 'json'} concurrency={args.concurrency} "
             f"requests/state={sum(len(s.latency) for s in results.values()) // len(STATES)}",
             f"{'state':<10}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'+p50':>8}{'+p95':>8}{'+p99':>8}"
             f"  attempts        errors"]
    summary: dict[str, Any] = {}
    ok = True
    for state, samples in results.items():
        if not samples.latency:
            lines.append(f"{state:<10}{0:>6}  (no successful requests) {samples.errors[:2]}")
            ok = False
            continue
        pct = {p: percentile(samples.latency, p) for p in (50, 95, 99)}
        added = {p: pct[p] - base.get(p, pct[p]) for p in pct}
        attempts = dict(sorted(samples.attempts.items()))
        wrong = sum(n for a, n in samples.attempts.items() if a != EXPECTED_ATTEMPTS[state])
        ok = ok and not samples.errors and not wrong
        lines.append(f"{state:<10}{len(samples.latency):>6}{pct[50]:>9.2f}{pct[95]:>9.2f}{pct[99]:>9.2f}"
                     f"{added[50]:>8.2f}{added[95]:>8.2f}{added[99]:>8.2f}  {json.dumps(attempts):<15} {len(samples.errors)}")
        summary[state] = {"n": len(samples.latency), **{f"p{p}_ms": round(v, 3) for p, v in pct.items()},
                          **{f"added_p{p}_ms": round(v, 3) for p, v in added.items()},
                          "attempts": attempts, "fallback_reasons": dict(samples.reasons),
                          "errors": len(samples.errors), "error_examples": samples.errors[:3]}
    return "\n".join(lines), summary, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500, help="measured requests per state")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--stream", action="store_true", help="streamed requests (read until [DONE])")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args(argv)

    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix="mesh-failover-bench-") as tmp:
        workdir = Path(tmp)
        try:
            fake, upstream = start_fake(workdir, "fake")
            children.append(fake)
            mesh, mesh_url, key = start_mesh(workdir, upstream)
            children.append(mesh)
            results = asyncio.run(run(args, mesh_url, key))
        finally:
            for child in reversed(children):
                child.stop()
    text, summary, ok = report(results, args)
    print(f"failover benchmark ({platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; loopback fake upstream; primary 5xx answers instantly)")
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "states": summary}, indent=2))
    if not ok:
        print("FAILED: errors or unexpected x-mesh-attempts (see above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
