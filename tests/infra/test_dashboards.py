"""The finance and SRE dashboards and their alarms, in a synthesized template (a small stack
of just the dashboards construct, from a config with budgets; no layer build needed)."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.components.dashboards import MeshDashboards  # noqa: E402
from llm_mesh.config import parse_config  # noqa: E402

CONFIG = {
    "providers": {"openai": {"kind": "openai"}, "bedrock": {"kind": "bedrock", "options": {"region": "us-east-1"}}},
    "routes": {"chat": {"targets": [{"provider": "openai", "model": "gpt-4o"},
                                    {"provider": "bedrock", "model": "anthropic.claude-3-5-sonnet-20240620-v1:0"}]}},
    "apps": {"support": {"routes": ["chat"]}, "search": {"routes": ["chat"]}},
    "costs": {"budgets": [
        {"name": "support-monthly", "scope": "app", "match": "support", "limit_usd": "500", "alert_at": [0.8, 1.0]},
        {"name": "pilot", "scope": "tag", "match": "project=pilot", "period": "day", "limit_usd": "5", "mode": "soft", "alert_at": [0.5]},
    ]},
}


@pytest.fixture(scope="module")
def template() -> Template:
    try:
        config = parse_config(CONFIG, "<dashboards>")
    except Exception:  # the bedrock options schema may differ: fall back to no options
        CONFIG["providers"]["bedrock"] = {"kind": "bedrock"}
        config = parse_config(CONFIG, "<dashboards>")
    app = App()
    stack = Stack(app, "Dashboards")
    MeshDashboards(stack, "Dashboards", config=config)
    return Template.from_stack(stack)


def _bodies(template: Template) -> list[str]:
    bodies = []
    for resource in template.find_resources("AWS::CloudWatch::Dashboard").values():
        body = resource["Properties"]["DashboardBody"]
        bodies.append(json.dumps(body))  # Fn::Join of strings and tokens
    return bodies


def test_two_dashboards(template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 2)
    finance, sre = sorted(_bodies(template), key=lambda body: "Budget burn" not in body)
    for needle in ("Spend by app", "Spend by model", "Spend by provider", "Budget burn", "forecast to month end",
                   "RUNNING_SUM(daily) + AVG(daily) * (30 - DATAPOINT_COUNT(daily))", "CostUSD", "support-monthly",
                   "anthropic.claude-3-5-sonnet-20240620-v1:0"):
        assert needle in finance, needle
    for needle in ("Latency p50 / p99", "Time to first token", "Error rate per provider", "Fallback rate per provider",
                   "TimeToFirstToken", "p99", "100 * errors0 / requests0", "100 * fallbacks1 / requests1", "bedrock"):
        assert needle in sre, needle


def test_budget_and_error_rate_alarms(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    # 2 + 1 budget thresholds, one error-rate alarm per provider, one on failed audit appends
    assert len(alarms) == 6
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "AuditAppendFailures", "Namespace": "LLMMesh", "Threshold": 1, "Statistic": "Sum",
        "Dimensions": [{"Name": "service", "Value": "llm-mesh"}],
    })
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "BudgetUsedPercent", "Threshold": 80, "Namespace": "LLMMesh",
        "Dimensions": Match.array_with([{"Name": "budget", "Value": "support-monthly"}]),
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    })
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "BudgetUsedPercent", "Threshold": 50})
    error_alarms = [a for a in alarms.values() if "Metrics" in a["Properties"]]
    assert len(error_alarms) == 2
    expressions = {m.get("Expression") for a in error_alarms for m in a["Properties"]["Metrics"]}
    assert {"100 * errors0 / requests0", "100 * errors1 / requests1"} <= expressions
