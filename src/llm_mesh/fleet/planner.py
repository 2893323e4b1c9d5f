"""The fleet planner: which model copies go on which GPUs, at least cost per hour.

Steps (all pure, no I/O beyond reading the catalogue):
1. Resolve each pool to an instance spec (catalogue figures, pool overrides on top).
2. For every model and pool, the copy shape (throughput.shape_on): TP degree, copies
   the traffic needs within the latency goal, memory and bandwidth load per copy.
3. Choose a pool per model and bin-pack the copies: first-fit-decreasing order
   (TP degree, then memory, largest first), best fit (the GPU left fullest), a new
   instance only when no open one has room. Pool choices tried: each model on its
   cheapest pool per copy, and every model on each single pool; the cheapest plan wins.
The exact solver (exact.py) searches the same space exhaustively for small cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from llm_mesh.fleet.catalogue import Catalogue, InstanceSpec, load_catalogue
from llm_mesh.fleet.config import FleetPool, FleetSection, TrafficEntry
from llm_mesh.fleet.packing import CopyItem, InstanceState, gpu_choices, new_instance, place
from llm_mesh.fleet.throughput import CopyShape, shape_on

Profile = dict[str, TrafficEntry]


class PlanError(ValueError):
    """The fleet cannot be planned (no pool fits a model, or pools are too small)."""


@dataclass(frozen=True)
class Placement:
    model: str
    copy: int
    pool: str
    instance: int  # index within the pool
    gpus: tuple[int, ...]
    reason: str


@dataclass
class Plan:
    placements: list[Placement]
    instances: dict[str, int]  # pool -> instance count
    cost_per_hour: float
    shapes: dict[str, tuple[str, CopyShape]]  # model -> (pool, shape)
    notes: list[str] = field(default_factory=list)


def resolve_pool(pool: FleetPool, catalogue: Catalogue) -> InstanceSpec:
    base = catalogue.instances.get(pool.instance_type)
    figures = {k: getattr(pool, k) for k in ("gpus", "gpu_memory_gib", "bandwidth_gb_s", "fp16_tflops", "price_per_hour")}
    if base is None:
        missing = [k for k, v in figures.items() if v is None]
        if missing:
            raise PlanError(f"instance type {pool.instance_type!r} is not in the catalogue; give {', '.join(missing)}")
        return InstanceSpec(pool.instance_type, "custom", **figures)  # type: ignore[arg-type]
    overrides = {k: v for k, v in figures.items() if v is not None}
    return InstanceSpec(**{**base.__dict__, **overrides})


def resolve_pools(fleet: FleetSection) -> dict[str, InstanceSpec]:
    catalogue = load_catalogue(fleet.catalogue)
    return {name: resolve_pool(pool, catalogue) for name, pool in fleet.pools.items()}


def traffic_for(fleet: FleetSection, profile: Profile | None, model: str) -> TrafficEntry:
    source = profile if profile is not None else fleet.traffic
    return source.get(model, TrafficEntry())


def model_shapes(fleet: FleetSection, profile: Profile | None, specs: dict[str, InstanceSpec]) -> dict[str, dict[str, CopyShape]]:
    """model -> pool -> shape, only the pools where the model can run within its goals."""
    shapes: dict[str, dict[str, CopyShape]] = {}
    for name, model in fleet.models.items():
        traffic = traffic_for(fleet, profile, name)
        options = {pool: s for pool, spec in specs.items() if (s := shape_on(model, traffic, spec, fleet)) is not None}
        if not options:
            raise PlanError(f"fleet.models.{name}: no pool fits it within memory and its latency goal")
        shapes[name] = options
    return shapes


def copy_items(fleet: FleetSection, name: str, shape: CopyShape) -> list[CopyItem]:
    model = fleet.models[name]
    return [CopyItem(name, i, i < model.min_copies, shape.tp, shape.memory_bytes, shape.utilisation, shape.step_s,
                     model.latency.per_token_p95_ms / 1000, shape.prefill_share) for i in range(shape.copies)]


def cheapest_pool(options: dict[str, CopyShape], specs: dict[str, InstanceSpec]) -> str:
    return min(options, key=lambda p: (options[p].copies * options[p].tp * specs[p].price_per_gpu_hour, p))


def pool_choices(shapes: dict[str, dict[str, CopyShape]], specs: dict[str, InstanceSpec]) -> list[dict[str, str]]:
    """Starting points for the local search: each model on its cheapest pool per copy; everything on
    one pool; and every split with the multi-GPU (tp > 1 somewhere) models on one pool, the rest on another."""
    choices = [{m: cheapest_pool(o, specs) for m, o in shapes.items()}]
    for pool in specs:
        if all(pool in options for options in shapes.values()):
            choices.append({m: pool for m in shapes})
    large = {m for m, options in shapes.items() if any(shape.tp > 1 for shape in options.values())}
    for big_pool in specs:
        for small_pool in specs:
            split = {m: big_pool if m in large else small_pool for m in shapes}
            if big_pool != small_pool and all(split[m] in shapes[m] for m in shapes):
                choices.append(split)
    return choices


def _decreasing(items: list[CopyItem]) -> list[CopyItem]:
    return sorted(items, key=lambda i: (-i.tp, -i.memory_bytes, i.model, i.index))


def pack_heuristic(items: list[CopyItem], pool: str, spec: InstanceSpec, fleet: FleetSection) -> list[tuple[CopyItem, int, tuple[int, ...], str]] | None:
    """First-fit-decreasing with best fit, then a balanced repacking into fewer instances if one
    exists (best fit can strand the spread copies); None when max_instances is too few."""
    packed = _best_fit(items, pool, spec, fleet)
    if packed is None:
        return None
    used = 1 + max((instance for _, instance, _, _ in packed), default=-1)
    floor = max(1, math.ceil(gpus_needed_lower_bound(items, spec, fleet) / spec.gpus))
    for count in range(floor, used):
        balanced = _balanced(items, pool, spec, fleet, count)
        if balanced is not None:
            return balanced
    return packed


def _best_fit(items, pool, spec, fleet):  # type: ignore[no-untyped-def]
    instances: list[InstanceState] = []
    result = []
    for item in _decreasing(items):
        best = None
        for index, instance in enumerate(instances):
            for gpus in gpu_choices(instance, item, fleet.memory_headroom, fleet.max_gpu_utilisation):
                left = sum(instance.gpus[g].memory_used for g in gpus)
                if best is None or left > best[0]:
                    best = (left, index, gpus)
        if best is None:
            if len(instances) >= fleet.pools[pool].max_instances:
                return None
            instances.append(new_instance(pool, spec))
            fresh = gpu_choices(instances[-1], item, fleet.memory_headroom, fleet.max_gpu_utilisation)
            if not fresh:
                return None
            best = (0.0, len(instances) - 1, fresh[0])
            apart = " (kept apart from its other copies for availability)" if item.spread and item.index else ""
            why = f"opened {pool} instance {len(instances) - 1}: no open instance had room{apart}"
        else:
            tenants = sorted({t.model for g in best[2] for t in instances[best[1]].gpus[g].tenants})
            why = f"best fit beside {', '.join(tenants)}" if tenants else "best fit on a free GPU of an open instance"
        place(instances[best[1]], item, best[2])
        result.append((item, best[1], best[2], why))
    return result


def _balanced(items, pool, spec, fleet, count: int):  # type: ignore[no-untyped-def]
    """Worst fit into ``count`` open instances: each copy on the emptiest instance, then GPU, where it fits."""
    instances = [new_instance(pool, spec) for _ in range(count)]
    result = []
    for item in _decreasing(items):
        options = [(sum(1 for g in inst.gpus if g.tenants), sum(inst.gpus[g].memory_used for g in gpus), index, gpus)
                   for index, inst in enumerate(instances)
                   for gpus in gpu_choices(inst, item, fleet.memory_headroom, fleet.max_gpu_utilisation)]
        if not options:
            return None
        _, _, index, gpus = min(options)
        tenants = sorted({t.model for g in gpus for t in instances[index].gpus[g].tenants})
        why = (f"balanced over {count} {pool} instances: beside {', '.join(tenants)}" if tenants
               else f"balanced over {count} {pool} instances: emptiest GPU")
        place(instances[index], item, gpus)
        result.append((item, index, gpus, why))
    return result


def plan_fleet(fleet: FleetSection, profile: Profile | None = None) -> Plan:
    specs = resolve_pools(fleet)
    shapes = model_shapes(fleet, profile, specs)
    best: Plan | None = None
    for choice in pool_choices(shapes, specs):
        candidate = build_plan(fleet, specs, shapes, choice, pack_heuristic)
        if candidate is None:
            continue
        candidate = improve(fleet, specs, shapes, candidate)
        if best is None or candidate.cost_per_hour < best.cost_per_hour - 1e-9:
            best = candidate
    if best is None:
        raise PlanError("the pools' max_instances are too few for the copies the traffic needs")
    return best


def improve(fleet: FleetSection, specs: dict[str, InstanceSpec], shapes: dict[str, dict[str, CopyShape]], plan: Plan) -> Plan:
    """Local search: move one model, or all the models sharing one instance, to another pool
    (e.g. onto the spare GPUs of an instance a large model already needs) while that lowers the cost."""
    while True:
        candidate = _first_cheaper_move(fleet, specs, shapes, plan)
        if candidate is None:
            return plan
        plan = candidate


def _first_cheaper_move(fleet, specs, shapes, plan):  # type: ignore[no-untyped-def]
    choice = {m: pool for m, (pool, _) in plan.shapes.items()}
    groups = [frozenset({m}) for m in shapes]
    by_instance: dict[tuple[str, int], set[str]] = {}
    for placement in plan.placements:
        by_instance.setdefault((placement.pool, placement.instance), set()).add(placement.model)
    groups.extend(frozenset(g) for g in by_instance.values() if len(g) > 1)
    groups.extend(frozenset(m for m in choice if choice[m] == pool) for pool in specs)
    for group in groups:
        for pool in specs:
            if not group or all(choice[m] == pool for m in group) or not all(pool in shapes[m] for m in group):
                continue
            candidate = build_plan(fleet, specs, shapes, {**choice, **{m: pool for m in group}}, pack_heuristic)
            if candidate is not None and candidate.cost_per_hour < plan.cost_per_hour - 1e-9:
                return candidate
    return None


def build_plan(fleet: FleetSection, specs: dict[str, InstanceSpec], shapes: dict[str, dict[str, CopyShape]],
               choice: dict[str, str], packer) -> Plan | None:  # type: ignore[no-untyped-def]
    placements: list[Placement] = []
    counts: dict[str, int] = {}
    for pool, spec in specs.items():
        items = [item for m, p in choice.items() if p == pool for item in copy_items(fleet, m, shapes[m][p])]
        packed = packer(items, pool, spec, fleet)
        if packed is None:
            return None
        used = 1 + max((instance for _, instance, _, _ in packed), default=-1)
        counts[pool] = max(used, fleet.pools[pool].min_instances)
        for item, instance, gpus, why in packed:
            shape = shapes[item.model][pool]
            placements.append(Placement(item.model, item.index, pool, instance, gpus, f"{why}; {shape.why}"))
    notes = [f"{m}: no traffic and scale_to_zero, so no copies (wakes on demand)"
             for m, model in fleet.models.items() if model.scale_to_zero and shapes[m][choice[m]].copies == 0]
    cost = sum(counts[p] * specs[p].price_per_hour for p in counts)
    return Plan(sorted(placements, key=lambda p: (p.model, p.copy)), counts, round(cost, 4),
                {m: (choice[m], shapes[m][choice[m]]) for m in choice}, notes)


def dedicated_choice(fleet: FleetSection, profile: Profile | None = None,
                     specs: dict[str, InstanceSpec] | None = None) -> dict[str, tuple[str, CopyShape, int]]:
    """One endpoint per model, one copy per instance, each model on its cheapest pool: model ->
    (pool, shape, instances). A dedicated endpoint cannot scale to zero, so at least one."""
    specs = specs or resolve_pools(fleet)
    choice = {}
    for model, options in model_shapes(fleet, profile, specs).items():
        pool = min(options, key=lambda p: (max(options[p].copies, 1) * specs[p].price_per_hour, p))
        choice[model] = (pool, options[pool], max(options[pool].copies, 1))
    return choice


def dedicated_baseline(fleet: FleetSection, profile: Profile | None = None) -> tuple[float, dict[str, str]]:
    """The cost of dedicated_choice, and what each model gets."""
    specs = resolve_pools(fleet)
    total, detail = 0.0, {}
    for model, (pool, _, copies) in dedicated_choice(fleet, profile, specs).items():
        total += copies * specs[pool].price_per_hour
        detail[model] = f"{copies} x {specs[pool].instance_type} (${specs[pool].price_per_hour:.2f}/h each)"
    return round(total, 4), detail


def gpus_needed_lower_bound(items: list[CopyItem], spec: InstanceSpec, fleet: FleetSection) -> int:
    capacity = spec.gpu_memory_gib * 2**30 * fleet.memory_headroom
    whole = sum(i.tp for i in items if i.tp > 1)
    shared = [i for i in items if i.tp == 1]
    by_memory = sum(i.memory_bytes for i in shared) / capacity
    by_load = sum(i.utilisation for i in shared) / fleet.max_gpu_utilisation
    return whole + math.ceil(max(by_memory, by_load) - 1e-9)
