"""Alarms on the infrastructure itself, beside the EMF-metric alarms of ``dashboards``:
Lambda errors and throttles per function, API Gateway 5xx and latency near its 29 s
limit, DynamoDB throttling per table, Step Functions executions that end badly, the
ingest dead-letter queue, and background writes (request log, audit, ledger) the
gateway gave up on (``DroppedWrites``, emitted by ``llm_mesh.gateway.metrics_observer``).
All notify the dashboards' alarm topic.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_mesh.aws.metrics import NAMESPACE, SERVICE

_FIVE_MIN = Duration.minutes(5)
API_P99_LATENCY_MS = 25_000  # API Gateway cuts buffered integrations at 29 s
API_5XX_PER_5_MIN = 5


def _cid(value: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in value.title())


class InfraAlarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stack: Any) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cw.Alarm] = []
        for name, function in self._functions(stack).items():
            self._alarm(f"{name}Errors", f"Lambda {name}: invocations failed (unhandled error or timeout)",
                        function.metric_errors(period=_FIVE_MIN, statistic="Sum"), 1)
            self._alarm(f"{name}Throttles", f"Lambda {name}: invocations throttled (reserved or account concurrency)",
                        function.metric_throttles(period=_FIVE_MIN, statistic="Sum"), 1)
        api = stack.api.rest_api
        self._alarm("Api5xx", f"API Gateway: {API_5XX_PER_5_MIN} or more 5xx answers in 5 minutes",
                    api.metric_server_error(period=_FIVE_MIN, statistic="Sum"), API_5XX_PER_5_MIN)
        self._alarm("ApiLatencyP99", f"API Gateway: p99 latency above {API_P99_LATENCY_MS} ms (the limit is 29 s)",
                    api.metric_latency(period=_FIVE_MIN, statistic="p99"), API_P99_LATENCY_MS, periods=3)
        for logical, table in stack.tables.tables.items():
            throttled = cw.MathExpression(
                expression="reads + writes", period=_FIVE_MIN, label=f"{logical} throttle events",
                using_metrics={"reads": table.metric("ReadThrottleEvents", period=_FIVE_MIN, statistic="Sum"),
                               "writes": table.metric("WriteThrottleEvents", period=_FIVE_MIN, statistic="Sum")})
            self._alarm(f"Table{_cid(logical)}Throttles", f"DynamoDB {logical}: reads or writes throttled", throttled, 1)
        if stack.agents is not None:
            machine = stack.agents.state_machine
            ended_badly = cw.MathExpression(
                expression="failed + timedout + aborted", period=_FIVE_MIN, label="executions ended badly",
                using_metrics={"failed": machine.metric_failed(period=_FIVE_MIN, statistic="Sum"),
                               "timedout": machine.metric_timed_out(period=_FIVE_MIN, statistic="Sum"),
                               "aborted": machine.metric_aborted(period=_FIVE_MIN, statistic="Sum")})
            self._alarm("AgentExecutionsFailed", "Step Functions: agent executions failed, timed out or were aborted",
                        ended_badly, 1)
        if stack.knowledge_bases is not None:
            queue = stack.knowledge_bases.ingest_dlq
            self._alarm("IngestDeadLetters", "Knowledge-base ingest: S3 events failed every retry (see the DLQ)",
                        queue.metric_approximate_number_of_messages_visible(period=_FIVE_MIN, statistic="Maximum"), 1)
        self._alarm("DroppedWrites", "Gateway: request-log, audit or ledger writes were dropped",
                    cw.Metric(namespace=NAMESPACE, metric_name="DroppedWrites", dimensions_map={"service": SERVICE},
                              period=_FIVE_MIN, statistic="Sum"), 1)
        stack.dashboards.notify(self.alarms)

    @staticmethod
    def _functions(stack: Any) -> dict[str, Any]:
        out = {"GatewayBuffered": stack.functions.buffered, "GatewayStreaming": stack.functions.streaming,
               "Redact": stack.redact.function}
        if stack.agents is not None:
            out["AgentTasks"] = stack.agents.task_function
        if stack.knowledge_bases is not None:
            out["KbIngest"] = stack.knowledge_bases.ingest_function
        return out

    def _alarm(self, construct_id: str, description: str, metric: cw.IMetric, threshold: float, periods: int = 1) -> None:
        self.alarms.append(cw.Alarm(
            self, construct_id, alarm_description=description, metric=metric, threshold=threshold,
            evaluation_periods=periods, comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
