"""Runs whose Step Functions execution ended badly are marked failed.

Some endings are invisible to the state machine's own Catch blocks: a state that
outgrows the 256 KiB payload limit (``States.DataLimitExceeded``), the execution
timeout, an operator's StopExecution. An EventBridge rule on "Step Functions
Execution Status Change" (FAILED, TIMED_OUT, ABORTED) invokes the agent task
function with that event; the execution's name is the run id. A run already
finished (the machine's own ``_finish``) is left as it is.
"""

from __future__ import annotations

import time
from typing import Any

DETAIL_TYPE = "Step Functions Execution Status Change"
BAD_ENDINGS = ("FAILED", "TIMED_OUT", "ABORTED")


def is_execution_status_event(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.states" and event.get("detail-type") == DETAIL_TYPE


def execution_ended(store: Any, detail: dict[str, Any]) -> dict[str, Any]:
    """Mark the execution's run failed if it is still running; returns what was done."""
    run_id, status = str(detail.get("name") or ""), str(detail.get("status") or "")
    if status not in BAD_ENDINGS:
        return {"run_id": run_id, "updated": False, "reason": f"status {status or '?'} needs nothing"}
    run = store.get_run(run_id) if run_id else None
    if run is None or run.get("status") != "running":
        return {"run_id": run_id, "updated": False, "reason": "no running run of that id"}
    # The error *name* only: an execution's "cause" can quote state data (prompts, tool output).
    error_name = str(detail.get("error") or status)
    now = time.time()
    store.update_run(run_id, {
        "status": "failed", "updated_at": now, "ended_at": now, "stop_reason": f"execution_{status.lower()}",
        "error": {"code": f"execution_{status.lower()}",
                  "message": f"the agent's Step Functions execution ended {status} ({error_name})"},
    })
    store.drop_messages(run_id)  # the run's working conversation is of no further use
    return {"run_id": run_id, "updated": True, "reason": error_name}
