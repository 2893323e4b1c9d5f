"""Build an AgentEnv on a real local runtime (SQLite stores, env secrets, API-key auth)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from llm_mesh.agents.env import AgentEnv, env_from_runtime
from llm_mesh.config import parse_config
from llm_mesh.identity import ApiKeyAuthenticator
from llm_mesh.runtime import build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.stores.sqlite import open_sqlite_stores


@asynccontextmanager
async def local_env(config: dict[str, Any], tmp: Path) -> AsyncIterator[AgentEnv]:
    mesh_config = parse_config(config, "<agent test>")
    stores = open_sqlite_stores(tmp / "mesh.db")
    runtime = build_runtime(
        mesh_config, stores, EnvSecretResolver({"FAKE_UPSTREAM_KEY": "k"}),
        ApiKeyAuthenticator(mesh_config, stores.keys), background_log=False,
    )
    try:
        yield env_from_runtime(runtime)
    finally:
        await runtime.aclose()
        stores.close()
