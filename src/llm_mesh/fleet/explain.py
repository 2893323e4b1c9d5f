"""A plan as text or JSON: placements with their reasons, and the saving against one
dedicated endpoint per model."""

from __future__ import annotations

from llm_mesh.fleet.planner import Plan


def plan_document(plan: Plan, baseline_cost: float, baseline_detail: dict[str, str], as_of: str) -> dict:
    saving = baseline_cost - plan.cost_per_hour
    return {
        "prices_as_of": as_of,
        "cost_per_hour": plan.cost_per_hour,
        "instances": plan.instances,
        "dedicated_baseline": {"cost_per_hour": baseline_cost, "models": baseline_detail},
        "saving_per_hour": round(saving, 4),
        "saving_percent": round(100 * saving / baseline_cost, 1) if baseline_cost else 0.0,
        "models": {m: {"pool": pool, "tp": s.tp, "copies": s.copies, "capacity_per_copy": s.capacity,
                       "expected_concurrency": round(s.concurrency, 2), "per_token_ms": round(s.step_s * 1000, 2),
                       "ttft_ms": round(s.ttft_s * 1000, 1)}
                   for m, (pool, s) in plan.shapes.items()},
        "placements": [{"model": p.model, "copy": p.copy, "pool": p.pool, "instance": p.instance,
                        "gpus": list(p.gpus), "reason": p.reason} for p in plan.placements],
        "notes": plan.notes,
    }


def plan_text(document: dict) -> str:
    lines = [f"Fleet plan: ${document['cost_per_hour']:.2f}/h  (prices as of {document['prices_as_of']})"]
    lines.append("  instances: " + (", ".join(f"{pool} x{n}" for pool, n in document["instances"].items() if n) or "(none)"))
    for placement in document["placements"]:
        gpus = ",".join(str(g) for g in placement["gpus"])
        lines.append(f"  {placement['model']}#{placement['copy']} -> {placement['pool']}[{placement['instance']}] "
                     f"GPU {gpus}: {placement['reason']}")
    lines.extend(f"  note: {note}" for note in document["notes"])
    baseline = document["dedicated_baseline"]
    lines.append(f"Dedicated baseline (one endpoint per model): ${baseline['cost_per_hour']:.2f}/h")
    lines.extend(f"  {model}: {detail}" for model, detail in baseline["models"].items())
    lines.append(f"Saving: ${document['saving_per_hour']:.2f}/h ({document['saving_percent']}%)")
    return "\n".join(lines)
