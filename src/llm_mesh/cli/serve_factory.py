"""Build the local app from environment variables, for multi-worker serving.

``mesh serve --workers N`` hands uvicorn this factory (each worker process builds
its own runtime on the same SQLite file, which WAL mode shares safely).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from llm_mesh.config import load_config, parse_config


def build_local_app(config_path: str | None, data_dir: str, builtin: dict | None = None) -> FastAPI:
    from llm_mesh.http.app import create_app
    from llm_mesh.http.server_protocol import configure as configure_server
    from llm_mesh.identity import ApiKeyAuthenticator
    from llm_mesh.runtime import build_runtime
    from llm_mesh.secrets import EnvSecretResolver
    from llm_mesh.stores.sqlite import open_sqlite_stores

    config = load_config(config_path) if config_path else parse_config(builtin or {}, "<built-in>")
    configure_server(config.server)  # this worker's header deadline (its protocol class is uvicorn's copy)
    stores = open_sqlite_stores(Path(data_dir) / "mesh.db")
    runtime = build_runtime(config, stores, EnvSecretResolver(), ApiKeyAuthenticator(config, stores.keys), home="local")
    return create_app(runtime)


def app_from_env() -> FastAPI:
    import json
    import multiprocessing

    from llm_mesh.cli.parent_watch import watch_parent

    if multiprocessing.parent_process() is not None:  # a worker of uvicorn's supervisor: end with it
        watch_parent()

    builtin = json.loads(os.environ["MESH_BUILTIN_CONFIG"]) if os.environ.get("MESH_BUILTIN_CONFIG") else None
    return build_local_app(os.environ.get("MESH_CONFIG") or None, os.environ.get("MESH_DATA_DIR", ".mesh"), builtin)
