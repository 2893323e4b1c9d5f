"""The ``mesh`` command: run, validate and administer the mesh locally."""

from __future__ import annotations

import sys

import click

from llm_mesh.config import ConfigError, load_config
from llm_mesh.config.loader import json_schema

from llm_mesh.cli.common import (  # noqa: F401  (_config_path, BUILTIN_CONFIG: used by tests and serve_factory)
    BUILTIN_CONFIG,
    _config_path,
    _load,
    _stores,
    _table,
    _time,
    config_option,
    data_option,
)


@click.group()
def cli() -> None:
    """LLM mesh: one governed, OpenAI-compatible endpoint for every model."""


@cli.command()
@click.argument("config_file", type=click.Path())
@click.option("--home", type=click.Choice(["local", "aws"]), default="local", show_default=True,
              help="aws: also run every check `cdk synth` runs before deploying")
@click.option("--allow-private-upstreams", is_flag=True, help="aws: accept private-range base_urls (VPC targets)")
def validate(config_file: str, home: str, allow_private_upstreams: bool) -> None:
    """Check a mesh.yaml; print every problem with its path."""
    from llm_mesh.aws.deploy_checks import deploy_problems, principal_warnings

    try:
        config = load_config(config_file)
        if home == "aws":
            problems = deploy_problems(config, allow_private_upstreams=allow_private_upstreams)
            if problems:
                raise ConfigError(config_file, problems)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for warning in principal_warnings(config):
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{config_file}: valid ({len(config.providers)} providers, {len(config.routes)} routes, {len(config.apps)} apps)"
    )


@cli.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of mesh.yaml (for editors)."""
    click.echo(json_schema())


@cli.group()
def keys() -> None:
    """Manage local API keys (only their hashes are stored)."""


@keys.command("create")
@click.option("--app", "app_name", required=True)
@config_option
@data_option
def keys_create(app_name: str, config_file: str | None, data_dir: str) -> None:
    from llm_mesh.identity import new_key

    config, _ = _load(config_file)
    if app_name not in config.apps:
        click.echo(f"unknown app {app_name!r}; declared apps: {', '.join(config.apps) or '(none)'}", err=True)
        sys.exit(2)
    stores = _stores(data_dir)
    secret, record = new_key(app_name, stores.keys)
    click.echo(f"created {record.key_id} for app {app_name} (the key is shown only now):", err=True)
    click.echo(secret)


@keys.command("list")
@click.option("--app", "app_name", default=None)
@data_option
def keys_list(app_name: str | None, data_dir: str) -> None:
    rows = [
        (r.key_id, r.app, r.prefix + "…", _time(r.created_at), "revoked " + _time(r.revoked_at) if r.revoked_at else "active")
        for r in _stores(data_dir).keys.list_keys(app_name)
    ]
    _table(("KEY ID", "APP", "PREFIX", "CREATED", "STATUS"), rows)


@keys.command("revoke")
@click.argument("key_id")
@data_option
def keys_revoke(key_id: str, data_dir: str) -> None:
    import time

    if not _stores(data_dir).keys.revoke(key_id, time.time()):
        click.echo(f"no key {key_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked {key_id}")


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--app", "app_name", default=None)
@data_option
def requests(limit: int, app_name: str | None, data_dir: str) -> None:
    """Show the recent request log."""
    rows = [
        (
            _time(e.timestamp), e.request_id, e.app, e.route, f"{e.provider}/{e.model}", str(e.status),
            "stream" if e.stream else "", f"{e.latency_ms:.1f}", f"{e.overhead_ms:.2f}",
            f"{e.prompt_tokens}/{e.completion_tokens}", e.error_code or "",
        )
        for e in _stores(data_dir).request_log.recent(limit, app_name)
    ]
    _table(("TIME", "REQUEST", "APP", "ROUTE", "PROVIDER/MODEL", "STATUS", "MODE", "MS", "MESH MS", "TOKENS IN/OUT", "ERROR"), rows)


from llm_mesh.cli.governance import audit as _audit, policy as _policy; cli.add_command(_policy); cli.add_command(_audit)  # noqa: E402,E702


from llm_mesh.cli.kb import register as _register_kb  # noqa: E402  (kb, prompts, experiments)
_register_kb(cli)


from llm_mesh.cli.costs import costs as _costs; cli.add_command(_costs)  # noqa: E402,E702


from llm_mesh.cli.agents import agents as _agents; cli.add_command(_agents)  # noqa: E402,E702


from llm_mesh.cli.fleet import fleet as _fleet; cli.add_command(_fleet)  # noqa: E402,E702
from llm_mesh.cli.serve import serve as _serve; cli.add_command(_serve)  # noqa: E402,E702
from llm_mesh.cli.doctor import doctor as _doctor; cli.add_command(_doctor)  # noqa: E402,E702


if __name__ == "__main__":
    cli()
