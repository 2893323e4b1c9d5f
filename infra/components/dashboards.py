"""CloudWatch dashboards and alarms over the mesh's EMF metrics (llm_mesh.aws.metrics).

Finance: spend by app, model and provider; budget burn (percent of each configured
budget); month-to-date spend and a forecast to the end of a 30-day month by metric
math (running sum of daily spend plus the average daily spend times the days left
in the range). SRE: latency p50/p99 and time to first token per provider, error and
fallback rates per provider, cache hit rate. Alarms: each budget's alert
thresholds, and each provider's error rate, all notifying one SNS topic (``alarm_topic``,
KMS-encrypted with a rotating customer key CloudWatch may use, TLS-only topic policy;
its ARN is the stack output ``AlarmTopicArn``; subscribe on-call to it). The governance
alerts topic (``governance.alerts.sns_topic_arn``) is the policy engine's and is left
alone. The metric names and dimension sets are
the ones the EMF sink writes; apps, models, providers and budgets come from the
validated mesh.yaml, so every widget names real series (no SEARCH, bounded cost).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_mesh.aws.metrics import NAMESPACE, SERVICE

ERROR_RATE_THRESHOLD_PERCENT = 5.0
_HOUR = Duration.hours(1)
_DAY = Duration.days(1)
_FIVE_MIN = Duration.minutes(5)


def _models(config: Any) -> list[str]:
    models = {target.model for route in config.routes.values() for target in route.targets if target.model}
    return sorted(models)


class MeshDashboards(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Any, namespace: str = NAMESPACE,
                 service: str = SERVICE) -> None:
        super().__init__(scope, construct_id)
        self.namespace, self.service = namespace, service
        apps, providers, models = sorted(config.apps), sorted(config.providers), _models(config)
        costs = getattr(config, "costs", None)
        budgets = list(costs.budgets) if costs is not None else []
        self.alarms: list[cw.Alarm] = []

        # ------------------------------------------------------------ finance
        self.finance = cw.Dashboard(self, "Finance", start="-P30D",
                                    period_override=cw.PeriodOverride.INHERIT)
        self.finance.add_widgets(cw.TextWidget(
            markdown="# LLM mesh: spend\nUSD from the cost hook's `CostUSD` metric (the exact amounts are in the "
                     "ledger: `GET /v1/mesh/costs`, `mesh costs --csv`).", width=24, height=2))
        self.finance.add_widgets(
            self._spend_graph("Spend by app (USD/hour)", "app", apps),
            self._spend_graph("Spend by model (USD/hour)", "model", models),
        )
        total_daily = self._metric("CostUSD", {}, "Sum", _DAY, "daily spend")
        mtd = cw.MathExpression(expression="RUNNING_SUM(daily)", using_metrics={"daily": total_daily},
                                label="spend to date (range)", period=_DAY)
        forecast = cw.MathExpression(
            expression="RUNNING_SUM(daily) + AVG(daily) * (30 - DATAPOINT_COUNT(daily))",
            using_metrics={"daily": total_daily}, label="forecast to month end (30-day month)", period=_DAY)
        self.finance.add_widgets(
            self._spend_graph("Spend by provider (USD/hour)", "provider", providers),
            cw.GraphWidget(title="Month to date and forecast (USD)", left=[mtd, forecast], width=12, height=6),
        )
        if budgets:
            burn = [self._metric("BudgetUsedPercent", {"budget": b.name}, "Maximum", _HOUR, b.name) for b in budgets]
            self.finance.add_widgets(cw.GraphWidget(
                title="Budget burn (% of limit)", left=burn, width=24, height=6,
                left_annotations=[cw.HorizontalAnnotation(value=100, label="limit")]))
            for budget in budgets:
                for fraction in sorted(set(budget.alert_at)):
                    percent = round(fraction * 100, 2)
                    self.alarms.append(cw.Alarm(
                        self, f"Budget{_cid(budget.name)}At{_cid(str(percent))}",
                        alarm_description=f"budget {budget.name} ({budget.mode}, {budget.period} ${budget.limit_usd}) "
                                          f"passed {percent}% of its limit",
                        metric=self._metric("BudgetUsedPercent", {"budget": budget.name}, "Maximum", _FIVE_MIN, None),
                        threshold=percent, evaluation_periods=1,
                        comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        treat_missing_data=cw.TreatMissingData.NOT_BREACHING))

        # ------------------------------------------------------------ SRE
        self.sre = cw.Dashboard(self, "Sre", start="-PT6H")
        self.sre.add_widgets(cw.TextWidget(
            markdown="# LLM mesh: providers\nLatency is the whole request as the mesh saw it; time to first token "
                     "for streams. Error and fallback rates per provider (the provider that answered or failed last).",
            width=24, height=2))
        by_provider = lambda name, stat, label: [  # noqa: E731
            self._metric(name, {"provider": p}, stat, _FIVE_MIN, f"{p} {label}") for p in providers]
        self.sre.add_widgets(
            cw.GraphWidget(title="Latency p50 / p99 (ms)", left=by_provider("Latency", "p50", "p50") + by_provider("Latency", "p99", "p99"), width=12, height=6),
            cw.GraphWidget(title="Time to first token p50 / p99 (ms)", left=by_provider("TimeToFirstToken", "p50", "p50") + by_provider("TimeToFirstToken", "p99", "p99"), width=12, height=6),
        )
        error_rates, fallback_rates = [], []
        for index, provider in enumerate(providers):
            e, r, f = f"errors{index}", f"requests{index}", f"fallbacks{index}"  # ids are unique per graph
            requests = self._metric("Requests", {"provider": provider}, "Sum", _FIVE_MIN, "requests")
            errors = self._metric("Errors", {"provider": provider}, "Sum", _FIVE_MIN, "errors")
            fallbacks = self._metric("Fallbacks", {"provider": provider}, "Sum", _FIVE_MIN, "fallbacks")
            error_rate = cw.MathExpression(expression=f"100 * {e} / {r}", using_metrics={e: errors, r: requests},
                                           label=f"{provider} error %", period=_FIVE_MIN)
            error_rates.append(error_rate)
            fallback_rates.append(cw.MathExpression(
                expression=f"100 * {f} / {r}", using_metrics={f: fallbacks, r: requests},
                label=f"{provider} fallback %", period=_FIVE_MIN))
            self.alarms.append(cw.Alarm(
                self, f"ErrorRate{_cid(provider)}",
                alarm_description=f"provider {provider}: more than {ERROR_RATE_THRESHOLD_PERCENT}% of requests failed (5 min)",
                metric=error_rate, threshold=ERROR_RATE_THRESHOLD_PERCENT, evaluation_periods=3, datapoints_to_alarm=2,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
        all_requests = self._metric("Requests", {}, "Sum", _FIVE_MIN, "requests")
        cache_rate = cw.MathExpression(
            expression="100 * hits / requests", label="cache hit %", period=_FIVE_MIN,
            using_metrics={"hits": self._metric("CacheHits", {}, "Sum", _FIVE_MIN, "hits"), "requests": all_requests})
        self.sre.add_widgets(
            cw.GraphWidget(title="Error rate per provider (%)", left=error_rates, width=8, height=6),
            cw.GraphWidget(title="Fallback rate per provider (%)", left=fallback_rates, width=8, height=6),
            cw.GraphWidget(title="Cache hit rate (%)", left=[cache_rate], width=8, height=6),
        )

        # An audit append that still failed after its retries is kept and retried (audit.writers);
        # any such failure pages someone: the trail must not quietly fall behind.
        self.alarms.append(cw.Alarm(
            self, "AuditAppendFailures",
            alarm_description="audit trail: appends failed (kept in memory/spill files and retried; see function logs)",
            metric=self._metric("AuditAppendFailures", {}, "Sum", _FIVE_MIN, None), threshold=1, evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
        self.alarm_topic = self._alarm_topic() if self.alarms else None

    def notify(self, alarms: list[cw.Alarm]) -> None:
        """Send more alarms (infrastructure ones) to the same topic, creating it if none exists yet."""
        if self.alarm_topic is None:
            self.alarms.extend(alarms)
            self.alarm_topic = self._alarm_topic()
            return
        action = cw_actions.SnsAction(self.alarm_topic)
        for alarm in alarms:
            alarm.add_alarm_action(action)
        self.alarms.extend(alarms)

    def _alarm_topic(self) -> sns.Topic:
        """The alarms' SNS topic, encrypted with a key CloudWatch may use (it cannot use aws/sns)."""
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY,
                      description="LLM mesh: encrypts the alarm notifications topic")
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"]))  # "*" in a key policy = this key
        topic = sns.Topic(self, "AlarmTopic", display_name="LLM mesh alarms", master_key=key, enforce_ssl=True)
        topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"], resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}))
        action = cw_actions.SnsAction(topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
        CfnOutput(Stack.of(self), "AlarmTopicArn", value=topic.topic_arn,
                  description="SNS topic notified by every mesh alarm (subscribe on-call here)")
        return topic

    def _metric(self, name: str, dimensions: dict[str, str], statistic: str, period: Duration, label: str | None) -> cw.Metric:
        return cw.Metric(namespace=self.namespace, metric_name=name, dimensions_map={"service": self.service, **dimensions},
                         statistic=statistic, period=period, label=label)

    def _spend_graph(self, title: str, dimension: str, values: list[str]) -> cw.GraphWidget:
        metrics = [self._metric("CostUSD", {dimension: value}, "Sum", _HOUR, value) for value in values]
        return cw.GraphWidget(title=title, left=metrics, stacked=True, width=12, height=6)


def _cid(value: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in value)
