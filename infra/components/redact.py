"""Redaction as a service: its own Lambda function behind ``POST /v1/mesh/redact``,
plus the AWS permissions governance needs (SNS alerts, Comprehend / Bedrock Guardrails
detectors, KMS for audit payloads) on the functions that apply policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.api import IAM, MeshApi
from infra.components.functions import GatewayFunctions
from llm_mesh.policy.governance import governance_of


def governance_statements(stack: Stack, config: Any) -> list[iam.PolicyStatement]:
    """Least-privilege statements for what the config's governance section uses."""
    gov = governance_of(config)
    out = []
    if gov.alerts.sns_topic_arn:
        out.append(iam.PolicyStatement(actions=["sns:Publish"], resources=[gov.alerts.sns_topic_arn]))
    detectors = [d for ds in gov.detectors.values() for d in ds]
    if any(d.kind == "comprehend" for d in detectors):
        # DetectPiiEntities has no resource-level permissions: "*" is the only resource it accepts.
        out.append(iam.PolicyStatement(actions=["comprehend:DetectPiiEntities"], resources=["*"]))
    guardrails = sorted({d.guardrail_id for d in detectors if d.kind == "bedrock_guardrail" and d.guardrail_id})
    if guardrails:
        arns = [g if g.startswith("arn:") else stack.format_arn(service="bedrock", resource="guardrail", resource_name=g,
                                                                 arn_format=ArnFormat.SLASH_RESOURCE_NAME) for g in guardrails]
        out.append(iam.PolicyStatement(actions=["bedrock:ApplyGuardrail"], resources=arns))
    key = gov.audit.payload_key if gov.audit else None
    if key is not None and key.kms_key_id:
        arn = key.kms_key_id if key.kms_key_id.startswith("arn:") else stack.format_arn(
            service="kms", resource="key", resource_name=key.kms_key_id, arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        out.append(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[arn]))
    return out


class RedactFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: GatewayFunctions,
        api: MeshApi,
        config: Any,
        code_dir: Path,
        tables: Any,
        secrets: Iterable[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        from infra.components.functions import observability_env, secret_arns

        self.function: lambda_.Function = functions._function(
            "Redact",
            description="LLM mesh redaction as a service (POST /v1/mesh/redact)",
            code_dir=code_dir,
            handler="handler.handler",
            layers=[functions.shared_layer],
            timeout=Duration.seconds(29),
            environment={**tables.environment(), "MESH_HOME": "aws", "MESH_CONFIG": "/var/task/mesh.yaml",
                         **observability_env("llm-mesh-redact", self)},
            tables=tables,
            secrets=secret_arns(stack, secrets),
        )
        statements = governance_statements(stack, config)
        for fn in (self.function, functions.buffered, functions.streaming):
            for statement in statements:
                fn.add_to_role_policy(statement)
        Validations.of(self.function).acknowledge(Acknowledgment(
            id="AwsSolutions-L1",
            reason="Pinned to python3.12 with the shared layer's cp312 wheels (layers/build.py), like the gateway functions.",
        ))
        if any(s.resources == ["*"] for s in statements):
            for fn in (self.function, functions.buffered, functions.streaming):
                Validations.of(fn.role).acknowledge(Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="comprehend:DetectPiiEntities supports no resource-level permissions; '*' is required.",
                ))

        # /v1/mesh/redact -> this function; the rest of /v1/mesh/* keeps going to the buffered gateway.
        root = api.rest_api.root
        v1 = root.get_resource("v1") or root.add_resource("v1")
        mesh = v1.get_resource("mesh")
        if mesh is None:
            buffered = apigw.LambdaIntegration(functions.buffered, proxy=True, scope_permission_to_method=False)
            mesh = v1.add_resource("mesh")
            mesh.add_method("ANY", buffered, authorization_type=IAM)
            mesh.add_resource("{proxy+}").add_method("ANY", buffered, authorization_type=IAM)
        redact = mesh.add_resource("redact")
        redact.add_method("POST", apigw.LambdaIntegration(self.function, proxy=True), authorization_type=IAM)
