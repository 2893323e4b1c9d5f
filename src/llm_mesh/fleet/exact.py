"""Exact solver for small fleets: exhaustive search over the planner's own problem.

Same copy shapes, constraints and cost as the heuristic (planner.py), but every pool
choice per model is tried, and each pool's copies are packed by depth-first search
over every distinct (instance, GPU) position, pruned by a lower bound on the instance
count. Exponential: meant for the tests and bench/fleet.py (a handful of models and
up to ~12 copies), to measure how far the heuristic is from the optimum.
"""

from __future__ import annotations

import itertools
import math

from llm_mesh.fleet.catalogue import InstanceSpec
from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.packing import CopyItem, InstanceState, gpu_choices, new_instance, place, unplace
from llm_mesh.fleet.planner import (
    Plan,
    PlanError,
    Profile,
    build_plan,
    gpus_needed_lower_bound,
    model_shapes,
    resolve_pools,
)

MAX_CHOICES = 4096


def pack_exact(items: list[CopyItem], pool: str, spec: InstanceSpec, fleet: FleetSection):  # type: ignore[no-untyped-def]
    """Fewest instances of this pool holding all the copies; None if over max_instances."""
    order = sorted(items, key=lambda i: (-i.tp, -i.memory_bytes, i.model, i.index))
    limit = fleet.pools[pool].max_instances
    floor = math.ceil(gpus_needed_lower_bound(order, spec, fleet) / spec.gpus)
    best: dict[str, object] = {"count": limit + 1, "layout": None}
    instances: list[InstanceState] = []
    layout: list[tuple[CopyItem, int, tuple[int, ...], str]] = []

    def search(position: int) -> None:
        if len(instances) >= best["count"]:  # type: ignore[operator]
            return
        if position == len(order):
            best["count"], best["layout"] = len(instances), list(layout)
            return
        item = order[position]
        for index, instance in enumerate(instances):
            for gpus in gpu_choices(instance, item, fleet.memory_headroom, fleet.max_gpu_utilisation):
                place(instance, item, gpus)
                layout.append((item, index, gpus, "exact search"))
                search(position + 1)
                layout.pop()
                unplace(instance, item, gpus)
                if best["count"] == max(floor, 1):
                    return
        if len(instances) + 1 < best["count"]:  # type: ignore[operator]
            instances.append(new_instance(pool, spec))
            gpus = gpu_choices(instances[-1], item, fleet.memory_headroom, fleet.max_gpu_utilisation)
            if gpus:
                place(instances[-1], item, gpus[0])
                layout.append((item, len(instances) - 1, gpus[0], "exact search"))
                search(position + 1)
                layout.pop()
                unplace(instances[-1], item, gpus[0])
            instances.pop()

    if not order:
        return []
    search(0)
    return best["layout"]


def plan_exact(fleet: FleetSection, profile: Profile | None = None) -> Plan:
    specs = resolve_pools(fleet)
    shapes = model_shapes(fleet, profile, specs)
    names = list(shapes)
    combos = list(itertools.islice(itertools.product(*(sorted(shapes[m]) for m in names)), MAX_CHOICES + 1))
    if len(combos) > MAX_CHOICES:
        raise PlanError(f"too many pool choices for the exact solver (> {MAX_CHOICES}); use the heuristic")
    best: Plan | None = None
    for combo in combos:
        candidate = build_plan(fleet, specs, shapes, dict(zip(names, combo)), pack_exact)
        if candidate is not None and (best is None or candidate.cost_per_hour < best.cost_per_hour - 1e-9):
            best = candidate
    if best is None:
        raise PlanError("no feasible plan within the pools' max_instances")
    return best
