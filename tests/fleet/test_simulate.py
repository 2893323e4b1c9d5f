"""The fleet simulator: step arithmetic, GPU sharing, KV admission, and packed plan vs one endpoint per model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deployment import (
    Deployment,
    SimCopy,
    component_deployment,
    dedicated_deployment,
    packed_deployment,
)
from llm_mesh.fleet.planner import plan_fleet, resolve_pools
from llm_mesh.fleet.simulate import simulate
from llm_mesh.fleet.throughput import GB, kv_bytes_per_token, parameters, weights_bytes
from llm_mesh.fleet.trace import TraceRequest, read_trace, synthetic_trace, trace_csv

TRACES = Path(__file__).resolve().parents[2] / "bench" / "traces"
FLEET = FleetSection.model_validate({
    "pools": {"g5": {"instance_type": "ml.g5.xlarge"}},
    "models": {"small": {"parameters_b": 1.2, "latency": {"ttft_p95_ms": 1000, "per_token_p95_ms": 50}},
               "big": {"parameters_b": 8, "latency": {"ttft_p95_ms": 2000, "per_token_p95_ms": 100}}},
    "traffic": {"small": {"requests_per_s": 2, "prompt_tokens": 300, "completion_tokens": 50},
                "big": {"requests_per_s": 1, "prompt_tokens": 500, "completion_tokens": 100}},
})
SPEC = resolve_pools(FLEET)["g5"]


def _copy(model: str, executor: tuple, memory_gb: float = 20) -> SimCopy:
    return SimCopy(model, 0, executor, 1, SPEC, memory_gb * GB)


def _seconds(model: str, prompt: int, context: int) -> tuple[float, float]:
    """(prefill of the prompt, one decode step at this context) by the module's formulas."""
    m = FLEET.models[model]
    prefill = 2 * parameters(m) * prompt / (SPEC.fp16_tflops * 1e12 * FLEET.compute_efficiency)
    step = (weights_bytes(m) + context * kv_bytes_per_token(m)) / (SPEC.bandwidth_gb_s * GB * FLEET.bandwidth_efficiency)
    return prefill, step


def test_one_request_on_an_idle_copy_takes_prefill_then_one_step_per_token():
    deployment = Deployment("one", 1.0, {}, [_copy("small", ("a", 0, (0,)))])
    result = simulate(deployment, FLEET, [TraceRequest(1.0, "small", 300, 3)])
    prefill, first = _seconds("small", 300, 300)
    _, second = _seconds("small", 300, 301)
    _, third = _seconds("small", 300, 302)
    assert result.models["small"].ttft_p95_ms == pytest.approx(round(1000 * (prefill + first), 1), abs=0.05)
    assert result.models["small"].per_token_p95_ms == pytest.approx(round(1000 * (second + third) / 2, 2), abs=0.005)
    assert result.makespan_s == pytest.approx(1.0 + prefill + first + second + third, abs=1e-3)
    assert (result.met, result.requests, result.unserved) == (1, 1, 0)


def test_copies_sharing_a_gpu_take_turns_at_it():
    trace = [TraceRequest(0.0, "big", 500, 400), TraceRequest(0.5, "small", 300, 20)]
    alone = simulate(Deployment("apart", 2.0, {}, [_copy("big", ("a", 0, (0,))), _copy("small", ("b", 0, (0,)))]),
                     FLEET, trace)
    shared = simulate(Deployment("shared", 1.0, {}, [_copy("big", ("a", 0, (0,))), _copy("small", ("a", 0, (0,)))]),
                      FLEET, trace)
    _, small_step = _seconds("small", 300, 310)
    _, big_step = _seconds("big", 500, 600)
    assert alone.models["small"].per_token_p95_ms == pytest.approx(1000 * small_step, rel=0.01)
    assert shared.models["small"].per_token_p95_ms >= 1000 * (small_step + big_step) * 0.99


def test_a_copy_admits_only_what_its_kv_budget_holds():
    model = FLEET.models["big"]
    one_sequence = weights_bytes(model) + 700 * kv_bytes_per_token(model)  # room for one 600-token context
    deployment = Deployment("tight", 1.0, {}, [SimCopy("big", 0, ("a", 0, (0,)), 1, SPEC, one_sequence)])
    trace = [TraceRequest(0.0, "big", 500, 100), TraceRequest(0.0, "big", 500, 100)]
    result = simulate(deployment, FLEET, trace)
    prefill, step = _seconds("big", 500, 550)
    # the second waits for the first's 100 tokens before its own prefill: TTFT at least that long
    assert result.models["big"].ttft_p95_ms >= 1000 * (prefill + 100 * step)


def test_requests_for_a_model_without_copies_are_unserved_and_miss():
    result = simulate(Deployment("none", 0.0, {}, []), FLEET, [TraceRequest(0.0, "small", 10, 10)])
    assert (result.requests, result.met, result.unserved, result.goal_attainment) == (1, 0, 1, 0.0)


def test_synthetic_traces_are_seeded_and_round_trip_through_csv(tmp_path):
    first = synthetic_trace(FLEET, 60, seed=3)
    assert first == synthetic_trace(FLEET, 60, seed=3) != synthetic_trace(FLEET, 60, seed=4)
    assert 100 < sum(r.model == "small" for r in first) < 140  # Poisson at 2/s over 60 s
    assert all(1 <= r.prompt_tokens and 1 <= r.completion_tokens for r in first)
    path = tmp_path / "t.csv"
    path.write_text(trace_csv(first))
    assert read_trace(path) == first
    path.write_text("when,who\n1,x\n")
    with pytest.raises(ValueError, match="columns arrival_s, model"):
        read_trace(path)


def test_packed_plan_costs_less_at_equal_or_better_goal_attainment_on_the_shipped_trace():
    fleet = FleetSection.model_validate(yaml.safe_load((TRACES / "fleet-small.yaml").read_text())["fleet"])
    trace = read_trace(TRACES / "fleet-small.csv")
    assert trace == synthetic_trace(fleet, 600, seed=7)  # the shipped file is the seeded draw
    plan = plan_fleet(fleet)
    packed = simulate(packed_deployment(plan, fleet), fleet, trace)
    dedicated = simulate(dedicated_deployment(fleet), fleet, trace)
    assert packed.cost_per_hour < dedicated.cost_per_hour
    assert packed.goal_attainment >= dedicated.goal_attainment >= 0.99
    assert packed.unserved == dedicated.unserved == 0
    components = simulate(component_deployment(plan, fleet), fleet, trace)  # whole GPUs: the p4d's spare ones
    assert packed.cost_per_hour <= components.cost_per_hour < dedicated.cost_per_hour
    assert components.goal_attainment >= dedicated.goal_attainment


def test_as_inference_components_gpu_sharing_models_take_a_gpu_each():
    models = {f"m{i}-3b": {"parameters_b": 3.2, "max_context": 4096} for i in range(3)}
    fleet = FleetSection.model_validate({"pools": {"g5": {"instance_type": "ml.g5.xlarge"}}, "models": models,
                                         "traffic": {m: {"requests_per_s": 0.1} for m in models}})
    plan = plan_fleet(fleet)
    assert plan.instances == {"g5": 1}  # packed: three copies on one A10G
    components = component_deployment(plan, fleet)
    assert components.instances == {"ml.g5.xlarge": 3} and components.cost_per_hour == pytest.approx(3 * SPEC.price_per_hour)
    assert len({c.executor for c in components.copies}) == 3


def test_the_bench_command_prints_the_three_deployments_side_by_side(tmp_path):
    import json
    import subprocess
    import sys

    root = TRACES.parents[1]
    out = subprocess.run([sys.executable, str(root / "bench" / "fleet_simulate.py"), "--seed", "5", "--duration", "60",
                          "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120,
                         cwd=root, env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"}, check=True).stdout
    header = out.splitlines()[1]
    assert header.split("  ")[-1].strip() == "one endpoint per model" and "packed plan" in header
    assert "goal attainment" in out and "cost per hour" in out
    results = json.loads((tmp_path / "r.json").read_text())
    assert [r["name"] for r in results] == ["packed plan", "plan as inference components", "one endpoint per model"]
    assert all(0 <= r["goal_attainment"] <= 1 and r["requests"] > 0 for r in results)
