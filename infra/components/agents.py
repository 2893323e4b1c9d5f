"""Agent runs on AWS: the agent-task Lambda and the Step Functions state machine.

The definition is ``llm_mesh.agents.machine.definition()`` (the same one the tests
execute under moto), with the task function's ARN substituted at deploy time. The
gateway functions get ``MESH_AGENT_STATE_MACHINE`` and may start and describe
executions. Nothing is created when mesh.yaml declares no agents. The agents
section is cross-checked (routes, tools) here, so a bad agent never deploys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.components.functions import (ARCHITECTURE, LOG_RETENTION, RUNTIME, TRACING, acknowledge_tracing,
                                        observability_env, secret_arns)
from llm_mesh.agents.execution_status import BAD_ENDINGS, DETAIL_TYPE
from llm_mesh.agents.machine import FUNCTION_ARN_VARIABLE, definition_json
from llm_mesh.config import ConfigError

TASK_TIMEOUT_S = 300


class AgentOrchestration(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stack: Any, config_path: Path, build_dir: Path,
                 secret_names: list[str]) -> None:
        super().__init__(scope, construct_id)
        from layers.build import stage_function

        config = stack.mesh_config
        problems = config.agents.problems(config.routes)
        if problems:
            raise ConfigError(str(config_path), problems)
        gateway = stack.functions
        log_group = logs.LogGroup(self, "TaskLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="LLM mesh agent task function")
        log_group.grant_write(role)
        stack.tables.grant_data(role)
        secrets = secret_arns(Stack.of(self), secret_names)
        if secrets:
            role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=secrets))
        self.task_function = lambda_.Function(
            self, "TaskFunction",
            description="LLM mesh agent tasks (route, redact, invoke_model, run_tool, decide)",
            runtime=RUNTIME, architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(stage_function("agent_tasks", config_path, build_dir))),
            handler="handler.handler", layers=[gateway.shared_layer], memory_size=1024,
            timeout=Duration.seconds(TASK_TIMEOUT_S),
            environment={**stack.tables.environment(), "MESH_HOME": "aws", "MESH_CONFIG": "/var/task/mesh.yaml",
                         **observability_env("llm-mesh-agents", self)},
            role=role, log_group=log_group, tracing=TRACING,
        )
        acknowledge_tracing(self.task_function)
        longest = max((a.timeout for a in config.agents.definitions.values()), default=300)
        machine_logs = logs.LogGroup(self, "MachineLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            definition_body=sfn.DefinitionBody.from_string(
                definition_json(task_timeout=TASK_TIMEOUT_S, timeout_seconds=int(longest) + 600)
            ),
            definition_substitutions={FUNCTION_ARN_VARIABLE: self.task_function.function_arn},
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=machine_logs, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        self.task_function.grant_invoke(self.state_machine.role)
        # Endings no Catch sees (256 KiB state limit, execution timeout, StopExecution) still fail the run.
        self.ended_badly = events.Rule(
            self, "ExecutionEndedBadly", description="LLM mesh: mark agent runs failed when their execution ends badly",
            event_pattern=events.EventPattern(source=["aws.states"], detail_type=[DETAIL_TYPE], detail={
                "status": list(BAD_ENDINGS), "stateMachineArn": [self.state_machine.state_machine_arn]}),
            targets=[targets.LambdaFunction(self.task_function, retry_attempts=4)])
        for function in (gateway.buffered, gateway.streaming):
            function.add_environment("MESH_AGENT_STATE_MACHINE", self.state_machine.state_machine_arn)
            self.state_machine.grant_start_execution(function)
        _ack(self.task_function, "AwsSolutions-L1",
             "Pinned to python3.12 with the shared layer's cp312 wheels (layers/build.py); upgraded together.")
        function_id = Stack.of(self).get_logical_id(self.task_function.node.default_child)
        _ack(self.state_machine, f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
             "CDK's grant_invoke also allows the task function's versions and aliases (<arn>:*), nothing else.")
        _ack(self.state_machine, "AwsSolutions-IAM5[Resource::*]",
             "X-Ray tracing and CloudWatch Logs delivery actions support no resource-level permissions.")


def _ack(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def build_agents(stack: Any, *, config_path: Path | str, build_dir: Path | str | None) -> AgentOrchestration | None:
    """The agents component, or None when the config declares no agents."""
    if not stack.mesh_config.agents.definitions:
        return None
    from layers.build import DEFAULT_BUILD_DIR
    from infra.mesh_stack import secret_names

    return AgentOrchestration(stack, "Agents", stack=stack, config_path=Path(config_path),
                              build_dir=Path(build_dir) if build_dir is not None else DEFAULT_BUILD_DIR,
                              secret_names=secret_names(stack.mesh_config))
