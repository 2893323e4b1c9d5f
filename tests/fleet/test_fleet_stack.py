"""`cdk synth` of a config with a `fleet:` section (deploy: true): SageMaker endpoints and inference
components that match the plan, cdk-nag clean (build_app's synth fails on an unacknowledged finding)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from llm_mesh.config import ConfigError, parse_config
from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deploy import deploy_document, whole_gpu_instances
from llm_mesh.fleet.planner import plan_fleet

FLEET: dict[str, Any] = {
    "deploy": True,
    "pools": {"g5": {"instance_type": "ml.g5.xlarge", "max_instances": 6},
              "p4d": {"instance_type": "ml.p4d.24xlarge", "max_instances": 2}},
    "models": {
        "chat-3b": {"parameters_b": 3.2, "max_context": 4096, "image": "vllm:0.8.5-gpu-py312",
                    "model_id": "meta-llama/Llama-3.2-3B-Instruct"},
        "code-3b": {"parameters_b": 3.0, "max_context": 4096, "image": "tgi:3.2.3-gpu-py311-cu124-ubuntu22.04",
                    "model_id": "s3://acme-models/code-3b/v2/"},
        "big-70b": {"parameters_b": 70, "min_copies": 1, "image": "vllm:0.8.5-gpu-py312",
                    "model_id": "meta-llama/Llama-3.1-70B-Instruct"},
        "rare-8b": {"parameters_b": 8, "min_copies": 0, "scale_to_zero": True, "image": "vllm:0.8.5-gpu-py312",
                    "model_id": "meta-llama/Llama-3.1-8B-Instruct"},
    },
    "traffic": {"chat-3b": {"requests_per_s": 0.2}, "code-3b": {"requests_per_s": 0.1},
                "big-70b": {"requests_per_s": 0.3}},
}
CONFIG = {"version": 1, "providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
          "fleet": FLEET}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):  # type: ignore[no-untyped-def]
    from aws_cdk.assertions import Template

    from infra.app import build_app

    base = tmp_path_factory.mktemp("cdk-fleet")
    (base / "mesh.yaml").write_text(yaml.safe_dump(CONFIG))
    app, stack = build_app({"layerMode": "core", "meshConfig": str(base / "mesh.yaml")},
                           outdir=str(base / "cdk.out"), build_dir=str(base / "build"))
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synth(app, Template.from_json(template)), template


class Synth:
    def __init__(self, app, template) -> None:  # type: ignore[no-untyped-def]
        self.app, self.template = app, template

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.template, name)


def _of(template: dict, kind: str) -> dict[str, dict]:
    return {k: v.get("Properties", {}) for k, v in template["Resources"].items() if v["Type"] == kind}


def test_endpoints_and_inference_components_match_the_plan(synth):  # type: ignore[no-untyped-def]
    assertions, template = synth
    fleet = FleetSection.model_validate(FLEET)
    plan = plan_fleet(fleet)
    document = deploy_document(plan, fleet)
    used = {pool for pool, _ in plan.shapes.values()}
    assertions.resource_count_is("AWS::SageMaker::Endpoint", len(used))
    assertions.resource_count_is("AWS::SageMaker::InferenceComponent", len(fleet.models))
    endpoints = {p["EndpointName"]: (k, p) for k, p in _of(template, "AWS::SageMaker::Endpoint").items()}
    configs = _of(template, "AWS::SageMaker::EndpointConfig")
    assert set(endpoints) == {f"fleet-{pool}" for pool in used}
    for pool in used:
        spec = document["endpoints"][pool]
        _, endpoint = endpoints[f"fleet-{pool}"]
        (variant,) = configs[endpoint["EndpointConfigName"]["Fn::GetAtt"][0]]["ProductionVariants"]
        assert variant["InstanceType"] == fleet.pools[pool].instance_type
        assert variant["InitialInstanceCount"] == max(1, plan.instances[pool], whole_gpu_instances(plan, fleet, pool))
        assert variant["ManagedInstanceScaling"]["MinInstanceCount"] == spec["min_instance_count"]
    for name, (pool, shape) in plan.shapes.items():
        assertions.has_resource_properties("AWS::SageMaker::InferenceComponent", {
            "InferenceComponentName": f"fleet-{name}",
            "EndpointName": {"Fn::GetAtt": [endpoints[f"fleet-{pool}"][0], "EndpointName"]},
            "VariantName": "AllTraffic",
            "Specification": {"ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": shape.tp}},
            "RuntimeConfig": {"CopyCount": max(1, shape.copies)},
        })


def test_the_plan_behind_the_template_packs_and_spreads(synth):  # type: ignore[no-untyped-def]
    plan = plan_fleet(FleetSection.model_validate(FLEET))
    assert plan.shapes["big-70b"] == ("p4d", plan.shapes["big-70b"][1]) and plan.shapes["big-70b"][1].tp == 4
    assert plan.shapes["rare-8b"][1].copies == 0
    assertions, template = synth
    targets = {p["ResourceId"]: p for p in _of(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()}
    assert targets["inference-component/fleet-rare-8b"]["MinCapacity"] == 0
    assert targets["inference-component/fleet-big-70b"]["MinCapacity"] == 1
    assertions.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "NoCapacityInvocationFailures",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": "fleet-rare-8b"}]})


def test_the_gateway_may_invoke_the_fleet_endpoints_and_the_role_reads_only_declared_weights(synth):  # type: ignore[no-untyped-def]
    _, template = synth
    endpoint_ids = set(_of(template, "AWS::SageMaker::Endpoint"))
    statements = [s for p in _of(template, "AWS::IAM::Policy").values() for s in p["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    granted = {r["Ref"] for s in invoke for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
               if isinstance(r, dict) and "Ref" in r}
    assert endpoint_ids <= granted
    reads = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert [s["Resource"] for s in reads] == [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::acme-models/code-3b/v2/*"]]}]


def test_deploy_needs_an_image_and_weights_per_model():
    bad = {**CONFIG, "fleet": {**FLEET, "models": {**FLEET["models"], "chat-3b": {"parameters_b": 3.2},
                                                   "code-3b": {**FLEET["models"]["code-3b"], "image": "nginx:latest"}}}}
    with pytest.raises(ConfigError) as raised:
        parse_config(bad)
    text = "\n".join(raised.value.problems)
    assert "fleet.models.chat-3b: deploy: true needs image and model_id" in text
    assert "fleet.models.code-3b.image: unknown image alias 'nginx'" in text


def test_cdk_nag_reports_nothing_unacknowledged(synth):  # type: ignore[no-untyped-def]
    from cdk_nag import AwsSolutionsChecks

    assertions, _ = synth
    report = AwsSolutionsChecks().validate_scope(assertions.app)
    findings = [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations]
    assert report.success and not findings, findings
