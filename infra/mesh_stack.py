"""The LLM mesh stack: tables, gateway functions, REST API; validated by cdk-nag.

Environment-agnostic (no account or region needed, no context lookups), so
``cdk synth`` runs anywhere without AWS credentials. The mesh config is validated
first: an invalid mesh.yaml raises ``ConfigError`` and nothing is synthesized.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from aws_cdk import Acknowledgment, CfnOutput, Stack, Validations
from constructs import Construct
from pydantic import BaseModel

from infra.components.agents import build_agents
from infra.components.alarms import InfraAlarms
from infra.components.api import DEFAULT_BURST_LIMIT, DEFAULT_RATE_LIMIT, MeshApi
from infra.components.dashboards import MeshDashboards
from infra.components.fleet import FleetEndpoints
from infra.components.functions import LWA_DEFAULT_VERSION, GatewayFunctions
from infra.components.opensearch import build_knowledge_bases
from infra.components.model_access import grant_model_access
from infra.components.redact import RedactFunction, governance_statements
from infra.components.self_hosted import SelfHostedEndpoints
from infra.components.tables import MeshTables
from llm_mesh.aws.deploy_checks import deploy_problems
from llm_mesh.config import ConfigError, MeshConfig, load_config
from llm_mesh.config.schema import SecretRef

ROOT = Path(__file__).resolve().parent.parent


def secret_names(config: MeshConfig) -> list[str]:
    """Every Secrets Manager secret referenced anywhere in the config (any section)."""

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, SecretRef):
            if value.secret:
                yield value.secret
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                yield from walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from walk(item)

    return sorted(set(walk(config)))


class MeshStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config_path: Path | str,
        build_dir: Path | str | None = None,
        core_only_layer: bool = False,
        lwa_layer_version: int = LWA_DEFAULT_VERSION,
        allow_private_upstreams: bool = False,
        throttle_rate_limit: float = DEFAULT_RATE_LIMIT,
        throttle_burst_limit: int = DEFAULT_BURST_LIMIT,
        reserved_concurrency: int | None = None,
        **kwargs: Any,
    ) -> None:
        # Validate before creating anything: ConfigError carries one "path: message" per problem,
        # the same lines as `mesh validate --home aws` (one shared list of deploy checks).
        config_path = Path(config_path)
        self.mesh_config = load_config(config_path)
        problems = deploy_problems(self.mesh_config, allow_private_upstreams=allow_private_upstreams)
        if problems:
            raise ConfigError(str(config_path), problems)
        super().__init__(scope, construct_id, **kwargs)

        from layers.build import DEFAULT_BUILD_DIR, build_layer, stage_function

        build_dir = Path(build_dir) if build_dir is not None else DEFAULT_BUILD_DIR
        layer_dir = build_layer(build_dir, core_only=core_only_layer)

        self.tables = MeshTables(self, "Tables")
        self.functions = GatewayFunctions(
            self,
            "Gateway",
            tables=self.tables,
            layer_dir=layer_dir,
            buffered_code_dir=stage_function("gateway", config_path, build_dir),
            streaming_code_dir=stage_function("gateway_stream", config_path, build_dir),
            secret_names=secret_names(self.mesh_config),
            lwa_layer_version=lwa_layer_version,
        )
        self.self_hosted = SelfHostedEndpoints(self, "SelfHosted", endpoints=self.mesh_config.self_hosted, grantees=(self.functions.buffered, self.functions.streaming))
        fleet = self.mesh_config.fleet
        self.fleet = FleetEndpoints(self, "Fleet", fleet=fleet, grantees=(self.functions.buffered, self.functions.streaming)) if fleet is not None and fleet.deploy else None
        if reserved_concurrency is not None:  # a ceiling per gateway function, so one mesh cannot starve the account
            for function in (self.functions.buffered, self.functions.streaming):
                function.node.default_child.reserved_concurrent_executions = reserved_concurrency
        self.api = MeshApi(self, "Api", buffered=self.functions.buffered, streaming=self.functions.streaming,
                           throttling_rate_limit=throttle_rate_limit, throttling_burst_limit=throttle_burst_limit)
        self.dashboards = MeshDashboards(self, "Dashboards", config=self.mesh_config)  # finance + SRE, alarms
        self.redact = RedactFunction(self, "Redact", functions=self.functions, api=self.api, config=self.mesh_config, code_dir=stage_function("redact", config_path, build_dir), tables=self.tables, secrets=secret_names(self.mesh_config))
        self.agents = build_agents(self, config_path=config_path, build_dir=build_dir)
        self.knowledge_bases = build_knowledge_bases(self, config_path=config_path, build_dir=build_dir)
        self._grant_model_callers()
        self.infra_alarms = InfraAlarms(self, "Alarms", stack=self)
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL; the OpenAI base_url is <ApiUrl>v1")
        self._acknowledge_nag_findings()

    def _grant_model_callers(self) -> None:
        """Bedrock/SageMaker invoke on every function that calls models; the agent task role also gets
        what the gateway's governance and self-hosted endpoints need (it runs the same pipeline)."""
        callers = [self.functions.buffered, self.functions.streaming]
        if self.agents is not None:
            task = self.agents.task_function
            callers.append(task)
            for statement in governance_statements(self, self.mesh_config):
                task.add_to_role_policy(statement)
            if any(s.resources == ["*"] for s in governance_statements(self, self.mesh_config)):
                _ack(task.role, "AwsSolutions-IAM5[Resource::*]",
                     "comprehend:DetectPiiEntities and X-Ray support no resource-level permissions; '*' is required.")
            self.self_hosted.grant_invoke(task)
            if self.fleet is not None:
                self.fleet.grant_invoke(task)
        if self.knowledge_bases is not None:
            callers.append(self.knowledge_bases.ingest_function)  # embeddings go through the config's routes
        grant_model_access(self, self.mesh_config, [function.role for function in callers])

    def _acknowledge_nag_findings(self) -> None:
        """Each remaining cdk-nag finding, acknowledged on the construct it applies to, with its reason."""
        for function in (self.functions.buffered, self.functions.streaming):
            _ack(
                function,
                "AwsSolutions-L1",
                "Pinned to python3.12 on purpose: the shared layer's binary wheels (pydantic-core, tiktoken, "
                "uvloop) are built for cp312 by layers/build.py; runtime and layer are upgraded together.",
            )
        rest_api = self.api.rest_api
        _ack(
            rest_api,
            "AwsSolutions-COG4",
            "Every method uses AWS_IAM authorization (SigV4): callers are applications with IAM roles, "
            "mapped to mesh apps by principal ARN; there are no end-user Cognito identities.",
        )
        _ack(
            rest_api,
            "AwsSolutions-APIG2",
            "Request bodies are validated by the gateway app, which answers in OpenAI's error shape "
            "(the SDKs parse it); API Gateway's own validation errors would not be in that shape.",
        )
        _ack(
            rest_api,
            "AwsSolutions-APIG3",
            "The API is IAM-authorized on every method and throttled per stage (throttleRateLimit/"
            "throttleBurstLimit context); a WAFv2 web ACL is an organisation-level choice that can be "
            "associated with the stage without changing this stack.",
        )
        _ack(
            rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway uses to write execution and access logs; this AWS managed "
            "policy is the one AWS documents for it and grants only CloudWatch Logs writes.",
        )


def _ack(scope: Construct, rule: str, reason: str) -> None:
    # cdk-nag v3 reads acknowledgements from the construct or any ancestor; the id is
    # recorded as "Annotation::<rule>", which cdk-nag matches before reporting.
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
