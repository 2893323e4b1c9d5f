"""Synchronous agent runs within API Gateway's 29 s: wait so long, then hand back a poll URL.

API Gateway ends any request at 29 s (REST) / 30 s (HTTP API), whatever the function is
still doing. A sync run (``mode: "sync"`` or ``?wait=true``) therefore waits at most
``agents.sync_wait_seconds`` (25 s by default) for its run to finish: if it has, the answer
is the whole run (200); if not, the run carries on where it runs (the server's event loop,
or its Step Functions execution) and the answer is 202 with the run and ``poll_url``
(also ``Location``), exactly as an async start. A gateway Lambda without a state machine
cannot keep a run going after it answers, so there the run stays inline (see http.agents).
"""

from __future__ import annotations

import asyncio
from typing import Any

POLL_SECONDS = 0.5  # between reads of a Step Functions run's record


def poll_url(agent: str, run_id: str) -> str:
    return f"/v1/mesh/agents/{agent}/runs/{run_id}"


async def wait_for_run(store: Any, run_id: str, seconds: float, *, task: "asyncio.Task[Any] | None" = None,
                       poll_seconds: float = POLL_SECONDS) -> dict[str, Any] | None:
    """The finished run (with ``steps_detail``), or None while it is still running after ``seconds``.

    With ``task`` (the run in this process) its result is awaited; otherwise (a Step Functions
    execution) the run's record is read until its status leaves ``running``."""
    if task is not None:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        return task.result() if done else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        run = await asyncio.to_thread(store.get_run, run_id)
        if run is not None and run.get("status") != "running":
            run["steps_detail"] = await asyncio.to_thread(store.steps, run_id)
            return run
        left = deadline - loop.time()
        if left <= 0:
            return None
        await asyncio.sleep(min(poll_seconds, left))
