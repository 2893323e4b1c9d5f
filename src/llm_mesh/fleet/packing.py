"""GPU and instance state shared by the heuristic and the exact solver.

A tensor-parallel copy (tp > 1) takes whole GPUs on one instance. A tp=1 copy may share
a GPU with other models' copies while memory, bandwidth load and every tenant's
latency allow. Sharing bandwidth-time, a tenant's decode step stretches to the larger of
step / (1 - load of the others) (mean-field sharing) and
(step + every other tenant's step) / (1 - the tenants' prefill share): the processes take
turns at the GPU, a continuously batching copy with any sequence running steps all the
time whatever its mean load, and a neighbour's prefill (compute-bound, hundreds of ms for
an 8B prompt on an A10G) stalls everyone's decode. That must stay within the tenant's
per-token goal. The second term came from the fleet simulator (simulate.py): with the
first alone a 1B model packed beside a busy 8B missed its 60 ms goal on 96% of its requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_mesh.fleet.catalogue import InstanceSpec

GIB = 2**30


@dataclass(frozen=True)
class CopyItem:
    model: str
    index: int  # copy number within the model
    spread: bool  # one of the first min_copies: must not share an instance with another spread copy
    tp: int
    memory_bytes: float
    utilisation: float
    step_s: float
    goal_s: float
    prefill_share: float = 0.0  # share of time the copy's GPUs spend prefilling its arrivals


@dataclass
class GpuState:
    memory_used: float = 0.0
    load: float = 0.0
    exclusive: bool = False
    tenants: list[CopyItem] = field(default_factory=list)

    def key(self) -> tuple:
        return (round(self.memory_used), round(self.load, 6), self.exclusive, tuple(sorted(t.model for t in self.tenants)))


@dataclass
class InstanceState:
    pool: str
    spec: InstanceSpec
    gpus: list[GpuState]

    def holds_spread_copy_of(self, model: str) -> bool:
        return any(t.model == model and t.spread for g in self.gpus for t in g.tenants)


def new_instance(pool: str, spec: InstanceSpec) -> InstanceState:
    return InstanceState(pool, spec, [GpuState() for _ in range(spec.gpus)])


def fits_shared(gpu: GpuState, item: CopyItem, capacity_bytes: float, max_load: float) -> bool:
    if gpu.exclusive or gpu.memory_used + item.memory_bytes > capacity_bytes:
        return False
    total = gpu.load + item.utilisation
    if total > max_load:
        return False
    tenants = (*gpu.tenants, item)
    return all(shared_step_s(tenant, tenants) <= tenant.goal_s for tenant in tenants)


def shared_step_s(tenant: CopyItem, tenants: tuple[CopyItem, ...] | list[CopyItem]) -> float:
    """A tenant's per-token time beside the others of ``tenants`` on one GPU (see the module docstring)."""
    others = [t for t in tenants if t is not tenant]
    if not others:
        return tenant.step_s
    mean_field = tenant.step_s / max(1e-9, 1 - sum(t.utilisation for t in others))
    prefill = sum(t.prefill_share for t in tenants)
    turns = (tenant.step_s + sum(t.step_s for t in others)) / max(1e-9, 1 - prefill)
    return max(mean_field, turns if prefill < 1 else float("inf"))


def gpu_choices(instance: InstanceState, item: CopyItem, headroom: float, max_load: float) -> list[tuple[int, ...]]:
    """GPU index sets on this instance where the copy fits (one per distinct GPU state)."""
    if item.spread and instance.holds_spread_copy_of(item.model):
        return []
    capacity = instance.spec.gpu_memory_gib * GIB * headroom
    if item.tp > 1:
        free = [i for i, g in enumerate(instance.gpus) if not g.tenants]
        return [tuple(free[: item.tp])] if len(free) >= item.tp else []
    seen, choices = set(), []
    for index, gpu in enumerate(instance.gpus):
        if gpu.key() in seen or not fits_shared(gpu, item, capacity, max_load):
            continue
        seen.add(gpu.key())
        choices.append((index,))
    return choices


def place(instance: InstanceState, item: CopyItem, gpus: tuple[int, ...]) -> None:
    for index in gpus:
        gpu = instance.gpus[index]
        gpu.tenants.append(item)
        if item.tp > 1:
            gpu.exclusive = True
            gpu.memory_used += item.memory_bytes / item.tp
            gpu.load = 1.0
        else:
            gpu.memory_used += item.memory_bytes
            gpu.load += item.utilisation


def unplace(instance: InstanceState, item: CopyItem, gpus: tuple[int, ...]) -> None:
    for index in gpus:
        gpu = instance.gpus[index]
        gpu.tenants.remove(item)
        if item.tp > 1:
            gpu.exclusive, gpu.memory_used, gpu.load = False, 0.0, 0.0
        else:
            gpu.memory_used -= item.memory_bytes
            gpu.load -= item.utilisation
