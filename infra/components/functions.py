"""The gateway Lambda functions: buffered (mangum) and streaming (Lambda Web Adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from aws_cdk import Acknowledgment, ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.components.tables import MeshTables
from llm_mesh.aws.metrics import NAMESPACE as METRICS_NAMESPACE

RUNTIME = lambda_.Runtime.PYTHON_3_12  # the layer's wheels are built for cp312 (layers/build.py)
ARCHITECTURE = lambda_.Architecture.X86_64  # matches the layer's manylinux2014_x86_64 wheels
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# AWS Lambda Web Adapter, published by AWS in every commercial region under account
# 753240598075 (github.com/aws/aws-lambda-web-adapter). Built from the region token: no lookup.
LWA_ACCOUNT = "753240598075"
LWA_LAYER_NAME = "LambdaAdapterLayerX86"
LWA_DEFAULT_VERSION = 27
LWA_PORT = "8080"

# Observability (llm_mesh.aws.observability): every function is traced by X-Ray and logs JSON
# through Powertools; the metrics namespace is the EMF sink's.
TRACING = lambda_.Tracing.ACTIVE
LOG_LEVEL = "INFO"
XRAY_REASON = ("Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
               "resource-level permissions, so '*' is the only resource they accept (CDK adds exactly these two).")


XRAY_SUBSEGMENTS_CONTEXT = "xraySubsegments"


def observability_env(service: str, scope: Construct | None = None) -> dict[str, str]:
    """Powertools settings for one function (its service name in logs and traces).

    X-Ray SDK subsegments (the handler and botocore calls inside the invocation) are opt-in,
    ``cdk synth -c xraySubsegments=true``: building the SDK's Tracer costs 0.25-0.45 s of CPU
    on every cold start (bench/cold_start.py), and active tracing (``TRACING``) records each
    invocation's segment in X-Ray without it.
    """
    subsegments = scope is not None and str(scope.node.try_get_context(XRAY_SUBSEGMENTS_CONTEXT)).lower() == "true"
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "false" if subsegments else "true",
        # Work on background threads (the agent tasks' event loop) has no X-Ray segment: skip, don't log.
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }


def acknowledge_tracing(function: lambda_.Function) -> None:
    """cdk-nag IAM5 for the X-Ray statement that ``tracing=ACTIVE`` adds to the function's role."""
    Validations.of(function.role).acknowledge(Acknowledgment(id="AwsSolutions-IAM5[Resource::*]", reason=XRAY_REASON))


def lwa_layer_arn(version: int) -> str:
    return f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{LWA_ACCOUNT}:layer:{LWA_LAYER_NAME}:{version}"


def secret_arns(stack: Stack, names: Iterable[str]) -> list[str]:
    """ARNs for Secrets Manager secrets named in the config.

    A name becomes ``arn:...:secret:<name>-??????`` (Secrets Manager appends six
    random characters; ``?`` matches exactly one); a full ARN is used as given.
    """
    arns = []
    for name in sorted(set(names)):
        if name.startswith("arn:"):
            arns.append(name)
        else:
            arns.append(
                stack.format_arn(
                    service="secretsmanager",
                    resource="secret",
                    resource_name=f"{name}-??????",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            )
    return arns


class GatewayFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tables: MeshTables,
        layer_dir: Path,
        buffered_code_dir: Path,
        streaming_code_dir: Path,
        secret_names: Iterable[str] = (),
        lwa_layer_version: int = LWA_DEFAULT_VERSION,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.shared_layer = lambda_.LayerVersion(
            self,
            "SharedLayer",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="llm_mesh core and its runtime dependencies",
        )
        self.web_adapter_layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "WebAdapterLayer", lwa_layer_arn(lwa_layer_version)
        )
        environment = {
            **tables.environment(),
            "MESH_HOME": "aws",
            "MESH_CONFIG": "/var/task/mesh.yaml",
            **observability_env("llm-mesh", self),
        }
        secrets = secret_arns(stack, secret_names)

        self.buffered = self._function(
            "Buffered",
            description="LLM mesh gateway, buffered responses (mangum)",
            code_dir=buffered_code_dir,
            handler="handler.handler",
            layers=[self.shared_layer],
            timeout=Duration.seconds(29),  # API Gateway's buffered integration limit
            environment=environment,
            tables=tables,
            secrets=secrets,
        )
        self.streaming = self._function(
            "Streaming",
            description="LLM mesh gateway, streamed responses (AWS Lambda Web Adapter)",
            code_dir=streaming_code_dir,
            handler="run.sh",
            layers=[self.shared_layer, self.web_adapter_layer],
            timeout=Duration.minutes(5),
            environment={
                **environment,
                "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                "AWS_LWA_INVOKE_MODE": "response_stream",
                "AWS_LWA_PORT": LWA_PORT,
                "PORT": LWA_PORT,
            },
            tables=tables,
            secrets=secrets,
        )

    def _function(
        self,
        name: str,
        *,
        description: str,
        code_dir: Path,
        handler: str,
        layers: list[lambda_.ILayerVersion],
        timeout: Duration,
        environment: dict[str, str],
        tables: MeshTables,
        secrets: list[str],
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        # Own role without the AWS managed basic-execution policy: logs only to its group.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"LLM mesh {name.lower()} gateway function",
        )
        log_group.grant_write(role)
        tables.grant_data(role)
        if secrets:
            role.add_to_policy(
                iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=secrets)
            )
        function = lambda_.Function(
            self,
            name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(code_dir)),
            handler=handler,
            layers=layers,
            memory_size=1024,
            timeout=timeout,
            environment=environment,
            role=role,
            log_group=log_group,
            tracing=TRACING,
        )
        acknowledge_tracing(function)
        return function
