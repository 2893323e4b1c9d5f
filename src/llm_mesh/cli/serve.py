"""``mesh serve``: run the gateway locally on the embedded default (SQLite, env secrets).

The listening socket is bound before anything is printed, so a busy port is the
first and only thing a user sees, never a banner with a key for a server that is
not running. Knowledge bases with ``seed`` folders are ingested on the first run.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import sys
from pathlib import Path

import click

from llm_mesh.cli.paths import config_dir_env, data_option, find_config


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen now; exits with a clear message when the address is taken or invalid."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            hint = f"port {port} on {host} is already in use (another `mesh serve`?); pick another with --port {port + 1}"
        elif exc.errno == errno.EACCES:
            hint = f"no permission to listen on {host}:{port}; use a port above 1024"
        else:
            hint = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        click.echo(f"mesh serve: {hint}", err=True)
        sys.exit(1)
    return sock


def seed_knowledge_bases(runtime, config_path: Path | None) -> list[str]:  # type: ignore[no-untyped-def]
    """Ingest each knowledge base's ``seed`` paths when it is still empty; returns what was done."""
    from llm_mesh.kb.rag import find_rag_hook

    hook = find_rag_hook(runtime.service)
    if hook is None:
        return []
    hook.knowledge_bases.bind_service(runtime.service)
    base = config_path.resolve().parent if config_path else Path.cwd()
    done = []
    for name, kb_config in hook.knowledge_bases.configs.items():
        seeds = [base / seed for seed in getattr(kb_config, "seed", ()) if (base / seed).exists()]
        if not seeds:
            continue
        knowledge_base = hook.knowledge_bases.get(name)
        if knowledge_base.ingester().store.count() > 0:
            continue
        with contextlib.chdir(base):  # sources are named relative to mesh.yaml, wherever serve runs
            report = asyncio.run(knowledge_base.ingester().ingest([str(s.relative_to(base)) for s in seeds]))
        summary = report.as_dict()
        done.append(f"knowledge base {name!r}: ingested {summary['added']} documents ({summary['chunks']} chunks)")
    return done


def warm_up() -> None:
    """Load what the first request would otherwise wait for (the tokenizer's encoding: ~0.4 s)."""
    from llm_mesh.tokens import count_text

    count_text("warm up")


def _server_options(log_level: str, server_config: object) -> dict:
    from llm_mesh.http.server_protocol import server_options

    # the protocol is uvicorn's httptools one (h11 without httptools) with a header deadline
    options: dict = {"log_level": log_level, "access_log": False, **server_options(server_config)}
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        pass
    return options


@click.command()
@click.option("--config", "config_file", default=None, help="mesh.yaml (default: $MESH_CONFIG, else the nearest mesh.yaml)")
@data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--log-level", default="warning", show_default=True)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="worker processes")
def serve(config_file: str | None, data_dir: str, host: str, port: int, log_level: str, workers: int) -> None:
    """Run the gateway locally on the embedded default (SQLite, env secrets)."""
    import uvicorn

    from llm_mesh.cli.banner import print_banner
    from llm_mesh.cli.common import BUILTIN_CONFIG, _load, _stores
    from llm_mesh.http.app import create_app
    from llm_mesh.identity import ApiKeyAuthenticator, new_key
    from llm_mesh.runtime import build_runtime
    from llm_mesh.secrets import EnvSecretResolver

    sock = bind_socket(host, port)
    config_path = find_config(config_file)
    config_dir_env(config_path)
    config, source = _load(config_file)
    stores = _stores(data_dir)
    runtime = build_runtime(config, stores, EnvSecretResolver(), ApiKeyAuthenticator(config, stores.keys), home="local")
    app = create_app(runtime)
    notes = seed_knowledge_bases(runtime, config_path)
    warm_up()
    key = None
    if config.apps and not any(record.active for record in stores.keys.list_keys()):
        key, _ = new_key(next(iter(config.apps)), stores.keys)
    port = sock.getsockname()[1]  # the real one when --port 0
    print_banner(runtime, f"http://{host}:{port}", source, Path(data_dir), notes, key)
    sys.stdout.flush()
    options = _server_options(log_level, config.server)
    if workers == 1:
        uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
        return
    sock.close()  # uvicorn's supervisor binds again for its workers
    os.environ["MESH_CONFIG"] = str(config_path) if config_path else ""
    os.environ["MESH_DATA_DIR"] = data_dir
    if config_path is None:
        os.environ["MESH_BUILTIN_CONFIG"] = json.dumps(BUILTIN_CONFIG)
    runtime.log_writer.close()
    uvicorn.run("llm_mesh.cli.serve_factory:app_from_env", factory=True, workers=workers, host=host, port=port, **options)
