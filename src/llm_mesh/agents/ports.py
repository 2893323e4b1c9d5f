"""What the agent tools need from the code that runs them, as ports.

A delegate tool runs another agent or asks a route, which is the runner's job;
the runner calls the tools. The tools see only this signature, so tools,
handlers and runner import in one direction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from llm_mesh.agents.config import DelegateTool

# (env, run record, the delegate tool, the task, the child's depth) -> the answer text
Delegate = Callable[[Any, dict[str, Any], "DelegateTool", str, int], Awaitable[str]]
