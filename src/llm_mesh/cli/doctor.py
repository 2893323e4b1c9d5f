"""``mesh doctor``: check config, store, keys, provider credentials and reachability,
and print what to fix. Exit status 1 when something needs fixing."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from llm_mesh.cli.paths import data_option, find_config


@dataclass
class Report:
    problems: int = 0
    lines: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.lines.append(f"  ok    {what}")

    def warn(self, what: str, fix: str) -> None:
        self.lines.append(f"  warn  {what}\n        fix: {fix}")

    def fail(self, what: str, fix: str) -> None:
        self.problems += 1
        self.lines.append(f"  FAIL  {what}\n        fix: {fix}")


def _check_config(report: Report, config_file: str | None) -> Any:
    from llm_mesh.config import ConfigError, load_config

    path = find_config(config_file)
    if path is None:
        report.warn("no mesh.yaml here or in a parent folder; the built-in echo config applies",
                    "pass --config FILE, export MESH_CONFIG, or run from the repo")
        return None
    try:
        config = load_config(path)
    except ConfigError as exc:
        report.fail(f"config {path} is invalid:\n" + "\n".join(f"          {p}" for p in exc.problems),
                    f"edit {path}; `mesh validate {path}` re-checks it")
        return None
    report.ok(f"config {path.resolve()}: {len(config.providers)} providers, {len(config.routes)} routes, {len(config.apps)} apps")
    return config


def _check_store(report: Report, data_dir: str) -> Any:
    from llm_mesh.stores.sqlite import open_sqlite_stores

    path = Path(data_dir) / "mesh.db"
    if not path.exists():
        report.warn(f"no store yet at {path}", "`mesh serve` creates it on first run (or pass --data DIR)")
        return None
    try:
        stores = open_sqlite_stores(path)
    except Exception as exc:  # any open failure is the finding itself
        report.fail(f"cannot open the store {path}: {type(exc).__name__}: {exc}", "check the file's permissions or move it away")
        return None
    if stores.ping():
        report.ok(f"store {path}")
    else:
        report.fail(f"store {path} does not answer", "check disk space and permissions")
    return stores


def _check_keys(report: Report, config: Any, stores: Any) -> None:
    if stores is None or config is None:
        return
    active: dict[str, int] = {}
    for record in stores.keys.list_keys():
        if record.active:
            active[record.app] = active.get(record.app, 0) + 1
    stale = sorted(set(active) - set(config.apps))
    for app in config.apps:
        if active.get(app):
            report.ok(f"app {app!r}: {active[app]} active key(s)")
        elif not config.apps[app].principals:
            report.warn(f"app {app!r} has no API key", f"mesh keys create --app {app}")
    if stale:
        report.warn(f"keys for apps the config no longer declares: {', '.join(stale)}", "mesh keys list; mesh keys revoke KEY_ID")


def _credential_env(provider: Any) -> str | None:
    ref = getattr(provider, "api_key", None)
    return getattr(ref, "env", None) if ref is not None else None


def _check_providers(report: Report, config: Any, timeout: float) -> None:
    import httpx

    if config is None:
        return
    for name, provider in config.providers.items():
        env = _credential_env(provider)
        if env and not os.environ.get(env):
            report.warn(f"provider {name!r}: ${env} is not set (its targets answer 503 or fail over)",
                        f"export {env}=... before `mesh serve`, or remove the provider from mesh.yaml")
            continue
        if not provider.base_url:
            report.ok(f"provider {name!r} ({provider.kind})")
            continue
        try:
            httpx.get(provider.base_url, timeout=timeout)
        except httpx.HTTPError as exc:
            report.warn(f"provider {name!r}: {provider.base_url} is unreachable ({type(exc).__name__})",
                        "start that server or check the network; routes fail over to their next target meanwhile")
        else:
            report.ok(f"provider {name!r}: {provider.base_url} answers")


def _check_server(report: Report, url: str, timeout: float) -> None:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError:
        report.warn(f"no mesh is listening on {url}", "start it with scripts/serve (or `mesh serve`)")
        return
    report.ok(f"mesh at {url}: /health {response.status_code} {response.text.strip()[:80]}")


@click.command("doctor")
@click.option("--config", "config_file", default=None, help="mesh.yaml (default: $MESH_CONFIG, else the nearest mesh.yaml)")
@data_option
@click.option("--url", default="http://127.0.0.1:8080", show_default=True, help="where a running mesh would listen")
@click.option("--timeout", default=2.0, show_default=True, help="seconds per reachability probe")
def doctor(config_file: str | None, data_dir: str, url: str, timeout: float) -> None:
    """Check config, store, keys, provider credentials and reachability; print what to fix."""
    report = Report()
    config = _check_config(report, config_file)
    stores = _check_store(report, data_dir)
    _check_keys(report, config, stores)
    _check_providers(report, config, timeout)
    _check_server(report, url, timeout)
    if stores is not None:
        stores.close()
    click.echo("\n".join(report.lines))
    click.echo(f"\n{report.problems} problem(s) to fix" if report.problems else "\nall checks passed")
    sys.exit(1 if report.problems else 0)
