"""The mesh's added latency: the same workload against the fake upstream directly and through the mesh.

One run starts a loopback fake OpenAI upstream (its own process), starts ``mesh serve`` in front of
it (its own process, temporary config, data dir and API key), then drives both targets with the
same async httpx workload at a fixed concurrency. Targets alternate in rounds (A B B A ...) so
machine noise hits both alike; a warm-up per target is discarded. It prints p50/p95/p99 latency and
requests per second for direct and mesh, the added milliseconds at each percentile, and the mesh's
own ``x-mesh-overhead-ms`` header (time inside the mesh, upstream excluded).

    .venv/bin/python bench/overhead.py                       # defaults: 32 concurrent, 2000 requests/target
    .venv/bin/python bench/overhead.py --requests 4000 --stream only --json out.json
    .venv/bin/python bench/overhead.py --self-test           # fake vs fake: checks the harness (adds ~0)
    .venv/bin/python bench/overhead.py --mesh-url http://127.0.0.1:8080/v1 --mesh-key KEY --upstream-url ...

Only loopback traffic; every child process is stopped on exit; ``--max-seconds`` bounds the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
UPSTREAM_MODEL = "gpt-4o-mini"
ROUTE = "bench"
UPSTREAM_KEY_ENV = "BENCH_UPSTREAM_KEY"
PROMPT = "Say hello to the overhead benchmark in a few words"
# --policy-path: a 1.6 KB support message with PII in it, so redaction and restore do real work.
POLICY_PROMPT = (
    "Hello, I am writing about order 88-2231 placed last week. My name is Jane Doe and you can reach me at "
    "jane.doe@example.com or on +1 415 555 0134. The parcel arrived with the outer box crushed and two of the "
    "six glasses broken; the remaining four look fine but one has a chip on the rim. I would like a replacement "
    "for the broken ones rather than a refund, if that is possible, and I am happy to send photos of the damage. "
) * 4
POLICY_PROMPT = POLICY_PROMPT[:1600]


# ------------------------------------------------------------------ how the mesh is set up (adjust here)


def mesh_config(upstream_base_url: str, policy_path: bool = False) -> dict[str, Any]:
    """The mesh.yaml for the run: one openai-kind provider pointing at the fake, one route, one app.
    ``policy_path``: the full governed path as well: a PII redact policy (restore on), the injection
    screen, the cost ledger with a hard budget that never trips, and the audit trail (on by default)."""
    config = _bare_config(upstream_base_url)
    if policy_path:
        config["policies"] = {"pii": {"default_action": "redact", "restore_output": True}}
        config["governance"] = {"bindings": {"default": "pii"}, "injection": {"action": "flag"}}
        config["costs"] = {"ledger": True, "budgets": [
            {"name": "bench-hard", "scope": "app", "match": "bench", "limit_usd": "1000000", "period": "month",
             "mode": "hard"}]}
        config["models"] = {"bench-priced": {"provider": "fake", "model": UPSTREAM_MODEL,
                                             "prices": {"input": "0.15", "output": "0.60"}}}
    return config


def _bare_config(upstream_base_url: str) -> dict[str, Any]:
    return {
        "providers": {
            "fake": {"kind": "openai", "base_url": upstream_base_url, "api_key": {"env": UPSTREAM_KEY_ENV}},
        },
        "routes": {ROUTE: {"provider": "fake", "model": UPSTREAM_MODEL}},
        "apps": {"bench": {"routes": "*"}},
    }


def mesh_executable() -> list[str]:
    script = Path(sys.executable).parent / "mesh"
    if script.exists():
        return [str(script)]
    found = shutil.which("mesh")
    if found:
        return [found]
    return [sys.executable, "-c", "from llm_mesh.cli.main import cli; cli()"]


def create_mesh_key(workdir: Path, config_file: Path, env: dict[str, str]) -> str:
    """`mesh keys create --app bench` prints the key as the last line of stdout."""
    out = subprocess.run(
        [*mesh_executable(), "keys", "create", "--app", "bench", "--config", str(config_file),
         "--data-dir", str(workdir / ".mesh")],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return out.stdout.strip().splitlines()[-1].strip()


def mesh_serve_command(config_file: Path, workdir: Path, port: int) -> list[str]:
    return [*mesh_executable(), "serve", "--config", str(config_file), "--data-dir", str(workdir / ".mesh"),
            "--host", "127.0.0.1", "--port", str(port)]


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def spawn(name: str, cmd: list[str], workdir: Path, env: dict[str, str] | None = None) -> Child:
    log = workdir / f"{name}.log"
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    handle.close()
    return Child(name, proc, log)


def start_fake(workdir: Path, name: str) -> tuple[Child, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = spawn(name, [sys.executable, "-m", "tests.fakes.openai_upstream", "--port", "0"], workdir, env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in child.log.read_text(errors="replace").splitlines():
            if line.startswith("listening on "):
                return child, line.split(" ", 2)[2].strip()
        if child.proc.poll() is not None:
            break
        time.sleep(0.05)
    child.stop()
    raise RuntimeError(f"fake upstream did not start:\n{child.tail()}")


def wait_healthy(url: str, child: Child, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} not healthy after {timeout}s:\n{child.tail()}")


def start_mesh(workdir: Path, upstream_base_url: str, policy_path: bool = False) -> tuple[Child, str, str]:
    """Returns (process, base_url ending in /v1, api key)."""
    import yaml

    config_file = workdir / "mesh.yaml"
    config_file.write_text(yaml.safe_dump(mesh_config(upstream_base_url, policy_path), sort_keys=False))
    env = dict(os.environ, **{UPSTREAM_KEY_ENV: "sk-bench-upstream"})
    env.pop("MESH_CONFIG", None)
    if env.get("PYTHONPATH"):  # the mesh runs in the temporary directory: keep e.g. PYTHONPATH=src meaning this tree
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    key = create_mesh_key(workdir, config_file, env)
    port = free_port()
    child = spawn("mesh", mesh_serve_command(config_file, workdir, port), workdir, env)
    wait_healthy(f"http://127.0.0.1:{port}/health", child)
    return child, f"http://127.0.0.1:{port}/v1", key


# ------------------------------------------------------------------ workload


@dataclass
class Target:
    name: str
    base_url: str
    model: str
    key: str
    client: httpx.AsyncClient | None = None
    conns: list["RawConnection"] = field(default_factory=list)


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client connection (Content-Length and chunked bodies).

    httpx spends ~1-2 ms of client CPU per request, which at 32 concurrent requests on a small
    machine turns the client into the bottleneck and buries a sub-millisecond overhead in client
    queueing; this costs a fraction of that. ``--client httpx`` uses httpx instead.
    """

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = httpx.URL(base_url)
        self.host, self.port = url.host, url.port or 80
        self.prefix = url.raw_path.decode().rstrip("/")
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes, float | None]:
        """-> (status, headers, body, perf_counter of the first body bytes). A kept-alive connection
        the server closed while it sat idle (its keep-alive timeout, during another target's
        round) is reopened once, as HTTP clients do; any other failure is an error."""
        reused = self.writer is not None and not self.writer.is_closing()
        try:
            return await self._post(path, body)
        except asyncio.IncompleteReadError as exc:
            if not reused or exc.partial:
                raise
            return await self._post(path, body)

    async def _post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes, float | None]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        writer.write(b"POST %b%b HTTP/1.1\r\nhost: %b:%d\r\n%bcontent-length: %d\r\n\r\n%b" % (
            self.prefix.encode(), path.encode(), self.host.encode(), self.port, self.fixed, len(body), body))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            first = None
            if "chunked" in headers.get("transfer-encoding", ""):
                parts = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if first is None:
                        first = time.perf_counter()
                    if size == 0:
                        await reader.readuntil(b"\r\n")
                        break
                    parts.append((await reader.readexactly(size + 2))[:-2])
                content = b"".join(parts)
            else:
                content = await reader.readexactly(int(headers.get("content-length", "0")))
                first = time.perf_counter()
            if headers.get("connection", "").lower() == "close":
                await self.close()
            return status, headers, content, first
        except BaseException:
            await self.close()
            raise


@dataclass
class Samples:
    latency: list[float] = field(default_factory=list)  # ms, whole response (stream: until [DONE])
    ttfb: list[float] = field(default_factory=list)  # ms, stream only: first body bytes
    mesh_overhead: list[float] = field(default_factory=list)  # ms, x-mesh-overhead-ms when present
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    wall: float = 0.0  # seconds spent in measured batches
    count: int = 0

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(text[:300])


ACTIVE_PROMPT = [PROMPT]  # set once by main() from --policy-path
# --unique-prompts: every request's prompt differs (its first word), so nothing the mesh
# remembers about a text it saw before (its scan memo) can serve it: the worst case
UNIQUE_PROMPTS = [False]
_REQUEST_NUMBER = itertools.count()


def _unique(body: bytes) -> bytes:
    """``body`` with the prompt's first six characters replaced by a per-request word of six letters."""
    n = next(_REQUEST_NUMBER)
    word = "Q" + "".join(chr(97 + (n // 26**i) % 26) for i in range(5))
    start = body.index(b'"content": "') + len(b'"content": "')
    return body[:start] + word.encode() + body[start + 6:]


def body_for(target: Target, stream: bool) -> bytes:
    payload: dict[str, Any] = {"model": target.model, "messages": [{"role": "user", "content": ACTIVE_PROMPT[0]}],
                               "max_tokens": 32}
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload).encode()


async def one_request(target: Target, worker: int, body: bytes, stream: bool, samples: Samples | None) -> None:
    if UNIQUE_PROMPTS[0]:
        body = _unique(body)
    started = time.perf_counter()
    first = None
    try:
        if target.conns:
            status, headers, content, first = await target.conns[worker].post("/chat/completions", body)
            elapsed = (time.perf_counter() - started) * 1000
            tail = content[-64:]
        elif not stream:
            assert target.client is not None
            response = await target.client.post("/chat/completions", content=body)
            elapsed = (time.perf_counter() - started) * 1000
            status, headers, content = response.status_code, response.headers, response.content
            tail = content[-64:]
        else:
            assert target.client is not None
            tail = b""
            async with target.client.stream("POST", "/chat/completions", content=body) as response:
                async for chunk in response.aiter_raw():
                    if first is None:
                        first = time.perf_counter()
                    tail = (tail + chunk)[-64:]
            elapsed = (time.perf_counter() - started) * 1000
            status, headers, content = response.status_code, response.headers, tail
    except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        if samples is not None:
            samples.error(f"{type(exc).__name__}: {exc}")
        return
    if samples is None:
        return
    if status != 200 or (b"data: [DONE]" not in tail if stream else b"Echo:" not in content):
        samples.error(f"{status} {content[:200]!r}")
        return
    samples.latency.append(elapsed)
    if stream and first is not None:
        samples.ttfb.append((first - started) * 1000)
    overhead = headers.get("x-mesh-overhead-ms")
    if overhead is not None:
        try:
            samples.mesh_overhead.append(float(overhead))
        except ValueError:
            pass


async def batch(target: Target, count: int, concurrency: int, stream: bool, samples: Samples | None) -> None:
    body = body_for(target, stream)
    remaining = count

    async def worker(index: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one_request(target, index, body, stream, samples)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(min(concurrency, count))))
    if samples is not None:
        samples.wall += time.perf_counter() - started
        samples.count += count


async def measure(targets: list[Target], *, requests: int, concurrency: int, warmup: int, rounds: int,
                  stream: bool) -> dict[str, Samples]:
    results = {t.name: Samples() for t in targets}
    for target in targets:
        await batch(target, warmup, concurrency, stream, None)
    per_round = max(1, requests // rounds)
    for index in range(rounds):
        order = targets if index % 2 == 0 else list(reversed(targets))
        for target in order:
            await batch(target, per_round, concurrency, stream, results[target.name])
    return results


# ------------------------------------------------------------------ report


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(samples: Samples) -> dict[str, Any]:
    out = {
        "requests": samples.count,
        "ok": len(samples.latency),
        "errors": samples.errors,
        "rps": round(samples.count / samples.wall, 1) if samples.wall else 0.0,
    }
    for p in (50, 95, 99):
        out[f"p{p}_ms"] = round(percentile(samples.latency, p), 3)
    if samples.ttfb:
        out["ttfb_p50_ms"] = round(percentile(samples.ttfb, 50), 3)
        out["ttfb_p99_ms"] = round(percentile(samples.ttfb, 99), 3)
    if samples.mesh_overhead:
        out["mesh_overhead_p50_ms"] = round(percentile(samples.mesh_overhead, 50), 3)
        out["mesh_overhead_p99_ms"] = round(percentile(samples.mesh_overhead, 99), 3)
    if samples.error_examples:
        out["error_examples"] = samples.error_examples
    return out


def table(mode: str, direct: dict[str, Any], mesh: dict[str, Any], mesh_label: str) -> str:
    head = f"{'mode':<10} {'target':<8} {'ok':>6} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}"
    rows = [head, "-" * len(head)]
    for label, data in (("direct", direct), (mesh_label, mesh)):
        rows.append(f"{mode:<10} {label:<8} {data['ok']:>6} {data['errors']:>4} {data['p50_ms']:>8.2f} "
                    f"{data['p95_ms']:>8.2f} {data['p99_ms']:>8.2f} {data['rps']:>8.0f}")
    added = {p: mesh[f"p{p}_ms"] - direct[f"p{p}_ms"] for p in (50, 95, 99)}
    rows.append(f"{mode:<10} {'added':<8} {'':>6} {'':>4} {added[50]:>+8.2f} {added[95]:>+8.2f} {added[99]:>+8.2f} "
                f"{(mesh['rps'] / direct['rps'] - 1) * 100 if direct['rps'] else 0:>+7.0f}%")
    extras = []
    if "ttfb_p50_ms" in mesh:
        extras.append(f"first byte p50: direct {direct.get('ttfb_p50_ms', float('nan')):.2f} ms, "
                      f"{mesh_label} {mesh['ttfb_p50_ms']:.2f} ms")
    if "mesh_overhead_p50_ms" in mesh:
        extras.append(f"x-mesh-overhead-ms: p50 {mesh['mesh_overhead_p50_ms']:.3f}, p99 {mesh['mesh_overhead_p99_ms']:.3f}")
    return "\n".join(rows + [f"           {e}" for e in extras])


# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace, direct_url: str, mesh_url: str, mesh_key: str, mesh_model: str,
              mesh_label: str) -> dict[str, Any]:
    most = max(args.concurrency)
    limits = httpx.Limits(max_connections=most, max_keepalive_connections=most)
    timeout = httpx.Timeout(30.0)
    targets = [Target("direct", direct_url, UPSTREAM_MODEL, "sk-bench-direct"),
               Target("mesh", mesh_url, mesh_model, mesh_key)]
    for target in targets:
        headers = {"authorization": f"Bearer {target.key}", "content-type": "application/json"}
        if args.client == "raw":
            target.conns = [RawConnection(target.base_url, headers) for _ in range(most)]
        else:
            target.client = httpx.AsyncClient(base_url=target.base_url, limits=limits, timeout=timeout,
                                              headers=headers)
    modes = {"no": [False], "only": [True], "both": [False, True]}[args.stream]
    report: dict[str, Any] = {}
    try:
        # The very first request after start (a fresh mesh): imports, encoder and engines not yet warm.
        first = {}
        for target in targets:
            started = time.perf_counter()
            await one_request(target, 0, body_for(target, False), False, None)
            first[target.name] = round((time.perf_counter() - started) * 1000, 3)
        report["first_request_ms"] = first
        print(f"first request after start: direct {first['direct']:.2f} ms, {mesh_label} {first['mesh']:.2f} ms "
              f"(added {first['mesh'] - first['direct']:+.2f} ms)", flush=True)
        for concurrency, stream in [(c, s) for c in args.concurrency for s in modes]:
            mode = f"{'stream' if stream else 'plain'}/c{concurrency}"
            results = await measure(targets, requests=args.requests, concurrency=concurrency,
                                    warmup=args.warmup, rounds=args.rounds, stream=stream)
            direct, mesh = summarise(results["direct"]), summarise(results["mesh"])
            report[mode] = {"concurrency": concurrency, "stream": stream, "direct": direct, "mesh": mesh,
                            "added_ms": {f"p{p}": round(mesh[f"p{p}_ms"] - direct[f"p{p}_ms"], 3) for p in (50, 95, 99)}}
            print(table(mode, direct, mesh, mesh_label), flush=True)
            print(flush=True)
            for name, data in (("direct", direct), (mesh_label, mesh)):
                for example in data.get("error_examples", []):
                    print(f"  {name} error: {example}", flush=True)
    finally:
        for target in targets:
            if target.client is not None:
                await target.client.aclose()
            for conn in target.conns:
                await conn.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Added latency of the mesh over a loopback fake upstream.")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per target and mode")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[32],
                        help="concurrent requests; a comma list (e.g. 1,32) measures each in turn")
    parser.add_argument("--warmup", type=int, default=200, help="discarded requests per target and mode")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the requests are split into")
    parser.add_argument("--stream", choices=("both", "no", "only"), default="both",
                        help="measure non-streamed, streamed or both")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator: a minimal keep-alive HTTP/1.1 client (default) or httpx")
    parser.add_argument("--json", dest="json_out", default=None, help="write the figures to this JSON file")
    parser.add_argument("--self-test", action="store_true",
                        help="a second fake stands in for the mesh: checks the harness, expect ~0 added")
    parser.add_argument("--mesh-url", default=None, help="an already running mesh (…/v1) instead of starting one")
    parser.add_argument("--mesh-key", default=None, help="API key for --mesh-url")
    parser.add_argument("--mesh-model", default=ROUTE, help="route name to call on --mesh-url")
    parser.add_argument("--upstream-url", default=None, help="with --mesh-url: the fake upstream the mesh calls")
    parser.add_argument("--policy-path", action="store_true",
                        help="the full governed path: PII redact policy, injection screen, ledger, hard budget, audit; 1.6 KB prompt")
    parser.add_argument("--unique-prompts", action="store_true",
                        help="every request's prompt differs (no text is ever seen twice): the scan memo never hits")
    parser.add_argument("--max-seconds", type=float, default=600, help="abort the whole run after this")
    args = parser.parse_args(argv)
    if args.policy_path:
        ACTIVE_PROMPT[0] = POLICY_PROMPT
    UNIQUE_PROMPTS[0] = args.unique_prompts
    if args.requests < args.rounds or min(args.concurrency) < 1:
        parser.error("--requests must be at least --rounds, --concurrency at least 1")

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    children: list[Child] = []
    workdir = Path(tempfile.mkdtemp(prefix="mesh-bench-"))
    started = time.time()
    try:
        if args.mesh_url:
            if not args.upstream_url:
                parser.error("--mesh-url needs --upstream-url (the fake upstream the mesh forwards to)")
            direct_url, mesh_url, key, label = args.upstream_url, args.mesh_url, args.mesh_key or "", "mesh"
        else:
            upstream, direct_url = start_fake(workdir, "upstream")
            children.append(upstream)
            if args.self_test:
                twin, mesh_url = start_fake(workdir, "twin")
                children.append(twin)
                key, label = "sk-twin", "fake2"
                args.mesh_model = UPSTREAM_MODEL
            else:
                mesh, mesh_url, key = start_mesh(workdir, direct_url, args.policy_path)
                children.append(mesh)
                label = "mesh"
        print(f"direct: {direct_url}   {label}: {mesh_url}   concurrency {args.concurrency}, "
              f"{args.requests} requests/target/mode in {args.rounds} alternating rounds, "
              f"{args.warmup} warm-up discarded, {args.client} client", flush=True)
        print(flush=True)
        report = asyncio.run(asyncio.wait_for(
            run(args, direct_url, mesh_url, key, args.mesh_model, label), timeout=args.max_seconds
        ))
        for child in children:
            if child.proc.poll() is not None:
                print(f"warning: {child.name} exited during the run:\n{child.tail()}", file=sys.stderr)
        if args.json_out:
            meta = {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "seconds": round(time.time() - started, 1),
                "concurrency": args.concurrency, "requests": args.requests, "warmup": args.warmup,
                "rounds": args.rounds, "client": args.client, "self_test": args.self_test,
                "python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            }
            Path(args.json_out).write_text(json.dumps({"meta": meta, **report}, indent=2) + "\n")
        errors = sum(report[m][t]["errors"] for m in report if m != "first_request_ms" for t in ("direct", "mesh"))
        return 1 if errors else 0
    except (asyncio.TimeoutError, TimeoutError):
        print(f"aborted: the run exceeded --max-seconds {args.max_seconds}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
