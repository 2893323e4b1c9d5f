"""Fleet planner: heuristic cost vs the exact optimum, and the saving vs one endpoint per model.

    PYTHONPATH=src .venv/bin/python bench/fleet.py [--cases 300] [--max-models 6] [--json FILE]

On seeded random small fleets (llm_mesh.fleet.cases: 1-3 GPU pools, 2..max-models models
from 1B to 70B with random traffic and goals) it plans each with the heuristic
(plan_fleet) and the exhaustive solver (plan_exact) and prints the cost gap
distribution, the saving of the packed plan over the dedicated baseline, and timings.
Cases where some model fits no pool within its goals are counted and skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from llm_mesh.fleet.cases import random_fleet
from llm_mesh.fleet.exact import plan_exact
from llm_mesh.fleet.planner import PlanError, dedicated_baseline, plan_fleet


def run(cases: int, max_models: int) -> dict:
    gaps, savings, heuristic_s, exact_s, skipped = [], [], [], [], 0
    for seed in range(cases):
        fleet = random_fleet(seed, models=(2, max_models))
        try:
            start = time.perf_counter()
            heuristic = plan_fleet(fleet)
            heuristic_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            exact = plan_exact(fleet)
            exact_s.append(time.perf_counter() - start)
        except PlanError:
            skipped += 1
            continue
        baseline, _ = dedicated_baseline(fleet)
        if exact.cost_per_hour:
            gaps.append(100 * (heuristic.cost_per_hour - exact.cost_per_hour) / exact.cost_per_hour)
        if baseline:
            savings.append(100 * (baseline - heuristic.cost_per_hour) / baseline)
    return {
        "cases": cases, "planned": len(gaps), "skipped_unplaceable": skipped,
        "gap_percent": {"mean": round(statistics.fmean(gaps), 2), "p95": round(_quantile(gaps, 0.95), 2),
                        "max": round(max(gaps), 2), "optimal_share": round(sum(g < 1e-6 for g in gaps) / len(gaps), 3)},
        "saving_vs_dedicated_percent": {"mean": round(statistics.fmean(savings), 1),
                                        "median": round(statistics.median(savings), 1), "max": round(max(savings), 1)},
        "heuristic_ms": {"p50": round(1000 * statistics.median(heuristic_s), 2), "max": round(1000 * max(heuristic_s), 2)},
        "exact_ms": {"p50": round(1000 * statistics.median(exact_s), 2), "max": round(1000 * max(exact_s), 2)},
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--max-models", type=int, default=6)
    parser.add_argument("--json", dest="json_file", default=None)
    args = parser.parse_args()
    result = run(args.cases, args.max_models)
    print(json.dumps(result, indent=2))
    if args.json_file:
        with open(args.json_file, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
