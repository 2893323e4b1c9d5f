"""The agent-task Lambda's core: ``dispatch({"task": NAME, "state": {...}})`` runs one handler.

The environment (config from ``MESH_CONFIG``, DynamoDB stores from ``MESH_TABLE_*``,
Secrets Manager, the runs table) is built once per warm instance. Handlers are
async; they run on one long-lived event loop in a background thread, so pooled
provider connections survive between invocations and any caller thread can use it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Callable

from llm_mesh.agents.handlers import HANDLERS
from llm_mesh.agents.execution_status import execution_ended, is_execution_status_event

_env: Any = None
_env_factory: Callable[[], Any] | None = None
_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="agent-tasks-loop", daemon=True).start()
            _loop = loop
        return _loop


def build_aws_env() -> Any:
    """AgentEnv over the AWS home, exactly as the gateway function builds its runtime."""
    from llm_mesh.agents.env import env_from_runtime
    from llm_mesh.aws.lambda_entry import config_path
    from llm_mesh.aws.secrets import SecretsManagerResolver
    from llm_mesh.config import load_config
    from llm_mesh.identity import IamPrincipalAuthenticator
    from llm_mesh.runtime import build_runtime
    from llm_mesh.stores.dynamodb import open_dynamodb_stores

    config = load_config(config_path())
    stores = open_dynamodb_stores(endpoint_url=os.environ.get("MESH_DYNAMODB_ENDPOINT") or None)
    runtime = build_runtime(config, stores, SecretsManagerResolver(), IamPrincipalAuthenticator(config), home="aws")
    return env_from_runtime(runtime)


def set_env_factory(factory: Callable[[], Any] | None) -> None:
    """Replace how the environment is built (tests); closes and drops the cached one."""
    global _env, _env_factory
    with _lock:
        old, _env, _env_factory = _env, None, factory
    if getattr(old, "service", None) is not None and _loop is not None:
        asyncio.run_coroutine_threadsafe(old.service.providers.aclose(), _loop).result(timeout=10)


def environment() -> Any:
    global _env
    with _lock:
        if _env is None:
            factory = _env_factory or build_aws_env
            _env = factory()
        return _env


def dispatch(event: dict[str, Any]) -> dict[str, Any]:
    if is_execution_status_event(event):  # EventBridge: an execution ended badly (see agents.execution_status)
        return execution_ended(environment().store, event.get("detail") or {})
    task = event.get("task")
    handler = HANDLERS.get(task)  # type: ignore[arg-type]
    if handler is None:
        raise ValueError(f"unknown agent task {task!r}; known: {', '.join(HANDLERS)}")
    env = environment()
    future = asyncio.run_coroutine_threadsafe(handler(env, event.get("state") or {}), _background_loop())
    return future.result()
