"""Two (or more) source trees of the mesh side by side in one run: which one adds less?

Starts one fake upstream and one ``mesh serve`` per source tree (its ``PYTHONPATH``), then
sends the same requests one at a time to the upstream directly and to every mesh,
alternating in rounds so machine noise (other jobs on a shared box) hits all alike. Prints
each target's latency, the added milliseconds over direct, ``x-mesh-overhead-ms`` and the
mesh process's CPU time per request (all threads, and the event-loop thread alone, from
/proc: less sensitive to a loaded machine than wall time).

    .venv/bin/python bench/overhead_ab.py /path/to/old/src,src --policy-path --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead as bench  # noqa: E402


def _ticks(pid: int, thread: bool) -> int:
    """utime + stime in clock ticks of the process (or of its main thread)."""
    path = f"/proc/{pid}/task/{pid}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def _run(targets: list[bench.Target], pids: dict[str, int], requests: int, rounds: int) -> None:
    results = {t.name: bench.Samples() for t in targets}
    cpu = {name: [0, 0] for name in pids}
    for target in targets:
        await bench.batch(target, 300, 1, False, None)
    for index in range(rounds):
        for target in targets if index % 2 == 0 else targets[::-1]:
            pid = pids.get(target.name)
            before = (_ticks(pid, False), _ticks(pid, True)) if pid else (0, 0)
            await bench.batch(target, requests // rounds, 1, False, results[target.name])
            if pid:
                cpu[target.name][0] += _ticks(pid, False) - before[0]
                cpu[target.name][1] += _ticks(pid, True) - before[1]
    direct = bench.summarise(results["direct"])
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    for target in targets:
        s = bench.summarise(results[target.name])
        line = (f"{target.name:<28} p50 {s['p50_ms']:.3f}  p95 {s['p95_ms']:.3f}  p99 {s['p99_ms']:.3f} ms   added "
                f"{s['p50_ms'] - direct['p50_ms']:+.3f} / {s['p95_ms'] - direct['p95_ms']:+.3f} / "
                f"{s['p99_ms'] - direct['p99_ms']:+.3f}   errors {s['errors']}")
        if target.name in cpu:
            n = results[target.name].count
            line += (f"\n{'':<28} x-mesh-overhead-ms p50 {s.get('mesh_overhead_p50_ms', 0):.3f}, CPU per request: "
                     f"process {cpu[target.name][0] * tick_ms / n:.3f} ms, event-loop thread "
                     f"{cpu[target.name][1] * tick_ms / n:.3f} ms")
        for example in s.get("error_examples", []):
            line += f"\n{'':<28} error: {example}"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", help="comma-separated source directories (each becomes a mesh's PYTHONPATH)")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per target")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--policy-path", action="store_true", help="the full governed path (see overhead.py)")
    parser.add_argument("--unique-prompts", action="store_true", help="every request's prompt differs (see overhead.py)")
    args = parser.parse_args()
    bench.ACTIVE_PROMPT[0] = bench.POLICY_PROMPT if args.policy_path else bench.PROMPT
    bench.UNIQUE_PROMPTS[0] = args.unique_prompts
    workdir = Path(tempfile.mkdtemp(prefix="mesh-ab-"))
    children: list[bench.Child] = []
    try:
        upstream, direct_url = bench.start_fake(workdir, "upstream")
        children.append(upstream)
        targets = [bench.Target("direct", direct_url, bench.UPSTREAM_MODEL, "sk-bench-direct")]
        pids: dict[str, int] = {}
        for i, source in enumerate(args.sources.split(",")):
            mesh_dir = workdir / f"mesh{i}"
            mesh_dir.mkdir()
            os.environ["PYTHONPATH"] = str(Path(source).resolve())
            mesh, url, key = bench.start_mesh(mesh_dir, direct_url, args.policy_path)
            children.append(mesh)
            targets.append(bench.Target(f"mesh {i} ({source})", url, bench.ROUTE, key))
            pids[targets[-1].name] = mesh.proc.pid
        for target in targets:
            headers = {"authorization": f"Bearer {target.key}", "content-type": "application/json"}
            target.conns = [bench.RawConnection(target.base_url, headers)]
        asyncio.run(_run(targets, pids, args.requests, args.rounds))
        return 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
