"""What every ``mesh`` subcommand shares: finding and loading the config, opening the
embedded store, the common options and table output.

Kept apart from :mod:`llm_mesh.cli.main` (which registers the subcommands) so a
subcommand module never imports the module that imports it.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from llm_mesh.cli.paths import config_dir_env, data_option, find_config  # noqa: F401  (data_option: shared)
from llm_mesh.config import ConfigError, MeshConfig, load_config, parse_config

# Used when no mesh.yaml is found: the echo test double behind one route.
BUILTIN_CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"local": {"routes": "*", "admin": True}},
}


def _config_path(explicit: str | None) -> Path | None:
    return find_config(explicit)


def _load(explicit: str | None) -> tuple[MeshConfig, str]:
    path = _config_path(explicit)
    try:
        if path is None:
            return parse_config(BUILTIN_CONFIG, "<built-in>"), "<built-in echo config>"
        config_dir_env(path)
        return load_config(path), str(path.resolve())
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _stores(data_dir: str):
    from llm_mesh.stores.sqlite import open_sqlite_stores

    return open_sqlite_stores(Path(data_dir) / "mesh.db")


config_option = click.option("--config", "config_file", default=None, help="mesh.yaml (default: $MESH_CONFIG, else the nearest mesh.yaml)")


def _time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    if not rows:
        click.echo("(none)")
