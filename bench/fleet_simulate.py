"""Fleet simulator: replay a request trace against the packed plan and one endpoint per model.

    PYTHONPATH=src .venv/bin/python bench/fleet_simulate.py [--config bench/traces/fleet-small.yaml]
        [--trace bench/traces/fleet-small.csv | --seed N [--duration S]] [--json FILE] [--regenerate]

Plans the config's fleet: section (plan_fleet), builds the dedicated baseline
(dedicated_baseline's choice: each model on its cheapest pool, one copy per instance),
replays the trace through llm_mesh.fleet.simulate against both, and against the plan as
SageMaker inference components (whole GPUs per copy), and prints cost per hour and goal
attainment (share of requests within their model's TTFT and per-token goals) side by
side, with per-model p95s. ``--seed`` draws a fresh synthetic trace from the
config's traffic instead of reading the shipped one; ``--regenerate`` rewrites the
shipped trace (seed 7, 600 s).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deployment import component_deployment, dedicated_deployment, packed_deployment
from llm_mesh.fleet.planner import plan_fleet
from llm_mesh.fleet.simulate import SimulationResult, simulate
from llm_mesh.fleet.trace import read_trace, synthetic_trace, trace_csv

HERE = Path(__file__).parent / "traces"
SHIPPED_SEED, SHIPPED_DURATION_S = 7, 600.0


def load_fleet(path: str | Path) -> FleetSection:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return FleetSection.model_validate(raw["fleet"])


def run(fleet: FleetSection, trace) -> list[SimulationResult]:  # type: ignore[no-untyped-def]
    plan = plan_fleet(fleet)
    deployments = (packed_deployment(plan, fleet), component_deployment(plan, fleet), dedicated_deployment(fleet))
    return [simulate(deployment, fleet, trace) for deployment in deployments]


def table(results: list[SimulationResult]) -> str:
    rows = [("", *(r.name for r in results)),
            ("cost per hour", *(f"${r.cost_per_hour:.2f}" for r in results)),
            ("instances", *(_instances(r) for r in results)),
            ("goal attainment", *(f"{100 * r.goal_attainment:.2f}% ({r.met}/{r.requests})" for r in results))]
    for name in results[0].models:
        rows.append((f"  {name}", *(_model(r.models[name]) for r in results)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _instances(result: SimulationResult) -> str:
    return ", ".join(f"{count} x {kind}" for kind, count in sorted(result.instances.items()))


def _model(result) -> str:  # type: ignore[no-untyped-def]
    return (f"{result.met}/{result.requests} met, p95 TTFT {result.ttft_p95_ms:.0f} ms, "
            f"per-token {result.per_token_p95_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "fleet-small.yaml"))
    parser.add_argument("--trace", default=str(HERE / "fleet-small.csv"))
    parser.add_argument("--seed", type=int, default=None, help="draw a synthetic trace with this seed instead")
    parser.add_argument("--duration", type=float, default=SHIPPED_DURATION_S)
    parser.add_argument("--json", dest="json_file", default=None)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the shipped trace from the config")
    args = parser.parse_args()
    fleet = load_fleet(args.config)
    if args.regenerate:
        Path(args.trace).write_text(trace_csv(synthetic_trace(fleet, SHIPPED_DURATION_S, SHIPPED_SEED)), encoding="utf-8")
    trace = synthetic_trace(fleet, args.duration, args.seed) if args.seed is not None else read_trace(args.trace)
    results = run(fleet, trace)
    print(f"{len(trace)} requests over {max((r.arrival_s for r in trace), default=0):.0f} s")
    print(table(results))
    if args.json_file:
        with open(args.json_file, "w", encoding="utf-8") as out:
            json.dump([{**r.__dict__, "goal_attainment": r.goal_attainment,
                        "models": {m: v.__dict__ for m, v in r.models.items()}} for r in results], out, indent=2)


if __name__ == "__main__":
    main()
