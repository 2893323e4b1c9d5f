"""Memory and speed of one model copy on one GPU type: the planner's performance model.

Memory (per copy)
    weights  = parameters x bytes per parameter (or ``weights_gb``)
    KV cache = 2 (K and V) x layers x kv_heads x head_dim x kv_bytes x tokens held,
    with tokens held = concurrent sequences x (prompt + completion tokens). KV is fp16
    (2 bytes) whatever the weight dtype, the default of TGI and vLLM.
    Layers / KV heads / head dim, when the config does not give them, come from the
    nearest published Llama-family shape by parameter count (GQA with 8 KV heads from
    Llama 3 on; 13B is Llama 2 with full multi-head attention): a documented guess.

Decode speed (memory bound: the roofline argument)
    One decode step reads every weight once (shared by the batch) plus each
    sequence's KV cache. At batch sizes far below the GPU's FLOP/byte ridge point
    (~100-300 for A10G..H100) that read, not arithmetic, sets the step time:
        step_s(batch) = (weights + batch x ctx x kv_per_token) / (tp x bandwidth x efficiency)
    The per-token latency of every sequence is step_s; a copy's tokens/s = batch / step_s.
    Sources: Williams, Waterman, Patterson, "Roofline" (CACM 2009); Pope et al.,
    "Efficiently Scaling Transformer Inference" (MLSys 2023); Chen, "Transformer
    Inference Arithmetic" (kipp.ly, 2022). ``bandwidth_efficiency`` (default 0.6) is the
    achieved share of peak bandwidth seen in TGI/vLLM benchmarks.

Prefill (compute bound)
    prefill_s = 2 x parameters x prompt tokens / (tp x peak FLOP/s x compute_efficiency);
    TTFT ~ prefill_s + one decode step (a new request waits for the step in flight).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_mesh.fleet.catalogue import InstanceSpec
from llm_mesh.fleet.config import FleetModel, FleetSection, TrafficEntry

GB = 1e9
GIB = 2**30
KV_BYTES = 2  # fp16 KV cache
MAX_BATCH = 256  # continuous-batching servers cap running sequences near here (vLLM max_num_seqs default)

BYTES_PER_PARAM = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "awq": 0.5, "gptq": 0.5}

# (billions of parameters, layers, kv_heads, head_dim): Llama 3.2 1B/3B, Llama 3.1 8B,
# Llama 2 13B, Code Llama 34B, Llama 3.1 70B and 405B.
REFERENCE_SHAPES = ((1.2, 16, 8, 64), (3.2, 28, 8, 128), (8.0, 32, 8, 128), (13.0, 40, 40, 128),
                    (34.0, 48, 8, 128), (70.0, 80, 8, 128), (405.0, 126, 8, 128))


def parameters(model: FleetModel) -> float:
    """Parameter count (not billions)."""
    if model.parameters_b is not None:
        return model.parameters_b * 1e9
    return (model.weights_gb or 0) * GB / BYTES_PER_PARAM[model.dtype]


def weights_bytes(model: FleetModel) -> float:
    if model.weights_gb is not None:
        return model.weights_gb * GB
    return parameters(model) * BYTES_PER_PARAM[model.dtype]


def architecture(model: FleetModel) -> tuple[int, int, int]:
    """(layers, kv_heads, head_dim): the config's, else the nearest reference shape's."""
    billions = parameters(model) / 1e9
    _, layers, kv_heads, head_dim = min(REFERENCE_SHAPES, key=lambda shape: abs(math.log(shape[0] / billions)))
    return (model.layers or layers, model.kv_heads or kv_heads, model.head_dim or head_dim)


def kv_bytes_per_token(model: FleetModel) -> float:
    layers, kv_heads, head_dim = architecture(model)
    return 2 * layers * kv_heads * head_dim * KV_BYTES


@dataclass(frozen=True)
class CopyShape:
    """How one copy of a model runs on one instance type, and what it can carry."""

    tp: int  # tensor-parallel degree: GPUs per copy
    capacity: int  # concurrent sequences one copy serves within the latency goal and memory
    copies: int  # copies the traffic needs (at least min_copies)
    memory_bytes: float  # per copy at its share of the load (weights + KV)
    utilisation: float  # share of its GPUs' bandwidth-time the copy's load takes (tp=1 copies share GPUs)
    step_s: float  # decode step (per-token latency) at its load
    ttft_s: float
    tokens_per_s: float  # at full capacity
    concurrency: float  # the model's expected concurrent sequences
    why: str
    prefill_share: float = 0.0  # share of time one copy spends prefilling its arrivals (rate per copy x prefill)


def _step_s(weights: float, batch: float, ctx: float, kv: float, tp: int, spec: InstanceSpec, eff: float) -> float:
    return (weights + batch * ctx * kv) / (tp * spec.bandwidth_gb_s * GB * eff)


def concurrency(model: FleetModel, traffic: TrafficEntry) -> float:
    """Peak concurrency if measured, else Little's law at the goal's per-token pace."""
    if traffic.peak_concurrency is not None:
        return traffic.peak_concurrency
    in_system_s = model.latency.ttft_p95_ms / 1000 + traffic.completion_tokens * model.latency.per_token_p95_ms / 1000
    return traffic.requests_per_s * in_system_s


def shape_on(model: FleetModel, traffic: TrafficEntry, spec: InstanceSpec, fleet: FleetSection) -> CopyShape | None:
    """The cheapest copy shape (smallest TP degree) that meets memory and latency; None if none does."""
    tp = 1
    while tp <= spec.gpus:
        shape = _shape_at(model, traffic, spec, fleet, tp)
        if shape is not None:
            return shape
        tp *= 2
    return None


def _shape_at(model: FleetModel, traffic: TrafficEntry, spec: InstanceSpec, fleet: FleetSection, tp: int) -> CopyShape | None:
    weights, kv = weights_bytes(model), kv_bytes_per_token(model)
    ctx = max(1.0, traffic.prompt_tokens + traffic.completion_tokens)
    usable = tp * spec.gpu_memory_gib * GIB * fleet.memory_headroom
    if weights + model.max_context * kv > usable:
        return None  # not even one full-context sequence fits
    goal_s = model.latency.per_token_p95_ms / 1000
    eff = fleet.bandwidth_efficiency
    by_memory = (usable - weights) / (ctx * kv)
    by_latency = (goal_s * tp * spec.bandwidth_gb_s * GB * eff - weights) / (ctx * kv)
    capacity = int(min(by_memory, by_latency, MAX_BATCH))
    if capacity < 1:
        return None
    prefill_s = 2 * parameters(model) * traffic.prompt_tokens / (tp * spec.fp16_tflops * 1e12 * fleet.compute_efficiency)
    demand = concurrency(model, traffic)
    copies = max(model.min_copies, math.ceil(demand / capacity))
    while True:  # add copies until each one's bandwidth load leaves the GPU its headroom
        load = max(1.0, demand / copies) if copies else 1.0
        step = _step_s(weights, load, ctx, kv, tp, spec, eff)
        tokens_demand = traffic.requests_per_s * traffic.completion_tokens / copies if copies else 0.0
        utilisation = tokens_demand * step / load
        if utilisation <= fleet.max_gpu_utilisation or copies >= 1000:
            break
        copies += 1
    ttft = prefill_s + step
    if ttft * 1000 > model.latency.ttft_p95_ms or utilisation > fleet.max_gpu_utilisation:
        return None
    memory = min(usable, weights + max(load * ctx, model.max_context) * kv)
    why = (f"tp={tp}: {weights / GB:.1f} GB weights + KV {kv / 1e6:.2f} MB/token; a copy holds {capacity} sequences "
           f"(memory {by_memory:.0f}, latency {by_latency:.0f}); {demand:.1f} concurrent -> {copies} copies, "
           f"{step * 1000:.1f} ms/token, TTFT {ttft * 1000:.0f} ms")
    prefill_share = traffic.requests_per_s / copies * prefill_s if copies else 0.0
    return CopyShape(tp, capacity, copies, memory, utilisation, step, ttft,
                     capacity / _step_s(weights, capacity, ctx, kv, tp, spec, eff), demand, why, prefill_share)
