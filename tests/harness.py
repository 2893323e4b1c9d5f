"""Run a real mesh server on loopback for end-to-end tests.

``serve_mesh(config)`` starts the FastAPI app under uvicorn in a background
thread with its own event loop, on the embedded SQLite store in a temporary
directory, and creates an API key for app "test" (added with access to every
route unless the config declares it). Clients (the openai and anthropic SDKs)
talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import copy
import os
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import uvicorn

from llm_mesh.config import parse_config
from llm_mesh.http.app import create_app
from llm_mesh.identity import ApiKeyAuthenticator, new_key
from llm_mesh.runtime import MeshRuntime, build_runtime
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.stores.sqlite import open_sqlite_stores


@dataclass
class RunningMesh:
    root_url: str
    api_key: str
    runtime: MeshRuntime
    data_dir: Path
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def key_for(self, app: str) -> str:
        if app not in self.keys:
            secret, _ = new_key(app, self.runtime.stores.keys)
            self.keys[app] = secret
        return self.keys[app]

    def flush_logs(self) -> None:
        self.runtime.log_writer.flush()


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


@contextmanager
def serve_mesh(config: dict[str, Any], env: dict[str, str] | None = None, home: str = "local",
               stores: Any = None) -> Iterator[RunningMesh]:
    """A mesh on a free loopback port, in a thread. ``stores``: a store bundle to serve on
    (e.g. DynamoDB Local's; the caller closes it), else a fresh SQLite file."""
    raw = copy.deepcopy(config)
    raw.setdefault("apps", {}).setdefault("test", {"routes": "*", "admin": True})
    mesh_config = parse_config(raw, "<test config>")
    with tempfile.TemporaryDirectory(prefix="mesh-test-") as tmp:
        owned = stores is None
        stores = open_sqlite_stores(Path(tmp) / "mesh.db") if owned else stores
        secrets = EnvSecretResolver({**os.environ, **(env or {})})
        runtime = build_runtime(mesh_config, stores, secrets, ApiKeyAuthenticator(mesh_config, stores.keys), home=home)  # type: ignore[arg-type]
        app = create_app(runtime)
        sock = _free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the mesh test server did not start")
            time.sleep(0.01)
        secret, _ = new_key("test", stores.keys)
        running = RunningMesh(root_url=f"http://127.0.0.1:{port}", api_key=secret, runtime=runtime, data_dir=Path(tmp))
        running.keys["test"] = secret
        try:
            yield running
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            if owned:
                stores.close()
