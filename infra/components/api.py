"""The REST API: AWS_IAM on every method, streaming for chat, buffered for the rest."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

# Paths answered by the streaming function (POST only): API Gateway invokes it with
# InvokeWithResponseStream, so SSE chunks reach the client as they are produced.
STREAMING_PATHS = (("v1", "chat", "completions"), ("v1", "messages"))
STREAM_TIMEOUT = Duration.minutes(5)
IAM = apigw.AuthorizationType.IAM
DEFAULT_RATE_LIMIT = 100.0  # cdk context throttleRateLimit
DEFAULT_BURST_LIMIT = 200  # cdk context throttleBurstLimit


class MeshApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        buffered: lambda_.IFunction,
        streaming: lambda_.IFunction,
        stage_name: str = "prod",
        throttling_rate_limit: float = DEFAULT_RATE_LIMIT,
        throttling_burst_limit: int = DEFAULT_BURST_LIMIT,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="LLM mesh: OpenAI-compatible gateway (SigV4 / IAM auth)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,  # the account-level role API Gateway needs for execution logs
            # The role is account-wide (API Gateway's one logging role): other APIs may use it, keep it.
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            default_method_options=apigw.MethodOptions(authorization_type=IAM),
            deploy_options=_stage_options(stage_name, self.access_logs, throttling_rate_limit, throttling_burst_limit),
        )
        # No API Gateway request validator: the app validates every body and answers in
        # OpenAI's error shape; API Gateway's own 400s would break the SDKs' error handling.
        buffered_integration = apigw.LambdaIntegration(buffered, proxy=True, scope_permission_to_method=False)
        self.streaming_integration = apigw.LambdaIntegration(
            streaming,
            proxy=True,
            scope_permission_to_method=False,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=STREAM_TIMEOUT,
        )

        def any_method(resource: apigw.IResource) -> None:
            resource.add_method("ANY", buffered_integration, authorization_type=IAM)

        def proxy(resource: apigw.IResource) -> None:
            any_method(resource.add_resource("{proxy+}"))

        root = self.rest_api.root
        any_method(root)
        proxy(root)
        resources: dict[tuple[str, ...], apigw.IResource] = {(): root}
        for path in STREAMING_PATHS:
            for depth in range(1, len(path) + 1):
                key = path[:depth]
                if key not in resources:
                    resource = resources[key[:-1]].add_resource(key[-1])
                    resources[key] = resource
                    any_method(resource)  # other methods and sub-paths still reach the app
                    if depth < len(path):
                        proxy(resource)
            resources[path].add_method(
                "POST", self.streaming_integration, authorization_type=IAM)

    @property
    def url(self) -> str:
        return self.rest_api.url


def _stage_options(stage_name: str, access_logs: logs.ILogGroup, rate_limit: float, burst_limit: int) -> apigw.StageOptions:
    return apigw.StageOptions(
        stage_name=stage_name,
        access_log_destination=apigw.LogGroupLogDestination(access_logs),
        access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
            caller=True,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=True,
        ),
        logging_level=apigw.MethodLoggingLevel.ERROR,
        data_trace_enabled=False,  # never log request/response bodies (prompts)
        metrics_enabled=True,
        tracing_enabled=True,
        # Stage-wide ceiling (requests/s, burst) before the mesh's per-app rate limits apply.
        throttling_rate_limit=rate_limit,
        throttling_burst_limit=burst_limit,
    )
