"""Self-hosted endpoints: the mesh.yaml section, its expansion into provider/route/registry,
and the CDK construct (synthesized once for this module from a fixture config)."""

from __future__ import annotations

import copy
import json
import os
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from llm_mesh.config import ConfigError, load_config, parse_config  # noqa: E402
from llm_mesh.config.self_hosted import expand_self_hosted, parse_image  # noqa: E402

CONFIG = textwrap.dedent(
    """
    version: 1
    providers:
      echo: {kind: echo}
    routes:
      echo: {provider: echo, model: echo-1}
      support-chat:
        targets:
          - {provider: qwen-vllm, model: qwen-vllm}
          - {provider: echo, model: echo-1}
    self_hosted:
      llama-tgi:
        image: tgi:3.2.3-gpu-py311-cu124-ubuntu22.04
        model_id: meta-llama/Llama-3.1-8B-Instruct
        instance_type: ml.g5.2xlarge
        initial_instance_count: 1
        environment: {MAX_INPUT_TOKENS: "4096"}
        autoscaling: {min: 1, max: 4, target_invocations_per_instance: 30}
        owner: platform-team
      qwen-vllm:
        image: vllm:server-sagemaker-cuda-v1
        model_id: s3://acme-models/qwen2.5-7b/v3/
        instance_type: ml.g6.2xlarge
        inference_components: true
        compute: {accelerators: 1, memory_mb: 16384}
        autoscaling: {max: 2, target_invocations_per_instance: 5, scale_to_zero: true}
        context_window: 32768
      mistral-lmi:
        image: 111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme/lmi-custom:1.4
        payload: lmi
        model_id: mistralai/Mistral-7B-Instruct-v0.3
        instance_type: ml.g5.xlarge
        region: eu-west-1
    """
)


def raw() -> dict[str, Any]:
    return yaml.safe_load(CONFIG)


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


# ---------------------------------------------------------------- config and expansion


def test_expansion_is_pure_and_adds_provider_route_and_registry_entry() -> None:
    data = raw()
    before = copy.deepcopy(data)
    out = expand_self_hosted(data)
    assert data == before  # the input is untouched
    assert out["providers"]["llama-tgi"] == {
        "kind": "sagemaker", "options": {"endpoint_name": "llama-tgi", "payload_format": "tgi"}}
    assert out["providers"]["qwen-vllm"]["options"] == {
        "endpoint_name": "qwen-vllm", "payload_format": "vllm_openai",
        "inference_component": "qwen-vllm-ic", "context_window": 32768}
    assert out["providers"]["mistral-lmi"]["options"]["region"] == "eu-west-1"
    assert out["routes"]["llama-tgi"] == {"provider": "llama-tgi", "model": "llama-tgi"}
    assert out["models"]["llama-tgi"]["hosting"] == "self_hosted"
    assert out["models"]["llama-tgi"]["owner"] == "platform-team"
    assert out["models"]["qwen-vllm"]["capabilities"] == {"tools": True, "json_schema": True, "context_window": 32768}
    assert expand_self_hosted(out) == out  # idempotent
    assert expand_self_hosted({"version": 1}) == {"version": 1}


def test_declared_provider_and_route_win() -> None:
    data = raw()
    data["routes"]["llama-tgi"] = {"provider": "echo", "model": "echo-1"}
    data["providers"]["qwen-vllm"] = {"kind": "sagemaker", "options": {"endpoint_name": "other", "read_timeout": 5}}
    config = parse_config(data)
    assert config.routes["llama-tgi"].targets[0].provider == "echo"
    assert config.providers["qwen-vllm"].options == {"endpoint_name": "other", "read_timeout": 5}
    assert config.routes["mistral-lmi"].targets[0].provider == "mistral-lmi"


def test_loaded_config_routes_to_the_endpoint_and_registers_it(tmp_path: Path) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    assert set(config.self_hosted) == {"llama-tgi", "qwen-vllm", "mistral-lmi"}
    assert config.providers["qwen-vllm"].kind == "sagemaker"
    assert config.routes["support-chat"].targets[0].provider == "qwen-vllm"
    entry = config.model_entry("qwen-vllm", "qwen-vllm")
    assert entry is not None and entry.hosting == "self_hosted" and entry.capabilities.tools
    assert config.self_hosted["qwen-vllm"].autoscaling.min_capacity == 0
    assert config.self_hosted["llama-tgi"].payload_format == "tgi"


def test_scale_to_zero_needs_inference_components() -> None:
    data = raw()
    data["self_hosted"]["llama-tgi"]["autoscaling"] = {"max": 2, "scale_to_zero": True}
    problems = problems_of(data)
    assert problems == [
        "self_hosted.llama-tgi: autoscaling.scale_to_zero requires inference_components: true (SageMaker scales "
        "an endpoint to zero instances only when it hosts inference components, with managed instance scaling min 0)"
    ]


@pytest.mark.parametrize("change, expected", [
    ({"autoscaling": {"min": 0, "max": 2}}, "self_hosted.llama-tgi.autoscaling: min 0 means scaling to zero"),
    ({"autoscaling": {"min": 3, "max": 2}}, "self_hosted.llama-tgi.autoscaling: min (3) exceeds max (2)"),
    ({"image": "tgi"}, "self_hosted.llama-tgi.image: image must be an ECR image URI"),
    ({"image": "triton:24.01"}, "self_hosted.llama-tgi.image: unknown image alias 'triton'"),
    ({"model_id": "s3://acme-models/*"}, "self_hosted.llama-tgi.model_id: an S3 model location"),
    ({"environment": {"HF_TOKEN": "hf_abc"}}, "self_hosted.llama-tgi.environment: environment.HF_TOKEN looks like a credential"),
    ({"instance_type": "g5.2xlarge"}, "self_hosted.llama-tgi.instance_type:"),
    ({"initial_instance_count": 9}, "self_hosted.llama-tgi: initial_instance_count (9) exceeds autoscaling.max (4)"),
    ({"image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/acme/llm:1"}, "self_hosted.llama-tgi: payload is required"),
    ({"payload": "raw"}, "self_hosted.llama-tgi.payload:"),
])
def test_invalid_entries_are_reported_with_their_path(change: dict[str, Any], expected: str) -> None:
    data = raw()
    data["self_hosted"]["llama-tgi"].update(change)
    problems = problems_of(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_entry_names_must_be_endpoint_names() -> None:
    data = raw()
    data["self_hosted"]["bad_name"] = data["self_hosted"].pop("llama-tgi")
    problems = problems_of(data)
    assert len(problems) == 1 and problems[0].startswith("self_hosted: ") and "'bad_name'" in problems[0], problems


def test_image_aliases_resolve_to_deep_learning_containers() -> None:
    assert parse_image("tgi:3.2.3").repository == "huggingface-pytorch-tgi-inference"
    assert parse_image("vllm:server-sagemaker-cuda-v1").repository == "vllm"
    assert parse_image("lmi:0.33.0-lmi15.0.0-cu128").repository == "djl-inference"
    custom = parse_image("111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme/lmi-custom:1.4")
    assert (custom.account, custom.region, custom.repository, custom.tag) == (
        "111122223333", "eu-west-1", "acme/lmi-custom", "1.4")


# ---------------------------------------------------------------- CDK


class Synth:
    def __init__(self, app: Any, template: dict[str, Any]) -> None:
        from aws_cdk.assertions import Template

        self.app = app
        self.json = template
        self.template = Template.from_json(template)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    def props(self, type_: str) -> list[dict[str, Any]]:
        return [v.get("Properties", {}) for v in self.resources(type_).values()]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    from infra.app import build_app

    base = tmp_path_factory.mktemp("cdk-self-hosted")
    config_path = base / "mesh.yaml"
    config_path.write_text(CONFIG)
    app, stack = build_app({"layerMode": "core", "meshConfig": str(config_path)},
                           outdir=str(base / "cdk.out"), build_dir=str(base / "build"))
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    yield Synth(app, assembly.get_stack_by_name(stack.stack_name).template)


def _by_name(synth: Synth) -> dict[str, dict[str, Any]]:
    return {p["EndpointName"]: p for p in synth.props("AWS::SageMaker::Endpoint")}


def test_one_model_config_and_named_endpoint_per_entry(synth: Synth) -> None:
    assert set(_by_name(synth)) == {"llama-tgi", "qwen-vllm", "mistral-lmi"}
    assert len(synth.resources("AWS::SageMaker::Model")) == 3
    assert len(synth.resources("AWS::SageMaker::EndpointConfig")) == 3
    containers = {json.dumps(p["PrimaryContainer"]["Image"]): p["PrimaryContainer"] for p in synth.props("AWS::SageMaker::Model")}
    tgi = next(c for k, c in containers.items() if "huggingface-pytorch-tgi-inference:3.2.3" in k)
    assert tgi["Environment"] == {"MAX_INPUT_TOKENS": "4096", "HF_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct"}
    assert "763104351884.dkr.ecr." in json.dumps(tgi["Image"]) and "AWS::Region" in json.dumps(tgi["Image"])
    vllm = next(c for k, c in containers.items() if "/vllm:server-sagemaker-cuda-v1" in k)
    assert vllm["Environment"] == {"SM_VLLM_MODEL": "/opt/ml/model"}
    assert vllm["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": "s3://acme-models/qwen2.5-7b/v3/", "S3DataType": "S3Prefix", "CompressionType": "None"}
    assert json.dumps("111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme/lmi-custom:1.4") in containers


def test_instance_mode_variant_and_scaling(synth: Synth) -> None:
    configs = synth.props("AWS::SageMaker::EndpointConfig")
    instance_mode = [c for c in configs if "ModelName" in c["ProductionVariants"][0]]
    assert len(instance_mode) == 2
    for config in instance_mode:
        variant = config["ProductionVariants"][0]
        assert variant["VariantName"] == "AllTraffic" and "ManagedInstanceScaling" not in variant
    targets = {t["ResourceId"]: t for t in synth.props("AWS::ApplicationAutoScaling::ScalableTarget")}
    llama = targets["endpoint/llama-tgi/variant/AllTraffic"]
    assert (llama["ScalableDimension"], llama["MinCapacity"], llama["MaxCapacity"]) == (
        "sagemaker:variant:DesiredInstanceCount", 1, 4)
    assert "RoleARN" not in llama  # the service-linked role
    policies = synth.props("AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = {p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"] for p in policies
                if p["PolicyType"] == "TargetTrackingScaling"}
    assert tracking["llama-tgi-invocations"]["TargetValue"] == 30
    assert tracking["llama-tgi-invocations"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}


def test_inference_component_mode_scales_to_zero(synth: Synth) -> None:
    config = next(c for c in synth.props("AWS::SageMaker::EndpointConfig") if "ModelName" not in c["ProductionVariants"][0])
    variant = config["ProductionVariants"][0]
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert "ExecutionRoleArn" in config  # required when the endpoint hosts inference components
    (ic,) = synth.props("AWS::SageMaker::InferenceComponent")
    assert ic["InferenceComponentName"] == "qwen-vllm-ic" and ic["VariantName"] == "AllTraffic"
    assert ic["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 1, "MinMemoryRequiredInMb": 16384}
    assert ic["RuntimeConfig"] == {"CopyCount": 1}
    targets = {t["ResourceId"]: t for t in synth.props("AWS::ApplicationAutoScaling::ScalableTarget")}
    target = targets["inference-component/qwen-vllm-ic"]
    assert (target["ScalableDimension"], target["MinCapacity"], target["MaxCapacity"]) == (
        "sagemaker:inference-component:DesiredCopyCount", 0, 2)
    policies = {p["PolicyName"]: p for p in synth.props("AWS::ApplicationAutoScaling::ScalingPolicy")}
    assert policies["qwen-vllm-invocations"]["TargetTrackingScalingPolicyConfiguration"][
        "PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerInferenceComponentInvocationsPerCopy"
    step = policies["qwen-vllm-from-zero"]["StepScalingPolicyConfiguration"]
    assert step["AdjustmentType"] == "ChangeInCapacity" and step["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    (alarm,) = [a for a in synth.props("AWS::CloudWatch::Alarm") if a.get("MetricName") == "NoCapacityInvocationFailures"]
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "qwen-vllm-ic"}]
    step_id = next(k for k, v in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
                   if v["Properties"]["PolicyName"] == "qwen-vllm-from-zero")
    assert alarm["AlarmActions"] == [{"Ref": step_id}]


def _statements(synth: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield logical_id, statement


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_no_wildcard_actions(synth: Synth) -> None:
    for logical_id, statement in _statements(synth):
        assert all("*" not in action for action in _actions(statement)), (logical_id, statement)


def test_gateway_may_invoke_exactly_the_endpoints(synth: Synth) -> None:
    endpoints = {k for k in synth.resources("AWS::SageMaker::Endpoint")}
    invoke = [s for _, s in _statements(synth) if "sagemaker:InvokeEndpoint" in _actions(s)]
    assert len(invoke) == 2  # buffered and streaming gateway roles
    for statement in invoke:
        assert sorted(_actions(statement)) == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
        assert {r["Ref"] for r in statement["Resource"]} == endpoints
    roles = synth.resources("AWS::IAM::Role")
    granted = {r["Ref"] for _, p in synth.resources("AWS::IAM::Policy").items()
               if any("sagemaker:InvokeEndpoint" in _actions(s) for s in p["Properties"]["PolicyDocument"]["Statement"])
               for r in p["Properties"]["Roles"]}
    assert all("lambda.amazonaws.com" in json.dumps(roles[r]["Properties"]["AssumeRolePolicyDocument"]) for r in granted)


def _execution_policy(synth: Synth, endpoint: str) -> list[dict[str, Any]]:
    roles = {k for k, r in synth.resources("AWS::IAM::Role").items()
             if f"self-hosted model {endpoint}" in r["Properties"].get("Description", "")}
    assert len(roles) == 1
    (role,) = roles
    role_props = synth.resources("AWS::IAM::Role")[role]["Properties"]
    assert "sagemaker.amazonaws.com" in json.dumps(role_props["AssumeRolePolicyDocument"])
    assert "ManagedPolicyArns" not in role_props
    return [s for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_execution_roles_are_least_privilege(synth: Synth) -> None:
    qwen = _execution_policy(synth, "qwen-vllm")
    by_action = {a: s for s in qwen for a in _actions(s)}
    assert set(by_action) == {
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:GetAuthorizationToken",
        "s3:GetObject", "s3:ListBucket", "logs:CreateLogStream", "logs:PutLogEvents", "cloudwatch:PutMetricData"}
    assert ":763104351884:repository/vllm" in json.dumps(by_action["ecr:BatchGetImage"]["Resource"])
    assert json.dumps(by_action["s3:GetObject"]["Resource"]).endswith(':s3:::acme-models/qwen2.5-7b/v3/*"]]}')
    assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["qwen2.5-7b/v3/*"]}}
    assert by_action["cloudwatch:PutMetricData"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}
    lmi = _execution_policy(synth, "mistral-lmi")
    assert not any(a.startswith("s3:") for s in lmi for a in _actions(s))  # a Hugging Face id: no S3 access
    ecr = next(s for s in lmi if "ecr:BatchGetImage" in _actions(s))
    assert ecr["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                 ":ecr:eu-west-1:111122223333:repository/acme/lmi-custom"]]}
    for statement in qwen + lmi:
        if "*" == statement["Resource"]:
            assert _actions(statement) in (["ecr:GetAuthorizationToken"], ["cloudwatch:PutMetricData"])


def test_endpoint_log_groups_have_retention(synth: Synth) -> None:
    groups = [p for p in synth.props("AWS::Logs::LogGroup") if "LogGroupName" in p]
    assert {g["LogGroupName"] for g in groups} == {f"/aws/sagemaker/Endpoints/{n}" for n in ("llama-tgi", "qwen-vllm", "mistral-lmi")}
    assert all(g["RetentionInDays"] == 30 for g in groups)


def test_region_pinned_entry_gets_a_deploy_rule(synth: Synth) -> None:
    rules = {k: v for k, v in synth.json.get("Rules", {}).items() if k.startswith("SelfHosted")}
    assert list(rules) == [next(k for k in rules if "MistralLmi" in k)]
    assertion = next(iter(rules.values()))["Assertions"][0]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}


def test_cdk_nag_clean_with_reasons(synth: Synth) -> None:
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(synth.app)
    findings = [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations]
    assert report.success and not findings, findings
    acknowledged = [rule for resource in synth.json["Resources"].values()
                    for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]
    assert {"AwsSolutions-SM1", "AwsSolutions-SM2", "AwsSolutions-IAM5[Resource::*]"} <= {r["id"] for r in acknowledged}
    assert all(len(r["reason"]) > 40 for r in acknowledged)


# ---------------------------------------------------------------- CLI and the running gateway


def test_mesh_validate_sees_the_expanded_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from llm_mesh.cli.main import cli

    path = tmp_path / "mesh.yaml"
    path.write_text(CONFIG)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "(4 providers, 5 routes" in result.output  # echo + 3 self-hosted; echo, support-chat + 3
    bad = raw()
    bad["self_hosted"]["llama-tgi"]["autoscaling"] = {"max": 2, "scale_to_zero": True}
    path.write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert "self_hosted.llama-tgi: autoscaling.scale_to_zero requires inference_components: true" in result.output


def test_auto_wired_route_serves_through_the_sagemaker_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry's route and registry entry are implied; only the provider is declared here, to point
    boto3 at the loopback fake (a declared provider wins over the implied one)."""
    import httpx
    import openai

    from tests.fakes.sagemaker_upstream import start_fake_sagemaker
    from tests.harness import serve_mesh

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDSELFHOSTED", "AWS_SECRET_ACCESS_KEY": "self-hosted-secret",
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials"}.items():
        monkeypatch.setenv(name, value)
    with start_fake_sagemaker() as fake:
        config = {
            "self_hosted": {"vllm-qwen": {"image": "vllm:server-sagemaker-cuda-v1", "model_id": "Qwen/Qwen2.5-7B-Instruct",
                                          "instance_type": "ml.g6.2xlarge", "owner": "research"}},
            "providers": {"vllm-qwen": {"kind": "sagemaker", "options": {
                "region": "us-east-1", "endpoint_url": fake.url, "endpoint_name": "vllm-qwen",
                "payload_format": "vllm_openai", "read_timeout": 10}}},
        }
        with serve_mesh(config) as mesh:
            client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
            out = client.chat.completions.create(model="vllm-qwen", messages=[{"role": "user", "content": "hi"}])
            assert out.choices[0].message.content == "Echo: hi"
            registry = httpx.get(mesh.base_url + "/mesh/models", headers={"authorization": f"Bearer {mesh.api_key}"}).json()
    entry = next(m for m in registry["data"] if m.get("provider") == "vllm-qwen")
    assert entry["hosting"] == "self_hosted" and entry["owner"] == "research"
    assert registry["routes"]["vllm-qwen"]["targets"] == [{"provider": "vllm-qwen", "model": "vllm-qwen", "weight": 1.0}]


def test_template_passes_cfn_lint(synth: Synth, tmp_path: Path) -> None:
    """CloudFormation's resource schemas (SageMaker, Application Auto Scaling, alarms) accept the template."""
    import shutil
    import subprocess

    linter = shutil.which("cfn-lint")
    if linter is None:
        pytest.skip("cfn-lint is not installed")
    path = tmp_path / "template.json"
    path.write_text(json.dumps(synth.json))
    # W3005: CDK's explicit DependsOn next to a GetAtt (kept on purpose: it also orders the role's policy).
    result = subprocess.run([linter, "--ignore-checks", "W3005", "--", str(path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
