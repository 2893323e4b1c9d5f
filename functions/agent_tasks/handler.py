"""Agent task Lambda: one function for every task of the agent state machine.

Step Functions invokes it with ``{"task": "route"|"redact"|"invoke_model"|"run_tool"|"decide",
"state": {...}}`` and takes the returned dict as the next state. The work is in
``llm_mesh.agents.lambda_tasks`` (built once per warm instance).
"""

from __future__ import annotations

from typing import Any

from llm_mesh.aws.observability import AGENT_TASK, instrument


@instrument("llm-mesh-agents", correlation_id_path=AGENT_TASK)  # Logger (correlation: the agent run) + Tracer
def handler(event: dict, context: Any) -> dict:
    from llm_mesh.agents.lambda_tasks import dispatch

    return dispatch(event)
