"""CDK assertions on the synthesized mesh stack (in-process synth, once per session).

The stack is synthesized with a fixture config (not the repo's mesh.yaml, which other
work edits) and the core-only layer (no pip, no network, no Docker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk.assertions import Match, Template  # noqa: E402

from llm_mesh.config import ConfigError  # noqa: E402
from llm_mesh.stores.dynamodb.tables import TABLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

VALID_CONFIG = textwrap.dedent(
    """
    version: 1
    providers:
      echo: {kind: echo}
      openai:
        kind: openai
        base_url: https://api.openai.com/v1
        api_key: {secret: mesh/openai, field: api_key}
      vllm:                       # a VPC target: deployable with allowPrivateUpstreams
        kind: openai
        base_url: http://10.0.0.5:8000/v1
      bedrock: {kind: bedrock}
      bedrock-eu: {kind: bedrock, options: {region: eu-west-1}}
    routes:
      echo: {provider: echo, model: echo-1}
      chat: {provider: openai, model: gpt-4o-mini}
      claude:
        targets:
          - {provider: bedrock, model: us.anthropic.claude-3-5-haiku-20241022-v1:0}
          - {provider: bedrock-eu, model: amazon.nova-lite-v1:0}
    apps:
      bot:
        routes: [chat, echo]
        principals: [arn:aws:iam::123456789012:role/bot]
    """
)

INVALID_CONFIG = textwrap.dedent(
    """
    version: 1
    providers:
      openai: {kind: openai, api_key: sk-inline-secret}
    routes:
      chat: {provider: nowhere, model: gpt-4o-mini}
    """
)


class Synth:
    def __init__(self, template: dict[str, Any], outdir: Path, config_path: Path, app: Any) -> None:
        self.app = app
        self.template_json = template
        self.template = Template.from_json(template)
        self.outdir = outdir
        self.config_path = config_path

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == type_}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    from infra.app import build_app

    base = tmp_path_factory.mktemp("cdk")
    config_path = base / "mesh.yaml"
    config_path.write_text(VALID_CONFIG)
    app, stack = build_app(
        {"layerMode": "core", "meshConfig": str(config_path), "allowPrivateUpstreams": "true",
         "reservedConcurrency": "50"},
        outdir=str(base / "cdk.out"),
        build_dir=str(base / "build"),
    )
    assembly = app.synth()  # raises ValidationFailed if cdk-nag reports an unacknowledged finding
    template = assembly.get_stack_by_name(stack.stack_name).template
    yield Synth(template, Path(app.outdir), config_path, app)


# ---------------------------------------------------------------- API Gateway


def test_every_method_uses_iam_authorization(synth: Synth) -> None:
    methods = synth.resources("AWS::ApiGateway::Method")
    assert len(methods) >= 4
    for logical_id, method in methods.items():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM", logical_id


def test_root_and_proxy_methods_exist(synth: Synth) -> None:
    rest_api_id = next(iter(synth.resources("AWS::ApiGateway::RestApi")))
    methods = synth.resources("AWS::ApiGateway::Method").values()
    root = [m for m in methods if m["Properties"]["ResourceId"] == {"Fn::GetAtt": [rest_api_id, "RootResourceId"]}]
    assert root and root[0]["Properties"]["HttpMethod"] == "ANY"
    paths = {r["Properties"]["PathPart"] for r in synth.resources("AWS::ApiGateway::Resource").values()}
    assert {"{proxy+}", "v1", "chat", "completions", "messages"} <= paths


def test_streaming_integration_for_chat_and_messages(synth: Synth) -> None:
    resources = synth.resources("AWS::ApiGateway::Resource")
    streaming = [
        m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["Integration"].get("ResponseTransferMode") == "STREAM"
    ]
    parts = {resources[p["ResourceId"]["Ref"]]["Properties"]["PathPart"] for p in streaming}
    assert parts == {"completions", "messages"}
    functions = synth.resources("AWS::Lambda::Function")
    for props in streaming:
        assert props["HttpMethod"] == "POST"
        integration = props["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        uri = json.dumps(integration["Uri"])
        # InvokeWithResponseStream: API version 2021-11-15 and the response-streaming-invocations action
        assert "2021-11-15/functions/" in uri and "/response-streaming-invocations" in uri
        target = integration["Uri"]["Fn::Join"][1][-2]["Fn::GetAtt"][0]
        env = functions[target]["Properties"]["Environment"]["Variables"]
        assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
        assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
        assert functions[target]["Properties"]["Handler"] == "run.sh"


def test_buffered_integrations_go_to_the_mangum_function(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    for method in synth.resources("AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        if integration.get("ResponseTransferMode") == "STREAM":
            continue
        assert integration["Type"] == "AWS_PROXY"
        assert "/invocations" in json.dumps(integration["Uri"])
        target = integration["Uri"]["Fn::Join"][1][-2]["Fn::GetAtt"][0]
        assert functions[target]["Properties"]["Handler"] == "handler.handler"


def test_stage_has_access_and_execution_logging(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
            "MethodSettings": Match.array_with(
                [Match.object_like({"LoggingLevel": Match.any_value(), "DataTraceEnabled": False})]
            ),
        },
    )


# ---------------------------------------------------------------- DynamoDB


def test_tables_match_the_store_specs(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == len(TABLES)
    # The functions' MESH_TABLE_<LOGICAL> variables say which resource backs which spec.
    env = next(iter(synth.resources("AWS::Lambda::Function").values()))["Properties"]["Environment"]["Variables"]
    for spec in TABLES:
        props = tables[env[spec.env_var]["Ref"]]["Properties"]
        assert props["KeySchema"][0]["AttributeName"] == spec.partition_key
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])} == {i.name for i in spec.indexes}
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def test_functions_get_every_table_name_and_the_config(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    assert len(functions) >= 2  # the gateway pair, plus capability functions (redaction...) the config asks for
    for props in (f["Properties"] for f in functions.values()):
        env = props["Environment"]["Variables"]
        for spec in TABLES:
            assert env[spec.env_var] == {"Ref": Match.any_value()} or "Ref" in env[spec.env_var]
        assert env["MESH_HOME"] == "aws"
        assert env["MESH_CONFIG"] == "/var/task/mesh.yaml"
        assert props["Runtime"] in ("python3.12", "python3.13")
        layers = json.dumps(props["Layers"])
        assert "Ref" in layers  # the shared layer
    streaming = [f for f in functions.values() if f["Properties"]["Handler"] == "run.sh"][0]
    layers = json.dumps(streaming["Properties"]["Layers"])
    assert ":753240598075:layer:LambdaAdapterLayerX86:" in layers and '"AWS::Region"' in layers


def test_function_bundles_carry_the_validated_config(synth: Synth) -> None:
    assets = [p for p in synth.outdir.iterdir() if p.name.startswith("asset.")]
    bundled = [p / "mesh.yaml" for p in assets if (p / "mesh.yaml").exists()]
    assert len(bundled) == len(synth.resources("AWS::Lambda::Function"))
    assert all(b.read_text() == synth.config_path.read_text() for b in bundled)
    run_sh = [p / "run.sh" for p in assets if (p / "run.sh").exists()]
    assert run_sh and os.access(run_sh[0], os.X_OK)
    layer = [p for p in assets if (p / "python" / "llm_mesh" / "__init__.py").exists()]
    assert layer, "the shared layer asset holds python/llm_mesh"


# ---------------------------------------------------------------- IAM


def _statements(synth: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield logical_id, statement
    for logical_id, role in synth.resources("AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def test_no_wildcard_actions(synth: Synth) -> None:
    statements = list(_statements(synth))
    assert statements
    for logical_id, statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert "*" not in action, f"{logical_id}: wildcard action {action}"


def test_dynamodb_grants_name_tables_and_indexes(synth: Synth) -> None:
    granted = ""
    for logical_id, statement in _statements(synth):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(a.startswith("dynamodb:") for a in actions):
            continue
        assert "dynamodb:Scan" not in actions
        resources = json.dumps(statement["Resource"])
        assert "*" not in resources
        granted += resources
    for spec in TABLES:
        for index in spec.indexes:
            assert f"/index/{index.name}" in granted


def test_secret_access_only_for_referenced_secrets(synth: Synth) -> None:
    chain_key = next(k for k in synth.resources("AWS::SecretsManager::Secret") if "ChainKey" in k)
    secret_statements = [
        s for _, s in _statements(synth)
        if "secretsmanager:GetSecretValue" in json.dumps(s["Action"]) and chain_key not in json.dumps(s["Resource"])
    ]
    assert len(secret_statements) == len(synth.resources("AWS::Lambda::Function"))  # one per function role
    for statement in secret_statements:
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        resource = json.dumps(statement["Resource"])
        assert ":secret:mesh/openai-??????" in resource
        assert "VLLM_KEY" not in resource


def test_only_lambda_and_apigateway_assume_roles(synth: Synth) -> None:
    for role in synth.resources("AWS::IAM::Role").values():
        principals = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
        assert "lambda.amazonaws.com" in principals or "apigateway.amazonaws.com" in principals
    lambda_roles = [
        r for r in synth.resources("AWS::IAM::Role").values()
        if "lambda.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert all("ManagedPolicyArns" not in r["Properties"] for r in lambda_roles)


# ---------------------------------------------------------------- logs, nag, env


def test_every_log_group_has_retention(synth: Synth) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 3
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays"), logical_id
    assert not synth.resources("Custom::LogRetention")


def test_cdk_nag_has_no_unacknowledged_findings(synth: Synth) -> None:
    # app.synth() in the fixture would have raised ValidationFailed on any unacknowledged
    # finding (the plugin is registered by build_app); check the pack directly as well.
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(synth.app)
    findings = [(v.rule_name, v.severity, [r.construct_path for r in v.violating_resources]) for v in report.violations]
    assert report.success and not findings, findings
    assert json.loads((synth.outdir / "validation-report.json").read_text())["pluginReports"] == []


def test_every_acknowledgement_has_a_reason(synth: Synth) -> None:
    acknowledged = []
    for resource in synth.template_json["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert len(rule["reason"]) > 40, rule
            acknowledged.append(rule["id"])
    assert "AwsSolutions-COG4" in acknowledged


def test_stack_is_environment_agnostic(synth: Synth) -> None:
    text = json.dumps(synth.template_json)
    assert "123456789012" not in text.replace("arn:aws:iam::123456789012:role/bot", "")
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stack = next(a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack")
    assert stack["environment"] == "aws://unknown-account/unknown-region"
    assert "missing" not in manifest  # no context lookups


# ---------------------------------------------------------------- invalid config


def test_invalid_config_fails_in_process(tmp_path: Path) -> None:
    from infra.app import build_app
    from llm_mesh.config import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text(INVALID_CONFIG)
    with pytest.raises(ConfigError) as expected:
        load_config(bad)
    with pytest.raises(ConfigError) as raised:
        build_app({"layerMode": "core", "meshConfig": str(bad)}, outdir=str(tmp_path / "out"), build_dir=str(tmp_path / "b"))
    assert raised.value.problems == expected.value.problems
    assert any("inline secrets are not allowed" in p for p in raised.value.problems)


def test_invalid_config_fails_cdk_app_with_the_problem_lines(tmp_path: Path) -> None:
    from llm_mesh.config import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text(INVALID_CONFIG)
    problems = []
    try:
        load_config(bad)
    except ConfigError as exc:
        problems = exc.problems
    env = dict(os.environ, CDK_CONTEXT_JSON=json.dumps({"meshConfig": str(bad), "layerMode": "core"}),
               CDK_OUTDIR=str(tmp_path / "out"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "app.py")], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert problems and all(problem in result.stderr for problem in problems)
    assert not (tmp_path / "out" / "manifest.json").exists()


def _audit_statements(synth: Synth, resource_id: str):
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if any(resource_id in json.dumps(resource) for resource in resources):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                yield statement["Effect"], set(actions)


def test_audit_table_is_append_only_for_the_functions(synth: Synth) -> None:
    """The functions may add to and read the audit chain, never change or delete a record:
    no Allow of an item-changing action, and an explicit Deny of them in every function role."""
    functions = synth.resources("AWS::Lambda::Function").values()
    env = next(iter(functions))["Properties"]["Environment"]["Variables"]
    audit_ids = [env[spec.env_var]["Ref"] for spec in TABLES if spec.append_only]
    assert len(audit_ids) == 1
    changing = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
    statements = list(_audit_statements(synth, audit_ids[0]))
    allowed = [actions for effect, actions in statements if effect == "Allow"]
    denied = [actions for effect, actions in statements if effect == "Deny"]
    assert allowed and all("dynamodb:PutItem" in a and not changing & a for a in allowed)
    assert len(denied) == len(allowed) and all(changing <= d for d in denied)


def test_audit_anchors_are_write_once_and_the_chain_is_keyed(synth: Synth) -> None:
    from aws_cdk.assertions import Match

    synth.template.has_resource_properties("AWS::S3::Bucket", {
        "ObjectLockEnabled": True,
        "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled",
                                    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": Match.any_value()}}},
        "VersioningConfiguration": {"Status": "Enabled"},
    })
    bucket = next(k for k in synth.resources("AWS::S3::Bucket") if "Anchors" in k)
    chain_key = next(k for k in synth.resources("AWS::SecretsManager::Secret") if "ChainKey" in k)
    for function in synth.resources("AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["MESH_AUDIT_ANCHOR_BUCKET"] == {"Ref": bucket} and env["MESH_AUDIT_KEY_SECRET"] == {"Ref": chain_key}
    statements = list(_audit_statements(synth, bucket))
    allowed = set().union(*(a for effect, a in statements if effect == "Allow"))
    denied = set().union(*(a for effect, a in statements if effect == "Deny"))
    assert allowed == {"s3:PutObject"}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:BypassGovernanceRetention",
            "s3:PutBucketObjectLockConfiguration"} <= denied
    key_statements = list(_audit_statements(synth, chain_key))
    assert key_statements and all(s == ("Allow", {"secretsmanager:GetSecretValue"}) for s in key_statements)


# ---------------------------------------------------------------- Bedrock


def _bedrock_resources(synth: Synth) -> dict[str, list[str]]:
    """Policy logical id -> the (JSON-rendered) resources of its Bedrock invoke statement."""
    out = {}
    for logical_id, statement in _statements(synth):
        if statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]:
            out[logical_id] = [json.dumps(r) for r in statement["Resource"]]
    return out


def test_gateway_roles_may_converse_with_exactly_the_declared_bedrock_models(synth: Synth) -> None:
    grants = _bedrock_resources(synth)
    policies = synth.resources("AWS::IAM::Policy")
    roles = {policies[p]["Properties"]["Roles"][0]["Ref"] for p in grants}
    assert any(r.startswith("GatewayBufferedRole") for r in roles) and any(r.startswith("GatewayStreamingRole") for r in roles)
    for resources in grants.values():
        text = " ".join(resources)
        # the cross-region inference profile in the stack's region, its model in any region
        assert "inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0" in text
        assert ':bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0' in text
        # a plain model id in the provider's pinned region, nothing else
        assert ':bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0' in text
        assert len(resources) == 3


# ---------------------------------------------------------------- limits and alarms


def test_stage_throttling_backs_the_apig3_acknowledgement(synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "MethodSettings": Match.array_with([Match.object_like(
            {"HttpMethod": "*", "ResourcePath": "/*", "ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200})])})


def test_account_level_api_gateway_logging_role_is_retained(synth: Synth) -> None:
    [account] = synth.resources("AWS::ApiGateway::Account").values()
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert synth.template_json["Resources"][role_id]["DeletionPolicy"] == "Retain"


def test_gateway_functions_have_reserved_concurrency(synth: Synth) -> None:
    gateway = [f for f in synth.resources("AWS::Lambda::Function").values()
               if f["Properties"]["Description"].startswith("LLM mesh gateway")]
    assert len(gateway) == 2 and all(f["Properties"]["ReservedConcurrentExecutions"] == 50 for f in gateway)


def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def test_infrastructure_alarms_notify_the_alarm_topic(synth: Synth) -> None:
    alarms = _alarms(synth)
    by_metric: dict[tuple[str, str], int] = {}
    for alarm in alarms:
        assert alarm["AlarmActions"] and alarm["TreatMissingData"] == "notBreaching"
        for metric in [alarm] + [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]:
            if "MetricName" in metric:
                key = (metric["Namespace"], metric["MetricName"])
                by_metric[key] = by_metric.get(key, 0) + 1
    functions = len(synth.resources("AWS::Lambda::Function"))
    assert by_metric[("AWS/Lambda", "Errors")] == functions and by_metric[("AWS/Lambda", "Throttles")] == functions
    assert by_metric[("AWS/ApiGateway", "5XXError")] == 1 and by_metric[("AWS/ApiGateway", "Latency")] == 1
    assert by_metric[("AWS/DynamoDB", "WriteThrottleEvents")] == len(TABLES)
    assert by_metric[("AWS/DynamoDB", "ReadThrottleEvents")] == len(TABLES)
    [dropped] = [a for a in alarms if a.get("MetricName") == "DroppedWrites"]
    assert dropped["Namespace"] == "LLMMesh" and dropped["Dimensions"] == [{"Name": "service", "Value": "llm-mesh"}]
