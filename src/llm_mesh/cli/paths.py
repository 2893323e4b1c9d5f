"""Where the CLI finds its config and its data, whatever the working directory.

The config is ``--config``, else ``$MESH_CONFIG``, else the nearest ``mesh.yaml`` in the
working directory or one of its parents (as git finds ``.git``). The data directory
(SQLite store, knowledge-base vectors) is ``--data``, else ``$MESH_DATA``, else ``.mesh/``
next to that config file: a server started from the repo and a ``mesh keys create`` run
from a sub-folder share one store. Without any config file it is the user's data
folder, never the working directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

CONFIG_NAME = "mesh.yaml"
DATA_NAME = ".mesh"


def find_config(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("MESH_CONFIG")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llm-mesh"


def resolve_data_dir(explicit: str | None, config_file: str | None) -> tuple[Path, str]:
    """The data directory and why it is that one (printed so users can see which store they use)."""
    if explicit:
        return Path(explicit).resolve(), "--data"
    env = os.environ.get("MESH_DATA") or os.environ.get("MESH_DATA_DIR")
    if env:
        return Path(env).resolve(), "$MESH_DATA"
    config = find_config(config_file)
    if config is not None:
        return (config.resolve().parent / DATA_NAME), f"next to {config.resolve()}"
    return user_data_dir(), "no mesh.yaml found here or above; the user data folder"


def _resolve_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    # --config is processed first when given on the command line, or when declared before --data.
    path, reason = resolve_data_dir(value, ctx.params.get("config_file"))
    if value is None and sys.stderr.isatty():  # for the person at the terminal; pipes and tests stay clean
        click.echo(f"data: {path}  ({reason})", err=True)
    return str(path)


data_option = click.option(
    "--data", "--data-dir", "data_dir", default=None, callback=_resolve_callback,
    help="data directory (default: $MESH_DATA, else .mesh/ next to the config file)",
)


def config_dir_env(path: Path | None) -> None:
    """Relative paths inside mesh.yaml (prompts folder, SQLite tools) mean relative to the file."""
    if path is None:
        return
    folder = path.resolve().parent
    os.environ.setdefault("MESH_CONFIG_DIR", str(folder))
