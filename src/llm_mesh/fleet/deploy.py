"""A plan as the input the SageMaker deploy needs: one endpoint per used pool, one inference
component per model with its copy count and compute resource requirements.

Field names follow AWS::SageMaker::InferenceComponent (ComputeResourceRequirements,
RuntimeConfig.CopyCount). With ``fleet.deploy: true`` the CDK app builds exactly this
document (infra/components/fleet.py): endpoint ``<endpoint_prefix>-<pool>``, inference
component ``<endpoint_prefix>-<model>``. SageMaker places the copies itself; the plan's
GPU-level placement is the planner's evidence that they fit, not an instruction SageMaker takes.

Caveat: an inference component asks for at least one whole accelerator, so models the plan
packs onto one GPU cannot share it as separate components; they are listed under
``shared_gpus`` (serve them from one multi-model container, or on EC2/EKS with MIG or MPS),
and an endpoint's ``initial_instance_count`` is raised, where needed, to the instances the
components' whole GPUs take (first-fit decreasing; ``whole_gpu_instances`` says how many).
``min_memory_required_in_mb`` is host memory: the weights size, since the container stages
the weights through host RAM.
"""

from __future__ import annotations

import math

from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.planner import Plan, resolve_pools
from llm_mesh.fleet.throughput import weights_bytes

MB = 2**20


def endpoint_name(fleet: FleetSection, pool: str) -> str:
    return f"{fleet.endpoint_prefix}-{pool}"


def component_name(fleet: FleetSection, model: str) -> str:
    return f"{fleet.endpoint_prefix}-{model}"


def whole_gpu_instances(plan: Plan, fleet: FleetSection, pool: str) -> int:
    """Instances of ``pool`` that hold every copy placed there with whole GPUs per copy
    (first-fit decreasing by tensor-parallel degree)."""
    gpus = resolve_pools(fleet)[pool].gpus
    sizes = sorted((shape.tp for p, shape in plan.shapes.values() if p == pool for _ in range(shape.copies)), reverse=True)
    free: list[int] = []
    for size in sizes:
        slot = next((i for i, left in enumerate(free) if left >= size), None)
        if slot is None:
            free.append(gpus)
            slot = len(free) - 1
        free[slot] -= size
    return len(free)


def deploy_document(plan: Plan, fleet: FleetSection) -> dict:
    endpoints: dict[str, dict] = {}
    for pool in fleet.pools:
        planned = plan.instances.get(pool, 0)
        hosted = [m for m, (p, _) in plan.shapes.items() if p == pool]
        if not planned and not hosted:
            continue
        whole = whole_gpu_instances(plan, fleet, pool)
        count = max(planned, whole)
        endpoints[pool] = {"endpoint_name": endpoint_name(fleet, pool), "instance_type": fleet.pools[pool].instance_type,
                           "planned_instance_count": planned, "whole_gpu_instances": whole,
                           "initial_instance_count": max(count, 1),
                           "min_instance_count": 0 if _all_scale_to_zero(plan, fleet, pool) else count,
                           "max_instance_count": max(fleet.pools[pool].max_instances, count, 1),
                           "inference_components": {}}
    for name, (pool, shape) in plan.shapes.items():
        endpoints[pool]["inference_components"][name] = _component(plan, fleet, name)
    return {"endpoints": endpoints, "shared_gpus": _shared_gpus(plan)}


def _component(plan: Plan, fleet: FleetSection, name: str) -> dict:
    model, (_, shape) = fleet.models[name], plan.shapes[name]
    traffic = fleet.traffic.get(name)
    per_copy_per_minute = 60 * (traffic.requests_per_s if traffic else 0.0) / max(shape.copies, 1)
    return {
        "inference_component_name": component_name(fleet, name),
        "container": model.container,
        "compute_resource_requirements": {
            "number_of_accelerator_devices_required": shape.tp,
            "min_memory_required_in_mb": max(1024, math.ceil(weights_bytes(model) / MB)),
        },
        "runtime_config": {"copy_count": shape.copies},
        "autoscaling": {"min_copies": 0 if model.scale_to_zero else max(1, model.min_copies),
                        "max_copies": max(shape.copies, 1) * 2,
                        "target_invocations_per_copy": max(1, round(per_copy_per_minute))},
    }


def _shared_gpus(plan: Plan) -> list[list[str]]:
    tenants: dict[tuple, set[str]] = {}
    for placement in plan.placements:
        for gpu in placement.gpus:
            tenants.setdefault((placement.pool, placement.instance, gpu), set()).add(placement.model)
    return sorted({tuple(sorted(models)) for models in tenants.values() if len(models) > 1})  # type: ignore[arg-type]


def _all_scale_to_zero(plan: Plan, fleet: FleetSection, pool: str) -> bool:
    hosted = [m for m, (p, _) in plan.shapes.items() if p == pool]
    return bool(hosted) and all(fleet.models[m].scale_to_zero for m in hosted)
