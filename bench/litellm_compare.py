"""One mesh worker against the LiteLLM proxy: the same fake upstream, the same load, in one run.

One run:

1. creates (or reuses) a separate virtualenv, ``/tmp/litellm-proxy-venv`` unless ``--venv``, and pip
   installs the pinned ``litellm[proxy]`` from PyPI into it (the project's own venv never gets it);
   the only step that needs the network;
2. starts the repo's fast fake OpenAI upstream (``tests.fakes.openai_upstream``, its own process);
3. starts, each in its own process and all on loopback:
   - ``mesh serve`` (one worker), one route to the fake, no policies           -> target ``mesh``
   - ``mesh serve`` (one worker), the full policy path as ``bench/overhead.py --policy-path`` sets it up
     (key auth, PII redact + restore, injection screen, cost ledger, hard budget, audit) -> ``mesh+policy``
   - ``litellm --config cfg.yaml --num_workers 1``, one model pointing at the fake with ``api_base``,
     a fixed master key, no database, local cost map, telemetry off, log level ERROR -> ``litellm``
4. drives each (and the fake directly, for reference) with the same load: a 1.6 KB chat prompt,
   ``max_tokens`` 32, 32 concurrent keep-alive connections (the minimal HTTP/1.1 client of
   ``bench/overhead.py``, on asyncio), non-streamed and streamed, targets alternating in rounds
   with a discarded warm-up, every answer checked; prints p50/p95/p99, req/s, req/s ÷ LiteLLM's and
   the CPU milliseconds each server process spent per request (steadier than req/s on a busy machine).

    .venv/bin/python bench/litellm_compare.py                      # 32 connections, 2000 requests/target/mode
    .venv/bin/python bench/litellm_compare.py --requests 1000 --stream no --json out.json
    .venv/bin/python bench/litellm_compare.py --venv ~/.cache/litellm-venv --litellm-version 1.108.7

Only loopback traffic after the install; every child process is stopped on exit; ``--max-seconds``
bounds the measured part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead as ob  # bench/overhead.py: the fake, processes, the raw client, workload, statistics

# The newest release whose [proxy] extra resolves from PyPI as this machine sees it: 1.108.8 and later
# pin litellm-enterprise / litellm-proxy(-extras) versions that are not there. (1.107.0 and 1.82.7-8,
# the compromised releases, are not on PyPI either.)
LITELLM_VERSION = "1.108.7"
DEFAULT_VENV = Path("/tmp/litellm-proxy-venv")
LITELLM_MODEL = "bench"  # the model_name clients call on the LiteLLM proxy (the mesh's route is also "bench")
LITELLM_MASTER_KEY = "sk-bench-" + "0123456789abcdef" * 4  # fixed, loopback only; no database behind it


# ------------------------------------------------------------------ the LiteLLM side


def venv_litellm_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    probe = ("import importlib.metadata as m; m.version('litellm-proxy-extras'); m.version('uvicorn'); "
             "print(m.version('litellm'))")
    out = subprocess.run([str(python), "-c", probe], check=False, capture_output=True, text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_venv(venv: Path, version: str) -> Path:
    """Reuse ``venv`` if it has ``litellm[proxy]==version``, else create it and pip install that."""
    have = venv_litellm_version(venv)
    if have != version:
        started = time.monotonic()
        if not (venv / "bin" / "python").exists():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
        print(f"installing litellm[proxy]=={version} into {venv} (from PyPI) ...", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_TARGET")}
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"litellm[proxy]=={version}"], check=True, timeout=1800, env=env)
        have = venv_litellm_version(venv)
        if have != version:
            raise RuntimeError(f"{venv} has litellm {have!r} after the install, wanted {version}")
        print(f"installed in {time.monotonic() - started:.0f} s", flush=True)
    else:
        print(f"reusing {venv} (litellm[proxy]=={version})", flush=True)
    return venv / "bin" / "litellm"


def litellm_config(upstream_base_url: str) -> dict[str, Any]:
    """One model at the fake; the documented production settings that apply without a database."""
    return {
        "model_list": [{
            "model_name": LITELLM_MODEL,
            "litellm_params": {"model": f"openai/{ob.UPSTREAM_MODEL}", "api_base": upstream_base_url,
                               "api_key": "sk-bench-upstream"},
        }],
        "litellm_settings": {"telemetry": False, "set_verbose": False, "request_timeout": 60},
        "general_settings": {"master_key": LITELLM_MASTER_KEY, "disable_spend_logs": True,
                             "disable_error_logs": True},
    }


def litellm_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "LITELLM_MASTER_KEY", "REDIS_HOST",
                        "REDIS_URL", "MESH_CONFIG")}
    env.update({
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the model cost map at start
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "DISABLE_ADMIN_UI": "True",
        "NO_COLOR": "1",
    })
    return env


def start_litellm(workdir: Path, executable: Path, upstream_base_url: str) -> tuple[ob.Child, str]:
    import yaml

    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "cfg.yaml"
    config_file.write_text(yaml.safe_dump(litellm_config(upstream_base_url), sort_keys=False))
    port = ob.free_port()
    cmd = [str(executable), "--config", str(config_file), "--host", "127.0.0.1", "--port", str(port),
           "--num_workers", "1", "--telemetry", "False"]
    child = ob.spawn("litellm", cmd, workdir, litellm_env())
    ob.wait_healthy(f"http://127.0.0.1:{port}/health/liveliness", child, timeout=180)
    return child, f"http://127.0.0.1:{port}/v1"


# ------------------------------------------------------------------ measuring


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and its live descendants, from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


async def reconnect(target: ob.Target) -> None:
    """Fresh keep-alive connections before each batch, outside the timing: a server may have closed
    idle ones while the slower targets were measured (uvicorn's keep-alive timeout is 5 s)."""
    for conn in target.conns:
        await conn.close()
        conn.reader, conn.writer = await asyncio.open_connection(conn.host, conn.port)
        sock = conn.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def measure(targets: list[ob.Target], pids: dict[str, int], args: argparse.Namespace,
                  stream: bool) -> tuple[dict[str, ob.Samples], dict[str, float]]:
    """ob.measure's alternating rounds, plus reconnecting and the server's CPU seconds per batch."""
    results = {t.name: ob.Samples() for t in targets}
    cpu = {t.name: 0.0 for t in targets}
    for target in targets:
        await reconnect(target)
        await ob.batch(target, args.warmup, args.concurrency, stream, None)
    per_round = max(1, args.requests // args.rounds)
    for index in range(args.rounds):
        for target in targets if index % 2 == 0 else list(reversed(targets)):
            await reconnect(target)
            before = cpu_seconds(pids[target.name])
            await ob.batch(target, per_round, args.concurrency, stream, results[target.name])
            cpu[target.name] += cpu_seconds(pids[target.name]) - before
    return results, cpu


# ------------------------------------------------------------------ report


def compare_table(mode: str, rows: dict[str, dict[str, Any]]) -> str:
    head = (f"{'mode':<12} {'target':<12} {'ok':>6} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'req/s':>8} {'÷ litellm':>10} {'CPU ms/req':>11}")
    lines = [head, "-" * len(head)]
    base = rows["litellm"]["rps"]
    for name, data in rows.items():
        ratio = f"{data['rps'] / base:>9.1f}x" if base else f"{'-':>10}"
        lines.append(f"{mode:<12} {name:<12} {data['ok']:>6} {data['errors']:>4} {data['p50_ms']:>8.2f} "
                     f"{data['p95_ms']:>8.2f} {data['p99_ms']:>8.2f} {data['rps']:>8.0f} {ratio} "
                     f"{data['server_cpu_ms_per_request']:>11.2f}")
    return "\n".join(lines)


# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace, targets: list[ob.Target], pids: dict[str, int]) -> dict[str, Any]:
    for target in targets:
        headers = {"authorization": f"Bearer {target.key}", "content-type": "application/json"}
        target.conns = [ob.RawConnection(target.base_url, headers) for _ in range(args.concurrency)]
    modes = {"no": [False], "only": [True], "both": [False, True]}[args.stream]
    report: dict[str, Any] = {}
    try:
        for stream in modes:
            mode = f"{'stream' if stream else 'plain'}/c{args.concurrency}"
            results, cpu = await measure(targets, pids, args, stream)
            rows = {t.name: ob.summarise(results[t.name]) for t in targets}
            for name, row in rows.items():  # the server process's CPU (the fake's for "direct")
                row["server_cpu_ms_per_request"] = round(cpu[name] * 1000 / max(1, results[name].count), 3)
            base = rows["litellm"]["rps"]
            report[mode] = {"stream": stream, "concurrency": args.concurrency, "targets": rows,
                            "rps_over_litellm": {n: round(r["rps"] / base, 2) if base else None
                                                 for n, r in rows.items()}}
            print(compare_table(mode, rows), flush=True)
            for name, data in rows.items():
                for example in data.get("error_examples", []):
                    print(f"  {name} error: {example}", flush=True)
            print(flush=True)
    finally:
        for target in targets:
            for conn in target.conns:
                await conn.close()
    return report


def start_all(args: argparse.Namespace, workdir: Path, children: list[ob.Child]) -> list[ob.Target]:
    """The fake, two meshes and LiteLLM; ``children`` gets each process (named as its target)."""
    executable = ensure_venv(Path(args.venv), args.litellm_version)
    upstream, upstream_url = ob.start_fake(workdir, "direct")
    children.append(upstream)
    targets = [ob.Target("direct", upstream_url, ob.UPSTREAM_MODEL, "sk-bench-direct")]
    for name, policy in (("mesh", False), ("mesh+policy", True)):
        mesh_dir = workdir / name.replace("+", "-")
        mesh_dir.mkdir()
        child, url, key = ob.start_mesh(mesh_dir, upstream_url, policy_path=policy)
        child.name = name
        children.append(child)
        targets.append(ob.Target(name, url, ob.ROUTE, key))
    child, url = start_litellm(workdir / "litellm", executable, upstream_url)
    children.append(child)
    targets.append(ob.Target("litellm", url, LITELLM_MODEL, LITELLM_MASTER_KEY))
    return targets


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="One mesh worker vs the LiteLLM proxy on the same fake and load.")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per target and mode")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--warmup", type=int, default=200, help="discarded requests per target and mode")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the requests are split into")
    parser.add_argument("--stream", choices=("both", "no", "only"), default="both")
    parser.add_argument("--venv", default=str(DEFAULT_VENV), help="the LiteLLM virtualenv (created if missing)")
    parser.add_argument("--litellm-version", default=LITELLM_VERSION, help="the litellm[proxy] version to pin")
    parser.add_argument("--json", dest="json_out", default=None, help="write the figures to this JSON file")
    parser.add_argument("--max-seconds", type=float, default=900, help="abort the measured part after this")
    args = parser.parse_args(argv)
    if args.requests < args.rounds or args.concurrency < 1:
        parser.error("--requests must be at least --rounds, --concurrency at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ob.ACTIVE_PROMPT[0] = ob.POLICY_PROMPT  # the 1.6 KB prompt (with PII) for every target
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    children: list[ob.Child] = []
    workdir = Path(tempfile.mkdtemp(prefix="mesh-litellm-"))
    started = time.time()
    try:
        targets = start_all(args, workdir, children)
        print(f"{len(ob.POLICY_PROMPT)}-char prompt, {args.concurrency} connections, {args.requests} requests/"
              f"target/mode in {args.rounds} alternating rounds, {args.warmup} warm-up discarded; "
              f"litellm[proxy]=={args.litellm_version}", flush=True)
        print(flush=True)
        pids = {child.name: child.proc.pid for child in children}
        report = asyncio.run(asyncio.wait_for(run(args, targets, pids), timeout=args.max_seconds))
        for child in children:
            if child.proc.poll() is not None:
                print(f"warning: {child.name} exited during the run:\n{child.tail()}", file=sys.stderr)
        if args.json_out:
            meta = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                    "seconds": round(time.time() - started, 1), "litellm": args.litellm_version,
                    "concurrency": args.concurrency, "requests": args.requests, "warmup": args.warmup,
                    "rounds": args.rounds, "prompt_chars": len(ob.POLICY_PROMPT),
                    "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()}
            Path(args.json_out).write_text(json.dumps({"meta": meta, **report}, indent=2) + "\n")
        errors = sum(row["errors"] for mode in report.values() for row in mode["targets"].values())
        return 1 if errors else 0
    except TimeoutError:
        print(f"aborted: the run exceeded --max-seconds {args.max_seconds}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
