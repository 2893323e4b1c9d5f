"""Observability in the synthesized stack: X-Ray tracing and Powertools settings on every
function, the alarms' SNS topic (KMS, TLS only) as the action of every budget and
error-rate alarm, its ARN as an output, the governance alerts topic left alone, cdk-nag
clean. One module-scoped synth of a config that turns on every function-bearing
component (gateway pair, redaction, agents, OpenSearch knowledge base) and budgets."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from llm_mesh.aws.metrics import NAMESPACE  # noqa: E402

GOVERNANCE_TOPIC = "arn:aws:sns:eu-west-1:123456789012:mesh-alerts"
CONFIG = textwrap.dedent(
    """
    version: 1
    providers:
      echo: {kind: echo}
      openai: {kind: openai, base_url: https://api.openai.com/v1, api_key: {secret: mesh/openai, field: api_key}}
      bedrock: {kind: bedrock}
    routes:
      echo: {provider: echo, model: echo-1, knowledge_base: handbook}
      chat: {provider: openai, model: gpt-4o-mini}
      fast: {provider: bedrock, model: amazon.nova-lite-v1:0}
    apps:
      bot: {routes: [chat, echo], principals: ["arn:aws:iam::123456789012:role/bot"]}
    knowledge_bases:
      handbook:
        store: {kind: opensearch}
        embedding: {kind: hashing, dimensions: 256}
        readers: [bot]
    agents:
      tools:
        orders: {kind: sql, sqlite: "DB_PATH", tables: [orders], max_rows: 50}
      definitions:
        analyst: {instructions: You answer questions about orders., route: chat, tools: [orders], max_steps: 4,
                  max_cost_usd: "1.00", timeout: 60}
    costs:
      budgets:
        - {name: bot-monthly, scope: app, match: bot, limit_usd: "500", alert_at: [0.8, 1.0]}
    governance:
      alerts: {sns_topic_arn: GOVERNANCE_TOPIC}
    """
).replace("GOVERNANCE_TOPIC", GOVERNANCE_TOPIC)

# Function descriptions -> the POWERTOOLS_SERVICE_NAME each must carry (instrument(...) in its handler).
SERVICES = {
    "LLM mesh gateway, buffered": "llm-mesh",
    "LLM mesh gateway, streamed": "llm-mesh",
    "LLM mesh redaction": "llm-mesh-redact",
    "LLM mesh agent tasks": "llm-mesh-agents",
    "LLM mesh knowledge-base ingestion": "llm-mesh-kb",
    "LLM mesh: creates the knowledge-base vector indexes": "llm-mesh-kb-index",
}
ROOT = Path(__file__).resolve().parents[2]


class Synth:
    def __init__(self, app: Any, template: dict[str, Any]) -> None:
        self.app, self.template = app, template

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def mesh_functions(self) -> dict[str, dict[str, Any]]:
        """Every function but CDK's own S3 bucket-notification handler (a CDK singleton)."""
        return {k: v for k, v in self.resources("AWS::Lambda::Function").items()
                if not k.startswith("BucketNotificationsHandler")}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    from infra.app import build_app

    base = tmp_path_factory.mktemp("cdk-obs")
    (base / "orders.db").touch()
    config_path = base / "mesh.yaml"
    config_path.write_text(CONFIG.replace("DB_PATH", str(base / "orders.db")))
    app, stack = build_app({"layerMode": "core", "meshConfig": str(config_path)},
                           outdir=str(base / "out"), build_dir=str(base / "build"))
    template = app.synth().get_stack_by_name(stack.stack_name).template  # unacknowledged cdk-nag findings raise
    return Synth(app, template)


def test_every_function_is_traced_with_powertools_settings(synth: Synth) -> None:
    functions = synth.mesh_functions()
    seen = set()
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id
        env = props["Environment"]["Variables"]
        [service] = [s for prefix, s in SERVICES.items() if props["Description"].startswith(prefix)]
        seen.add(props["Description"].split(" (")[0])
        assert env["POWERTOOLS_SERVICE_NAME"] == service, logical_id
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE == "LLMMesh"
        assert env["AWS_XRAY_CONTEXT_MISSING"] == "IGNORE_ERROR"
        assert env["POWERTOOLS_TRACE_DISABLED"] == "true"  # SDK subsegments opt-in (-c xraySubsegments=true)
    assert len(functions) == len(SERVICES) == len(seen)


def test_handlers_use_the_service_names_of_their_functions() -> None:
    for directory, services in {"gateway": ["llm-mesh"], "redact": ["llm-mesh-redact"],
                                "agent_tasks": ["llm-mesh-agents"], "kb_ingest": ["llm-mesh-kb", "llm-mesh-kb-index"]}.items():
        text = (ROOT / "functions" / directory / "handler.py").read_text()
        for service in services:
            assert f'@instrument("{service}"' in text, directory
    assert "llm_mesh.aws.observability:build_streaming_app" in (ROOT / "functions/gateway_stream/run.sh").read_text()


def test_the_only_resource_star_statements_are_xray_and_service_actions(synth: Synth) -> None:
    allowed = {"xray:PutTraceSegments", "xray:PutTelemetryRecords",
               "xray:GetSamplingRules", "xray:GetSamplingTargets",  # the state machine's tracing
               # Step Functions' logging delivery (the state machine role), no resource-level permissions either
               "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
               "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
               "logs:DescribeLogGroups"}
    xray_roles = set()
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        if logical_id.startswith("BucketNotificationsHandler"):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == "*":
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert set(actions) <= allowed, (logical_id, actions)
                if "xray:PutTraceSegments" in actions:
                    xray_roles.update(r["Ref"] for r in policy["Properties"]["Roles"])
    function_roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in synth.mesh_functions().values()}
    assert function_roles <= xray_roles


def test_xray_acknowledgement_names_the_reason(synth: Synth) -> None:
    reasons = [rule["reason"] for r in synth.resources("AWS::IAM::Policy").values()
               for rule in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
               if rule["id"] == "AwsSolutions-IAM5[Resource::*]"]
    reasons += [rule["reason"] for r in synth.resources("AWS::IAM::Role").values()
                for rule in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
                if rule["id"] == "AwsSolutions-IAM5[Resource::*]"]
    assert any("xray:PutTraceSegments" in reason and "resource-level" in reason for reason in reasons), reasons


def test_alarm_topic_is_encrypted_tls_only_and_the_action_of_every_alarm(synth: Synth) -> None:
    [(topic_id, topic)] = synth.resources("AWS::SNS::Topic").items()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.template["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
               and set(s["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"} for s in key_statements)
    [policy] = synth.resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    assert any(s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
               and s["Action"] == "sns:Publish" for s in statements)

    alarms = synth.resources("AWS::CloudWatch::Alarm")
    descriptions = [a["Properties"]["AlarmDescription"] for a in alarms.values()]
    assert sum("budget bot-monthly" in d for d in descriptions) == 2
    assert sum(d.startswith("provider ") for d in descriptions) == 3  # echo, openai, bedrock
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], logical_id

    outputs = synth.template["Outputs"]
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": topic_id}


def test_governance_alerts_topic_is_left_alone(synth: Synth) -> None:
    text = json.dumps(synth.template)
    assert GOVERNANCE_TOPIC in text  # the policy engine may publish to it...
    for resource in synth.template["Resources"].values():  # ...but nothing manages, subscribes to or alarms on it
        if resource["Type"] in ("AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::CloudWatch::Alarm"):
            assert GOVERNANCE_TOPIC not in json.dumps(resource)
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        assert GOVERNANCE_TOPIC not in json.dumps(alarm["Properties"]["AlarmActions"])


def test_api_stage_is_traced(synth: Synth) -> None:
    [stage] = synth.resources("AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["TracingEnabled"] is True


def test_cdk_nag_clean(synth: Synth) -> None:
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(synth.app)
    findings = [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations]
    assert report.success and not findings, findings


def test_agent_task_role_gets_what_the_pipeline_it_runs_needs(synth: Synth) -> None:
    """Agent runs call models, retrieve from the knowledge base and apply governance like the gateway."""
    task_id, task = next((k, v) for k, v in synth.mesh_functions().items()
                         if v["Properties"]["Description"].startswith("LLM mesh agent tasks"))
    assert "MESH_OPENSEARCH_ENDPOINT" in task["Properties"]["Environment"]["Variables"]
    role_id = task["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions.update(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    assert {"aoss:APIAccessAll", "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "sns:Publish"} <= actions
    data_policy = next(iter(synth.resources("AWS::OpenSearchServerless::AccessPolicy").values()))
    assert role_id in json.dumps(data_policy["Properties"]["Policy"])


def test_agent_failures_and_ingest_dead_letters_raise_alarms(synth: Synth) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    [executions] = [a for a in alarms if a["AlarmDescription"].startswith("Step Functions")]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in executions["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    [dlq_alarm] = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    [(queue_id, queue)] = synth.resources("AWS::SQS::Queue").items()
    assert dlq_alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    [invoke_config] = synth.resources("AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_executions_that_end_badly_invoke_the_task_function(synth: Synth) -> None:
    [rule] = synth.resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"] and pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    [(machine_id, _)] = synth.resources("AWS::StepFunctions::StateMachine").items()
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": machine_id}]
    task_id = next(k for k, v in synth.mesh_functions().items()
                   if v["Properties"]["Description"].startswith("LLM mesh agent tasks"))
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [task_id, "Arn"]}
