"""The agent state machine (Amazon States Language, JSONPath), built by the CDK app.

One Lambda function runs every task (``functions/agent_tasks``), dispatching on
``task``; each Task passes the whole state as ``state`` and takes the handler's
return value as the new state. Transitions mirror ``llm_mesh.agents.runner``::

    Route -> Redact -> InvokeModel -> Decide -> Next?
      Next? = tools -> RunTools (Map over $.pending, RunTool per call) -> Decide
      Next? = model -> Redact
      otherwise     -> Done

Every Task retries Lambda service faults with backoff; Redact, InvokeModel and
RunTools catch anything else into ``$.error`` and go to Decide, which ends the
run as failed and records why. A rejected start (unknown agent, no permission)
or a failing Decide ends the execution in a Fail state.

The state holds ids, counters and small fields only (the conversation is in the
runs store, see ``llm_mesh.agents.handlers``), so no run nears the 256 KiB limit
on a state; each Map item carries the id of its call, and returns a summary.
"""

from __future__ import annotations

import json
from typing import Any

FUNCTION_ARN_VARIABLE = "AgentTaskFunctionArn"  # a DefinitionSubstitutions key
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def _task(task: str, next_state: str | None, function_arn: str, *, timeout: int, catch_to: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload": {"task": task, "state.$": "$"}},
        "OutputPath": "$.Payload",
        "TimeoutSeconds": timeout,
        "Retry": [
            {"ErrorEquals": TRANSIENT_LAMBDA_ERRORS, "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
        ],
    }
    if catch_to is not None:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}]
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def definition(function_arn: str = "${" + FUNCTION_ARN_VARIABLE + "}", *, task_timeout: int = 300,
               max_concurrency: int = 4, timeout_seconds: int | None = None) -> dict[str, Any]:
    route = _task("route", "Redact", function_arn, timeout=60, catch_to="Rejected")
    route["Catch"][0]["ResultPath"] = "$.error"
    decide = _task("decide", "Next?", function_arn, timeout=60, catch_to="DecideFailed")
    run_tools = {
        "Type": "Map",
        "ItemsPath": "$.pending",
        "ItemSelector": {
            "run.$": "$.run",
            "route.$": "$.route",
            "turn.$": "$.turn",
            "calls_at.$": "$.calls_at",
            "index.$": "$$.Map.Item.Index",
            "call.$": "$$.Map.Item.Value",
        },
        "MaxConcurrency": max_concurrency,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "RunTool",
            "States": {"RunTool": _task("run_tool", None, function_arn, timeout=task_timeout, catch_to=None)},
        },
        "ResultPath": "$.tool_results",
        "Next": "Decide",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Decide"}],
    }
    machine: dict[str, Any] = {
        "Comment": "LLM mesh agent run: route, redact, invoke the model, run tool calls, loop until an answer or a limit",
        "StartAt": "Route",
        "States": {
            "Route": route,
            "Redact": _task("redact", "InvokeModel", function_arn, timeout=60, catch_to="Decide"),
            "InvokeModel": _task("invoke_model", "Decide", function_arn, timeout=task_timeout, catch_to="Decide"),
            "Decide": decide,
            "Next?": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.next", "StringEquals": "tools", "Next": "RunTools"},
                    {"Variable": "$.next", "StringEquals": "model", "Next": "Redact"},
                ],
                "Default": "Done",
            },
            "RunTools": run_tools,
            "Done": {"Type": "Succeed"},
            "Rejected": {"Type": "Fail", "Error": "AgentRunRejected", "Cause": "the run could not start (unknown agent or no permission)"},
            "DecideFailed": {"Type": "Fail", "Error": "AgentDecideFailed", "Cause": "the run could not be finalised"},
        },
    }
    if timeout_seconds is not None:
        machine["TimeoutSeconds"] = timeout_seconds
    return machine


def definition_json(**kwargs: Any) -> str:
    return json.dumps(definition(**kwargs), separators=(",", ":"))
