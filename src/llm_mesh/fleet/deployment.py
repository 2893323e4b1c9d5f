"""What the simulator runs: model copies on GPU groups, built from a packed plan or from
one dedicated endpoint per model.

A copy runs on an *executor*: the GPUs it uses. A tensor-parallel copy (tp > 1) has its
GPUs to itself; tp = 1 copies that the plan put on the same GPU share that executor
and take turns at it (their decode steps are serialised, the bandwidth-time sharing
the planner approximates with mean loads). Each copy's KV budget is the memory the plan
gave it plus an even share of what its GPU has left over (how one would set vLLM's
``gpu_memory_utilization`` per process); a dedicated copy has its GPUs' usable memory.

Three deployments: the packed plan as planned (GPU sharing, as a multi-model container or
MPS would run it); the same plan as SageMaker inference components, which take whole GPUs
(each copy on GPUs of its own, instances raised to ``whole_gpu_instances``); and one
dedicated endpoint per model.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_mesh.fleet.catalogue import InstanceSpec
from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deploy import whole_gpu_instances
from llm_mesh.fleet.planner import Plan, Profile, dedicated_choice, resolve_pools
from llm_mesh.fleet.throughput import GIB


@dataclass(frozen=True)
class SimCopy:
    model: str
    copy: int
    executor: tuple  # the GPUs it runs on: (pool or endpoint, instance, gpu indexes)
    tp: int
    spec: InstanceSpec
    memory_bytes: float  # weights + KV budget


@dataclass(frozen=True)
class Deployment:
    name: str
    cost_per_hour: float
    instances: dict[str, int]  # instance type -> count
    copies: list[SimCopy]


def packed_deployment(plan: Plan, fleet: FleetSection) -> Deployment:
    specs = resolve_pools(fleet)
    tenants: dict[tuple, list] = {}
    for placement in plan.placements:
        tenants.setdefault((placement.pool, placement.instance, placement.gpus), []).append(placement)
    copies = []
    for (pool, instance, gpus), group in tenants.items():
        spec = specs[pool]
        usable = len(gpus) * spec.gpu_memory_gib * GIB * fleet.memory_headroom
        planned = [plan.shapes[p.model][1].memory_bytes for p in group]
        spare = max(0.0, usable - sum(planned)) / len(group)
        for placement, memory in zip(group, planned):
            tp = plan.shapes[placement.model][1].tp
            budget = usable if tp > 1 else memory + spare
            copies.append(SimCopy(placement.model, placement.copy, (pool, instance, gpus), tp, spec, budget))
    counts: dict[str, int] = {}
    for pool, count in plan.instances.items():
        if count:
            counts[specs[pool].instance_type] = counts.get(specs[pool].instance_type, 0) + count
    return Deployment("packed plan", plan.cost_per_hour, counts, sorted(copies, key=lambda c: (c.model, c.copy)))


def dedicated_deployment(fleet: FleetSection, profile: Profile | None = None) -> Deployment:
    """One endpoint per model on its cheapest pool, one copy per instance (dedicated_baseline's choice)."""
    specs = resolve_pools(fleet)
    copies, counts, cost = [], {}, 0.0
    for model, (pool, shape, count) in dedicated_choice(fleet, profile, specs).items():
        spec = specs[pool]
        usable = shape.tp * spec.gpu_memory_gib * GIB * fleet.memory_headroom
        for index in range(count):
            copies.append(SimCopy(model, index, (f"endpoint-{model}", index, tuple(range(shape.tp))), shape.tp,
                                  spec, usable))
        counts[spec.instance_type] = counts.get(spec.instance_type, 0) + count
        cost += count * spec.price_per_hour
    return Deployment("one endpoint per model", round(cost, 4), counts, copies)


def component_deployment(plan: Plan, fleet: FleetSection) -> Deployment:
    """The plan as inference components: every copy on whole GPUs of its own, on the pool the plan chose."""
    specs = resolve_pools(fleet)
    copies, counts, cost = [], {}, 0.0
    for pool, spec in specs.items():
        count = max(plan.instances.get(pool, 0), whole_gpu_instances(plan, fleet, pool))
        if count:
            counts[spec.instance_type] = counts.get(spec.instance_type, 0) + count
            cost += count * spec.price_per_hour
    for model, (pool, shape) in plan.shapes.items():
        spec = specs[pool]
        usable = shape.tp * spec.gpu_memory_gib * GIB * fleet.memory_headroom
        for index in range(shape.copies):
            copies.append(SimCopy(model, index, (f"component-{model}", index, tuple(range(shape.tp))), shape.tp,
                                  spec, usable))
    return Deployment("plan as inference components", round(cost, 4), counts, copies)
