"""``mesh fleet``: a traffic profile from the request log, and a GPU fleet plan from it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from llm_mesh.cli.progress import Progress, progress_option
from llm_mesh.cost.ledger import parse_time

DAY_S = 86_400


@click.group("fleet")
def fleet() -> None:
    """Plan self-hosted models onto shared GPUs from the traffic the mesh has seen."""


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(2)


def _window(since: str | None, until: str | None) -> tuple[float, float]:
    now = time.time()
    try:
        start, end = parse_time(since, now - DAY_S), parse_time(until, now, end_of_day=True)
    except ValueError as exc:
        _fail(f"--since/--until: {exc}")
    if end <= start:
        _fail("--until must be after --since")
    return start, end


def _profile_from_log(data_dir: str, since: str | None, until: str | None, limit: int,  # type: ignore[no-untyped-def]
                      progress: Progress | None = None):
    from llm_mesh.cli.costs import _open
    from llm_mesh.fleet.profile import build_profile, entries_in_window

    progress = progress or Progress(False)
    start, end = _window(since, until)
    stores = _open(data_dir, aws=False)
    try:
        progress.stage("fleet: reading the request log")
        entries = entries_in_window(stores.request_log, start, end, limit)
    finally:
        stores.close()
    progress.stage(f"fleet: profiling {len(entries)} requests")
    return build_profile(entries, end - start), start, end


@fleet.command("profile")
@click.option("--since", default=None, help="epoch seconds or ISO date/datetime (default: 24 hours ago)")
@click.option("--until", default=None, help="exclusive (default: now)")
@click.option("--limit", default=1_000_000, show_default=True, help="most request-log rows read")
@click.option("--data-dir", default=".mesh", show_default=True, help="the embedded store")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout (input to `mesh fleet plan --profile`)")
@progress_option
def profile(since: str | None, until: str | None, limit: int, data_dir: str, as_json: bool, show_progress: bool | None) -> None:
    """Per-route traffic from the request log: requests/s, tokens per request, peak concurrency."""
    from llm_mesh.fleet.profile import profile_json

    progress = Progress(show_progress)
    traffic, start, end = _profile_from_log(data_dir, since, until, limit, progress)
    progress.finish(f"fleet: {len(traffic)} route(s) profiled")
    if as_json:
        click.echo(json.dumps(profile_json(traffic, start, end), indent=2))
        return
    from llm_mesh.cli.common import _table

    _table(("ROUTE", "REQ/S", "TOKENS IN", "TOKENS OUT", "PEAK CONCURRENCY"), [
        (route, f"{t.requests_per_s:.4f}", f"{t.prompt_tokens:.0f}", f"{t.completion_tokens:.0f}", f"{t.peak_concurrency:.0f}")
        for route, t in traffic.items()])


@fleet.command("plan")
@click.option("--config", "config_file", default=None, help="mesh.yaml (default: ./mesh.yaml or $MESH_CONFIG)")
@click.option("--profile", "profile_file", default=None, type=click.Path(dir_okay=False), help="a `mesh fleet profile --json` file")
@click.option("--since", default=None, help="profile the request log from here instead of using fleet.traffic")
@click.option("--until", default=None)
@click.option("--data-dir", default=".mesh", show_default=True)
@click.option("--exact", is_flag=True, help="exhaustive solver (small fleets only)")
@click.option("--json", "as_json", is_flag=True)
@click.option("--deploy", "deploy_file", default=None, type=click.Path(dir_okay=False),
              help="also write the endpoints / inference components the plan needs (JSON)")
@progress_option
def plan(config_file, profile_file, since, until, data_dir, exact, as_json, deploy_file, show_progress) -> None:  # type: ignore[no-untyped-def]
    """Place model copies on GPU pools at least cost; print the reasons and the saving."""
    from llm_mesh.cli.common import _load
    from llm_mesh.fleet.catalogue import load_catalogue
    from llm_mesh.fleet.explain import plan_document, plan_text
    from llm_mesh.fleet.planner import PlanError, dedicated_baseline, plan_fleet

    config, _ = _load(config_file)
    if config.fleet is None or not config.fleet.models:
        _fail("this config has no fleet: models to plan")
    progress = Progress(show_progress)
    traffic = _traffic(profile_file, since, until, data_dir, progress)
    progress.stage(f"fleet: planning {len(config.fleet.models)} model(s) onto {len(config.fleet.pools)} pool(s)"
                   + (" (exhaustive)" if exact else ""))
    try:
        if exact:
            from llm_mesh.fleet.exact import plan_exact

            chosen = plan_exact(config.fleet, traffic)
        else:
            chosen = plan_fleet(config.fleet, traffic)
        baseline, detail = dedicated_baseline(config.fleet, traffic)
    except PlanError as exc:
        _fail(f"cannot plan: {exc}")
    progress.finish("fleet: plan ready")
    document = plan_document(chosen, baseline, detail, load_catalogue(config.fleet.catalogue).as_of)
    click.echo(json.dumps(document, indent=2) if as_json else plan_text(document))
    if deploy_file:
        from llm_mesh.fleet.deploy import deploy_document

        Path(deploy_file).write_text(json.dumps(deploy_document(chosen, config.fleet), indent=2), encoding="utf-8")


def _traffic(profile_file: str | None, since: str | None, until: str | None, data_dir: str,  # type: ignore[no-untyped-def]
             progress: Progress | None = None):
    from llm_mesh.fleet.profile import parse_profile

    if profile_file:
        try:
            return parse_profile(json.loads(Path(profile_file).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            _fail(f"--profile {profile_file}: {exc}")
    if since:
        return _profile_from_log(data_dir, since, until, 1_000_000, progress)[0]
    return None
